"""Every main page in a real browser at a phone's width (390 px) and a laptop's (1280 px): the
page never scrolls sideways, the navigation folds into a menu on the phone, and the people
search keeps its placeholder. With ``SCREENSHOT_DIR`` set, a full-page PNG of each page at each
width is saved there (to look at them as a user would)."""

import os
import re
from pathlib import Path

import pytest
from browser_helpers import signed_in
from django.urls import reverse
from factories import (
    AdminFactory,
    CallFactory,
    DeliveryFactory,
    PersonFactory,
    ReminderTaskFactory,
    SalesEmailFactory,
)
from playwright.sync_api import expect

from campaigns.services import campaign_create, members_add
from people.models import SavedView

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE, LAPTOP = 390, 1280
LONG = "Averyveryverylongcompanynamewithoutanyspacesatall Incorporated International"


@pytest.fixture
def workspace():
    """An admin who owns people with long names, and a task, a call, an email and a campaign
    with a member: every main page has something (and something wide) to show."""
    admin = AdminFactory(username="ada", email="ada.admin@example.com")
    people = [PersonFactory(owner_email=admin.email, owner_first_name="Ada",
                            owner_last_name="Admin", company=LONG if n % 2 else "Acme",
                            email=f"someone.with.a.long.address{n}@subsidiary.example.com",
                            phone="+1 415 555 0100") for n in range(12)]
    person = people[1]
    ReminderTaskFactory(person=person, assignee=admin, name="Call back about the "
                        "renewal-and-the-extended-support-contract-for-next-year")
    call = CallFactory(person=person, logged_by=admin)
    DeliveryFactory(record=call, status="failed", attempts=20,
                    last_error_code="STRING_TOO_LONG",
                    last_error_message="Description: data value too large: " + "x" * 300)
    SalesEmailFactory(person=person, sender=admin, subject="Following up on our call about "
                      "the renewal and the extended support contract")
    campaign = campaign_create(owner=admin, name="Spring outreach", status="active", steps=[
        {"type": "email", "day_offset": 0, "subject": "Hello {{first_name}}",
         "body": "Hi {{first_name}}, about {{company}}."},
        {"type": "call", "day_offset": 3, "name": "Call {{first_name}}"}])
    members_add(campaign, [person.pk, people[2].pk], by=admin)
    for name, query, shared in (("Acme, newest first", "owner=all&company=Acme&sort=-updated",
                                 False), ("Webinar leads of the whole team", "owner=all&source="
                                          "Webinar", True), ("Mine", "owner=mine", False)):
        SavedView.objects.create(owner=admin, name=name, query=query, shared=shared)
    return admin, person, campaign


def main_pages(person, campaign) -> dict[str, str]:
    return {
        "people": reverse("people:list"),
        "person": reverse("people:detail", args=[person.pk]),
        "tasks": reverse("reminders:queue"),
        "campaigns": reverse("campaigns:list"),
        "campaign": reverse("campaigns:detail", args=[campaign.pk]),
        "sent": reverse("emails:sent"),
        "settings": reverse("syncing:settings"),
        "sync-health": reverse("syncing:health"),
        "diagnostics": reverse("diagnostics"),
        "you": reverse("profile"),
        # The people list's bulk actions.
        "bulk-campaign": f"{reverse('campaigns:bulk-add')}?owner=all&campaign={campaign.pk}",
        "bulk-task": f"{reverse('reminders:bulk-add')}?owner=all&person={person.pk}",
    }


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def settle(page) -> None:
    """Wait until the page's lazily loaded panels have arrived."""
    page.wait_for_load_state("networkidle")
    expect(page.locator("[aria-busy=true]:visible")).to_have_count(0)


def shoot(page, name: str, width: int) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        height = page.evaluate("document.documentElement.scrollHeight")
        # In screen-sized parts, so a tall phone page stays readable.
        for part, top in enumerate(range(0, min(height, 4000), 1000)):
            page.screenshot(path=f"{folder}/{name}-{width}-{part}.png", full_page=True,
                            clip={"x": 0, "y": top, "width": width,
                                  "height": min(1000, height - top)})


