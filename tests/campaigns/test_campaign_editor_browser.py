"""The campaign editor in a real browser (headless Chromium via Playwright): only the chosen
step type's fields show; a refused step comes back with what was typed and the error beside
the field; removing a person asks first (issue 24, defect 3 and the campaign editor)."""

import os

import pytest
from browser_helpers import PASSWORD, log_in, shot
from factories import PersonFactory, UserFactory
from playwright.sync_api import expect

from campaigns.models import CampaignMember
from campaigns.services import campaign_create, members_add

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]


def test_step_fields_errors_and_removal_in_the_browser(browser, live_server):
    ava = UserFactory(username="ava", email="ava.stone@example.com", password=PASSWORD)
    campaign = campaign_create(owner=ava, name="Initech outreach", steps=[
        {"type": "call", "day_offset": 0, "name": "Intro call"}])
    person = PersonFactory(first_name="Olivia", last_name="Reed")
    members_add(campaign, [person.pk], by=ava)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        log_in(page, live_server.url, start=f"/campaigns/{campaign.pk}/")

        page.click("summary:text('Add a step')")
        page.select_option("#id_type", "email")
        expect(page.locator("#id_subject")).to_be_visible()
        expect(page.locator("#id_name")).to_be_hidden()
        page.select_option("#id_type", "call")
        expect(page.locator("#id_subject")).to_be_hidden()
        expect(page.locator("#id_name")).to_be_visible()

        page.fill("#id_day_offset", "3")
        page.fill("#id_name", "Call {{nick}} back")
        page.fill("#id_details", "Typed with care")
        page.click("button:text('Add step')")
        errors = page.locator("form[aria-label='Add a step'] .errorlist")
        expect(errors).to_contain_text("Unknown merge field {{nick}}")
        expect(page.locator("#id_name")).to_have_value("Call {{nick}} back")
        expect(page.locator("#id_details")).to_have_value("Typed with care")
        expect(page.locator("#id_day_offset")).to_have_value("3")
        expect(page.locator("#id_subject")).to_be_hidden()
        shot(page, "campaign-error")

        page.fill("#id_name", "Call {{first_name}} back")
        page.click("button:text('Add step')")
        expect(page.locator(".campaign-steps tbody tr")).to_have_count(2)

        remove = page.locator("#members button:text('Remove')")
        page.once("dialog", lambda dialog: dialog.dismiss())
        remove.click()
        expect(page.locator("#members")).to_contain_text("Olivia Reed")
        assert CampaignMember.objects.get().status == "active"
        asked = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        remove.click()
        expect(page.locator(".messages")).to_contain_text("was removed from Initech outreach")
        assert asked == ["Remove Olivia Reed from Initech outreach? Their next steps will not "
                         "run."]
    finally:
        page.close()
    assert CampaignMember.objects.get().end_reason == "removed"
