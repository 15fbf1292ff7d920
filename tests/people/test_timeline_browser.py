"""The person page's timeline in a real browser (Chromium, headless, via Playwright): every kind
newest first, the filter by kind (Marketo's part loaded live as its own kind), an overdue task
marked, and the actions above it refreshing the timeline without a reload."""

import os
import re
from datetime import timedelta

import pytest
from browser_helpers import PASSWORD, log_in, shot
from django.utils import timezone
from factories import (
    CallFactory,
    PersonFactory,
    ReminderTaskFactory,
    SalesEmailFactory,
    UnsubscribeFactory,
    UserFactory,
)
from playwright.sync_api import expect

from emails.models import EmailEvent

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _utc(fast_passwords, settings):
    settings.TIME_ZONE = "UTC"


def test_the_timeline_filters_and_follows_the_actions(browser, live_server):
    seller = UserFactory(username="ava", first_name="Ava", last_name="Stone",
                         email="ava@seller.example", password=PASSWORD)
    person = PersonFactory(first_name="Olivia", last_name="Timeline", phone="+1 415-555-0142")
    now = timezone.now()
    CallFactory(person=person, logged_by=seller, called_at=now - timedelta(days=3),
                outcome="Left voicemail", notes="Asked her to call back.")
    email = SalesEmailFactory(person=person, sender=seller, subject="Pricing for Acme",
                              sent_at=now - timedelta(days=2))
    EmailEvent.objects.create(email=email, kind="opened", at=now - timedelta(days=1))
    ReminderTaskFactory(person=person, assignee=seller, name="Chase the contract",
                        due_date=timezone.localdate() - timedelta(days=2))
    UnsubscribeFactory(person=person, source="link")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    try:
        log_in(page, live_server.url, start=f"/people/{person.pk}/")

        entries = page.locator("#timeline-entries ol > li.timeline-entry")
        expect(entries).to_have_count(3)
        # Newest first: the unsubscribe (now), the email (2 days ago), the call (3 days ago).
        assert [entries.nth(i).get_attribute("data-kind") for i in range(3)] == [
            "unsubscribe", "email", "call"]
        overdue = page.locator(".timeline-open-tasks li.overdue")
        expect(overdue).to_contain_text("Chase the contract")
        expect(overdue).to_contain_text("Overdue")
        # Marketo's part loads live under the others (not connected here: it says so).
        expect(page.locator("#marketo-panel")).not_to_contain_text("Loading")
        shot(page, "person-timeline-1280")

        # One kind at a time, without a reload; the address follows.
        page.locator('.timeline-filter a[data-filter="call"]').click()
        expect(page).to_have_url(re.compile(r"\?kind=call$"))
        expect(entries).to_have_count(1)
        expect(entries.first).to_contain_text("Left voicemail")
        expect(page.locator("#marketo-panel")).to_have_count(0)
        page.locator('.timeline-filter a[data-filter="marketo"]').click()
        expect(page.locator("#timeline-entries")).to_have_count(0)
        expect(page.locator("#marketo-panel")).to_be_visible()
        page.locator('.timeline-filter a[data-filter="all"]').click()
        expect(entries).to_have_count(3)

        # An action above the timeline: log a call; the timeline shows it at once.
        page.get_by_text("Log a call", exact=True).click()
        form = page.get_by_role("form", name="Log a call")
        form.locator("textarea[name=notes]").fill("Booked a demo for Tuesday.")
        form.get_by_role("button", name="Log call").click()
        expect(page.locator(".call-logged")).to_be_visible()
        expect(entries).to_have_count(4)
        # (Its time is the form's "When", to the minute: it may sort just below the
        # unsubscribe recorded at the start of this test.)
        expect(entries.filter(has_text="Booked a demo for Tuesday.")).to_have_attribute(
            "data-kind", "call")

        # Complete the overdue task from the timeline.
        page.get_by_role("button", name="Complete Chase the contract").click()
        expect(page.locator(".messages")).to_contain_text("Completed “Chase the contract”")
        expect(page.locator(".timeline-open-tasks")).to_have_count(0)
        expect(page.locator('#timeline-entries li[data-kind="task"]')).to_contain_text(
            "Chase the contract")

        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        expect(entries).to_have_count(5)
        shot(page, "person-timeline-390")
    finally:
        page.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
