"""Bulk actions and saved views on the people list, in a real browser (Chromium driven by
Playwright against the live test server)."""

import os
import re

import pytest
from browser_helpers import signed_in
from factories import PersonFactory, UserFactory
from playwright.sync_api import expect

from campaigns.models import CampaignMember
from campaigns.services import campaign_create
from people.models import SavedView

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ava():
    return UserFactory(username="ava", email="ava.stone@example.com")


def test_tick_two_rows_and_add_them_to_a_campaign(browser, live_server, ava):
    campaign = campaign_create(owner=ava, name="Initech outreach", status="active",
                               steps=[{"type": "call", "day_offset": 0, "name": "Intro"}])
    people = [PersonFactory(first_name=name, last_name="Initech", company="Initech",
                            owner_email=ava.email) for name in ("Ann", "Bea", "Cy", "Di")]
    PersonFactory(company="Globex", owner_email=ava.email)
    context, page = signed_in(browser, live_server.url, ava)

    page.goto(f"{live_server.url}/people/")
    page.fill("#id_search", "initech")
    expect(page.locator(".people-count")).to_contain_text("4 people match")
    page.get_by_label("Select Bea Initech").check()
    page.get_by_label("Select Di Initech").check()
    expect(page.locator("[data-selected-count]")).to_have_text("2 people selected:")
    page.get_by_role("button", name="Add to a campaign").click()

    expect(page.locator(".selection-summary")).to_contain_text("The 2 people you ticked")
    page.select_option("#id_campaign", label="Initech outreach (active)")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#will-add")).to_have_text("2")
    page.get_by_role("button", name="Add 2 people").click()
    expect(page.locator(".messages")).to_contain_text("2 added to Initech outreach")
    context.close()

    assert sorted(CampaignMember.objects.filter(campaign=campaign)
                  .values_list("person_id", flat=True)) == [people[1].pk, people[3].pk]


def test_select_every_row_then_all_matching_adds_a_task_for_each(browser, live_server, ava):
    PersonFactory.create_batch(55, company="Initech", owner_email=ava.email)
    context, page = signed_in(browser, live_server.url, ava, width=390)

    page.goto(f"{live_server.url}/people/?company=Initech")
    page.get_by_label("All 55 people matching").check()
    expect(page.locator("[data-selected-count]")).to_have_text("All matching selected:")
    expect(page.locator("input[name=person]:checked")).to_have_count(50)
    page.get_by_role("button", name="Add a task").click()

    expect(page.locator("h1")).to_have_text("Add a task for 55 people")
    page.fill("#id_name", "Invite to the webinar")
    page.get_by_role("button", name="Add 55 tasks").click()
    expect(page.locator(".messages")).to_contain_text("Added “Invite to the webinar” for 55 people")
    expect(page).to_have_url(re.compile(r"/people/\?owner=mine&company=Initech$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


def test_save_a_view_after_a_live_search_and_open_it_again(browser, live_server, ava):
    PersonFactory(first_name="Ann", last_name="Able", company="Initech", owner_email=ava.email)
    PersonFactory(first_name="Zed", last_name="Zulu", company="Initech", owner_email=ava.email)
    PersonFactory(first_name="Bob", last_name="Bell", company="Globex", owner_email=ava.email)
    context, page = signed_in(browser, live_server.url, ava)

    page.goto(f"{live_server.url}/people/")
    # A live search (htmx) changes the list without loading the page again.
    page.fill("#id_company", "Initech")
    page.select_option("#id_sort", "-name")
    expect(page).to_have_url(re.compile(r"sort=-name"))
    expect(page.locator("td.col-name")).to_have_text(["Zed Zulu", "Ann Able"])
    page.locator("summary", has_text="Save this view").click()
    page.fill("#id_view_name", "Initech, Z first")
    page.get_by_role("button", name="Save view").click()
    expect(page.locator(".messages")).to_contain_text("Saved the view “Initech, Z first”")

    assert SavedView.objects.get().query == "owner=mine&company=Initech&sort=-name"
    page.goto(f"{live_server.url}/people/")
    expect(page.locator("td.col-name")).to_have_count(3)
    page.get_by_role("link", name="Initech, Z first").click()
    expect(page.locator("td.col-name")).to_have_text(["Zed Zulu", "Ann Able"])
    expect(page.locator("#id_company")).to_have_value("Initech")
    expect(page.get_by_role("link", name="Initech, Z first")).to_have_attribute(
        "aria-current", "true")
    # Another search: the view is no longer the list shown.
    page.fill("#id_company", "Globex")
    page.press("#id_company", "Enter")
    expect(page.locator("td.col-name")).to_have_text(["Bob Bell"])
    expect(page.get_by_role("link", name="Initech, Z first")).not_to_have_attribute(
        "aria-current", "true")

    # Columns: drop the title, add the phone; remembered on the next visit.
    page.locator("summary", has_text="Columns").click()
    page.get_by_role("checkbox", name="Title").uncheck()
    page.get_by_role("checkbox", name="Phone").check()
    page.get_by_role("button", name="Show these columns").click()
    expect(page.locator("th.col-phone")).to_be_visible()
    page.goto(f"{live_server.url}/people/")
    expect(page.locator("th.col-title")).to_have_count(0)
    expect(page.locator("th.col-phone")).to_have_count(1)

    # Deleting asks first: dismissed, the view stays; accepted, it goes.
    delete = page.get_by_role("button", name="Delete the view Initech, Z first")
    page.once("dialog", lambda dialog: dialog.dismiss())
    delete.click()
    expect(page.get_by_role("link", name="Initech, Z first")).to_be_visible()
    assert SavedView.objects.exists()
    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    expect(page.locator(".messages")).to_contain_text("Deleted the view “Initech, Z first”")
    assert not SavedView.objects.exists()
    context.close()
