"""A seller builds a campaign and adds a filtered people list in bulk, in a real browser
(headless Chromium via Playwright): create, add steps (each in its day's place), start it, then
filter the people list, preview the counts and add everyone matching."""

import os

import pytest
from browser_helpers import PASSWORD, log_in
from factories import PersonFactory, UnsubscribeFactory, UserFactory
from playwright.sync_api import expect

from campaigns.models import Campaign

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]


def test_build_a_campaign_and_add_people_in_bulk(browser, live_server):
    UserFactory(username="ava", email="ava.stone@example.com", password=PASSWORD)
    initech = PersonFactory.create_batch(55, company="Initech")
    PersonFactory.create_batch(3, company="Globex")
    UnsubscribeFactory(person=initech[0])
    page = browser.new_page()
    try:
        log_in(page, live_server.url, start="/campaigns/new/")
        page.fill("#id_name", "Initech outreach")
        page.click("text=Create campaign")
        expect(page.locator("h1")).to_have_text("Initech outreach")

        for kind, day, name in (("call", "0", "Intro call"), ("custom", "4", "Send a gift")):
            adding = page.locator("details:has(summary:text('Add a step'))")
            if adding.get_attribute("open") is None:  # open by itself while there are none
                page.click("summary:text('Add a step')")
            page.select_option("#id_type", kind)
            page.fill("#id_day_offset", day)
            page.fill("#id_name", name)
            page.click("button:text('Add step')")
            expect(page.locator(".campaign-steps")).to_contain_text(name)
        page.click("summary:text('Add a step')")
        page.select_option("#id_type", "email")
        page.fill("#id_day_offset", "2")
        page.fill("#id_subject", "Hello {{first_name}}")
        page.fill("#id_body", "A note from {{sender_name}}")
        page.click("button:text('Add step')")
        rows = page.locator(".campaign-steps tbody tr")
        expect(rows).to_have_count(3)
        # Day 2 goes in its day's place; the arrows do not move it across another day.
        expect(rows.nth(1)).to_contain_text("Hello {{first_name}}")
        expect(rows.nth(2)).to_contain_text("Send a gift")
        page.click("[aria-label='Move step 3 up']")
        expect(page.locator(".messages")).to_contain_text("Step 3 is on day 4 and step 2 on "
                                                          "day 2")
        page.click("button:text('Start campaign')")
        expect(page.locator("hgroup p")).to_contain_text("Active")

        page.goto(f"{live_server.url}/people/?owner=all")
        page.fill("#id_company", "Initech")
        page.click("button:text('Search')")
        expect(page.locator(".people-count")).to_contain_text("55")
        page.click("button:text('Add to a campaign')")
        page.select_option("#id_campaign", label="Initech outreach (active)")
        page.click("button:text('Preview')")
        expect(page.locator("#bulk-preview")).to_contain_text("55 people match")
        expect(page.locator("#will-add")).to_have_text("54")
        expect(page.locator("#bulk-preview")).to_contain_text("1 skipped: address unsubscribed")
        page.click("button:text('Add 54 people')")
        expect(page.locator(".messages")).to_contain_text("54 added to Initech outreach")
        expect(page.locator("#members-heading")).to_contain_text("54")
    finally:
        page.close()

    campaign = Campaign.objects.get()
    assert campaign.members.count() == 54
    assert [s.title for s in campaign.steps.all()] == ["Intro call", "Hello {{first_name}}",
                                                       "Send a gift"]
