"""The people pages in a real browser: Chromium, headless, driven by Playwright against the live
test server and the Marketo sandbox. `make test` finds or installs the browser; without one these
tests fail rather than skip."""

import os
import re
from datetime import timedelta

import pytest
from browser_helpers import PASSWORD, log_in
from django.core.cache import cache
from django.utils import timezone
from factories import UserFactory
from playwright.sync_api import expect

from people import marketo_panel
from people.models import Person
from people.services import person_apply_leads
from sandbox import seed
from sandbox.marketo.activities import seed_history

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around
# it are still plain synchronous calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]

LEADS = 2000
AVA = "ava.stone@example.com"


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "people-browser"}}
    cache.clear()


@pytest.fixture
def workspace(marketo_connected, monkeypatch):
    """Ava, a seller, and the sandbox's seed people; the panel reads every seed activity."""
    person_apply_leads(seed.lead(i, 1, LEADS) for i in range(1, LEADS + 1))
    days = (timezone.now() - seed.SEED_START).days + 30
    monkeypatch.setattr(marketo_panel, "PANEL_WINDOWS", (timedelta(days=days),))
    return UserFactory(username="ava", email=AVA, password=PASSWORD)


def row_names(page) -> list[str]:
    return page.locator("table.people-table tbody tr td.col-name a").all_inner_texts()


def test_log_in_search_page_and_open_a_person(browser, live_server, workspace):
    busy = next(i for i in range(LEADS, 0, -1)
                if len(seed_history(seed.lead(i, 1, LEADS), 1)) >= 5
                and seed.lead(i, 1, LEADS)["leadOwnerEmailAddress"] == AVA
                and seed.lead(i, 1, LEADS)["email"])
    lead = seed.lead(busy, 1, LEADS)
    page = browser.new_page()

    log_in(page, live_server.url)
    first_page = row_names(page)
    assert len(first_page) == 50
    assert "people" in page.locator(".people-count").inner_text()

    page.get_by_role("link", name="Next ›").click()
    expect(page).to_have_url(re.compile(r"cursor="))
    expect(page.locator("table.people-table tbody tr").first).not_to_have_text(first_page[0])
    assert set(row_names(page)).isdisjoint(first_page[:1])
    page.get_by_role("link", name="‹ Previous").click()
    expect(page.locator("table.people-table tbody tr td.col-name a").first).to_have_text(
        first_page[0])

    page.fill("#id_search", "smith")
    expect(page).to_have_url(re.compile(r"search=smith"))
    expect(page.locator(".people-count")).to_contain_text("match your search")
    rows = page.locator("table.people-table tbody tr").all_inner_texts()
    assert rows and all("smith" in row.lower() for row in rows)

    page.fill("#id_search", lead["email"])
    expect(page.locator("table.people-table tbody tr")).to_have_count(1)
    page.locator("table.people-table tbody tr td.col-name a").click()
    person = Person.objects.get(marketo_id=busy)
    expect(page).to_have_url(re.compile(rf"/people/{person.pk}/$"))
    expect(page.locator("h1")).to_have_text(person.full_name)

    activities = page.locator("#marketo-panel .activity-list li")
    expect(activities).to_have_count(len(seed_history(lead, 1)))
    # No call, email, task or unsubscribe yet: the timeline says so above Marketo's part.
    expect(page.locator("#timeline")).to_contain_text("Nothing yet.")
    page.close()


def test_panel_reports_marketo_down_and_try_again_loads_it(browser, live_server, workspace,
                                                            marketo_connected):
    person = Person.objects.filter(owner_email=AVA).order_by("pk").first()
    marketo_connected.fault("http_503", path="activities.json")
    page = browser.new_page()
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/people/{person.pk}/")

    panel = page.locator("#marketo-panel")
    expect(panel).to_contain_text("Marketo is not available right now")
    expect(page.locator("h1")).to_have_text(person.full_name)
    page.get_by_role("button", name="Try again").click()
    expect(panel).to_contain_text("Live from Marketo")
    expect(panel).not_to_contain_text("not available")
    page.close()


def test_paging_and_filters_work_without_javascript(browser, live_server, workspace):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server.url)

    page.select_option("#id_owner", "all")
    page.fill("#id_company", "Globex")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"company=Globex"))
    assert set(page.locator("table.people-table tbody td.col-company").all_inner_texts()) == {
        "Globex"}

    page.get_by_role("link", name="Next ›").click()
    expect(page).to_have_url(re.compile(r"cursor="))
    assert len(row_names(page)) > 0
    page.get_by_role("link", name="Name").click()
    expect(page).to_have_url(re.compile(r"sort=-name"))
    names = page.locator("table.people-table tbody tr td.col-name a").all_inner_texts()
    assert len(names) == 50
    context.close()
