"""The task queue in a real browser (Debian's Chromium, headless, via Playwright): a seller adds
a task on the person page, then completes one, snoozes one and deletes one from the queue,
with the sections' counts and the navigation's count following along."""

import os
from datetime import date, timedelta

import pytest
from browser_helpers import PASSWORD, log_in
from factories import PersonFactory, ReminderTaskFactory, UserFactory
from playwright.sync_api import expect

from reminders.models import ReminderTask

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _utc(fast_passwords, settings):
    settings.TIME_ZONE = "UTC"


def count(page, key: str):
    return page.locator(f"#heading-{key} .count")


def test_create_complete_snooze_and_delete(browser, live_server):
    ava = UserFactory(username="ava", email="ava.stone@example.com", password=PASSWORD)
    person = PersonFactory(first_name="Olivia", last_name="Queue")
    today = date.today()
    overdue = ReminderTaskFactory(assignee=ava, person=person, name="Chase the contract",
                                  due_date=today - timedelta(days=2))
    page = browser.new_page()
    try:
        log_in(page, live_server.url, start="/tasks/")
        expect(count(page, "overdue")).to_have_text("1")
        expect(page.locator("#nav-tasks-due .badge")).to_contain_text("1")

        # Create, on the person page.
        page.goto(f"{live_server.url}/people/{person.pk}/")
        page.get_by_text("Add a task", exact=True).click()
        form = page.get_by_role("form", name="Add task")
        form.get_by_label("Name").fill("Call about the renewal")
        form.get_by_label("Type").select_option("call")
        form.get_by_label("Due date").fill(today.isoformat())
        form.get_by_role("button", name="Add task").click()
        expect(page.locator("#person-tasks .task-added")).to_contain_text("Call about the renewal")
        # The timeline refreshes itself: the new task heads it among the open tasks.
        expect(page.locator(".timeline-open-tasks")).to_contain_text("Call about the renewal")
        created = ReminderTask.objects.get(name="Call about the renewal")
        assert (created.assignee, created.person, created.due_date) == (ava, person, today)

        page.get_by_role("link", name="Tasks").first.click()
        expect(count(page, "today")).to_have_text("1")
        expect(page.locator("#nav-tasks-due .badge")).to_contain_text("2")

        # Complete with one click.
        page.get_by_role("button", name="Complete Call about the renewal").click()
        expect(count(page, "today")).to_have_text("0")
        expect(count(page, "completed")).to_have_text("1")
        expect(page.locator("#nav-tasks-due .badge")).to_contain_text("1")
        created.refresh_from_db()
        assert created.status == "complete"

        # Snooze the overdue one to next week.
        later = today + timedelta(days=7)
        snooze = page.get_by_role("form", name="Snooze Chase the contract")
        snooze.get_by_label("Snooze to").fill(later.isoformat())
        snooze.get_by_role("button", name="Snooze").click()
        expect(count(page, "overdue")).to_have_text("0")
        expect(count(page, "upcoming")).to_have_text("1")
        expect(page.locator("#nav-tasks-due .badge")).to_have_count(0)
        overdue.refresh_from_db()
        assert overdue.due_date == later

        # Delete, after confirming.
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator(f"#task-{overdue.pk}").get_by_role("button", name="Delete").click()
        expect(count(page, "upcoming")).to_have_text("0")
        assert not ReminderTask.live.filter(pk=overdue.pk).exists()
    finally:
        page.close()
