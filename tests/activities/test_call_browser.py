"""A seller logs a call in a real browser (Chromium, headless, via Playwright) and
watches it being delivered to Salesforce and Marketo: the history polls while a delivery is
pending. The outbox flush runs in a background thread, as a worker would run it."""

import os
import threading
import time

import pytest
from browser_helpers import PASSWORD, log_in
from django.db import connection
from factories import UserFactory
from outbox_helpers import marketo_call_activities, sandbox_records
from playwright.sync_api import expect

from activities.services import call_outcome_create
from syncing.outbox import flush, queue

# Playwright's sync API runs an event loop in this thread; the ORM calls around it are still
# plain synchronous calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def worker_thread(monkeypatch):
    """Flushes enqueued after commit run a second later in a thread, like a busy worker."""
    threads = []

    def flush_later(targets, **options):
        def run():
            time.sleep(1)
            try:
                for target in targets:
                    flush.deliveries_flush(target)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)

    monkeypatch.setattr(queue, "deliveries_flush_soon", flush_later)
    monkeypatch.setattr(flush, "deliveries_flush_soon", flush_later)
    yield
    for thread in threads:
        thread.join(timeout=30)


def test_a_seller_logs_a_call_and_sees_it_delivered(browser, live_server, both_connected,
                                                    seed_people, worker_thread):
    salesforce, marketo = both_connected
    UserFactory(username="ava", email="ava.stone@example.com", password=PASSWORD)
    call_outcome_create(name="Connected")
    person, = seed_people("contact_opportunity")
    page = browser.new_page()
    try:
        log_in(page, live_server.url, start=f"/people/{person.pk}/calls/")
        expect(page.locator("#id_phone_number")).to_have_value(person.phone)

        page.select_option("#id_outcome", "Connected")
        page.fill("#id_duration", "3:05")
        page.fill("#id_notes", "Interested in the annual plan")
        page.click("text=Log call")

        item = page.locator(".history-item").first
        expect(page.locator(".call-logged")).to_be_visible()
        expect(item).to_contain_text("Connected")
        expect(item.locator('[data-target="salesforce"][data-status="pending"]')).to_be_visible()
        # The history polls every 2 s until both deliveries are done.
        expect(item.locator('[data-target="salesforce"][data-status="delivered"]')).to_be_visible(
            timeout=15_000)
        expect(item.locator('[data-target="marketo"][data-status="delivered"]')).to_be_visible(
            timeout=15_000)
    finally:
        page.close()

    task, = sandbox_records(salesforce)
    assert (task["WhoId"], task["WhatId"], task["CallDurationInSeconds"]) == (
        person.sfdc_contact_id, person.sfdc_opportunity_id, 185)
    assert task["Description"] == "Interested in the annual plan"
    activity, = marketo_call_activities(marketo, person.marketo_id)
    assert activity["primaryAttributeValue"] == "Connected"