@pytest.mark.parametrize("width", [PHONE, LAPTOP])
def test_every_main_page_fits_the_width(browser, live_server, workspace, width):
    admin, person, campaign = workspace
    context, page = signed_in(browser, live_server.url, admin, width=width, height=860)
    too_wide = {}
    for name, path in main_pages(person, campaign).items():
        page.goto(live_server.url + path)
        settle(page)
        shoot(page, name, width)
        if page_width(page) > width:
            too_wide[name] = page_width(page)
    context.close()
    assert too_wide == {}


def test_phone_navigation_folds_into_a_menu(browser, live_server, workspace):
    admin, _, _ = workspace
    context, page = signed_in(browser, live_server.url, admin, width=PHONE, height=860)
    page.goto(live_server.url + reverse("people:list"))

    tasks_link = page.locator(".app-header").get_by_role("link", name="Tasks")
    expect(tasks_link).to_be_hidden()
    page.locator(".nav-menu > summary").click()
    expect(tasks_link).to_be_visible()
    shoot(page, "menu-open", PHONE)
    tasks_link.click()
    expect(page).to_have_url(re.compile(r"/tasks/$"))

    page.goto(live_server.url + reverse("people:list"))
    search = page.locator("#id_search")
    expect(search).to_have_attribute("placeholder", "Name, email or company")
    # The placeholder is readable: the box spans most of the screen.
    assert search.bounding_box()["width"] > PHONE * 0.7
    context.close()


def test_laptop_navigation_is_inline_and_the_people_table_needs_no_scrolling(
        browser, live_server, workspace):
    admin, _, _ = workspace
    context, page = signed_in(browser, live_server.url, admin, width=LAPTOP, height=860)
    page.goto(live_server.url + reverse("people:list"))
    expect(page.locator(".nav-menu > summary")).to_be_hidden()
    for name in ("People", "Sent", "Tasks", "Campaigns", "Settings", "Diagnostics", "You"):
        expect(page.locator(".app-header").get_by_role("link", name=name)).to_be_visible()
    # Long addresses and company names break: every column shows without scrolling the box.
    box = page.locator(".people-bulk .table-scroll")
    assert box.evaluate("box => box.scrollWidth <= box.clientWidth")
    context.close()


def test_campaign_tables_are_cards_on_a_phone_and_tables_on_a_laptop(browser, live_server,
                                                                     workspace):
    admin, _, campaign = workspace
    pages = {"table.campaign-list": reverse("campaigns:list"),
             "table.campaign-members": reverse("campaigns:detail", args=[campaign.pk])}
    context, page = signed_in(browser, live_server.url, admin, width=PHONE, height=860)
    for table, path in pages.items():
        page.goto(live_server.url + path)
        cards = page.locator(table)
        expect(cards.locator("thead")).to_be_hidden()
        row = cards.locator("tbody tr").first
        # Its cells stack, each below the one before, and each says which column it is.
        tops = row.locator("td:visible").evaluate_all(
            "cells => cells.map(cell => cell.getBoundingClientRect().top)")
        assert len(tops) > 3 and tops == sorted(tops) and len(set(tops)) == len(tops)
        label = row.locator("td[data-label]").first
        assert label.evaluate("td => getComputedStyle(td, '::before').content") == (
            f'"{label.get_attribute("data-label")}: "')
        assert cards.evaluate("table => table.scrollWidth <= table.clientWidth")
    context.close()

    context, page = signed_in(browser, live_server.url, admin, width=LAPTOP, height=860)
    for table, path in pages.items():
        page.goto(live_server.url + path)
        expect(page.locator(f"{table} thead")).to_be_visible()
        cells = page.locator(f"{table} tbody tr").first.locator("td")
        assert len(set(cells.evaluate_all(
            "cells => cells.map(cell => Math.round(cell.getBoundingClientRect().top))"))) == 1
    context.close()
