"""A seller writes an email in a real browser (Chromium, headless, via Playwright): picks a
template, watches the live preview merge the fields, sends, sees it go from queued to sent,
and finds it on the local mail capture's page. The send runs in a background thread, as the
worker would run it."""

import os
import threading
import time

import pytest
from browser_helpers import PASSWORD, log_in
from django.db import connection
from factories import PersonFactory, UserFactory
from playwright.sync_api import expect

from emails import services
from emails.sending import emails_send_due
from emails.services import template_save

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def worker_thread(monkeypatch):
    """A send enqueued after commit runs a second later in a thread, like a busy worker."""
    threads = []

    def send_later(*args, **kwargs):
        def run():
            time.sleep(1)
            try:
                emails_send_due()
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)

    monkeypatch.setattr(services, "emails_send_soon", send_later)
    yield
    for thread in threads:
        thread.join(timeout=30)


def test_compose_preview_send_and_the_capture_page(browser, live_server, mailbox,
                                                   worker_thread):
    seller = UserFactory(username="ava", first_name="Ava", last_name="Stone",
                         email="ava@seller.example", password=PASSWORD)
    template_save(user=seller, name="Pricing follow-up", subject="Pricing for {{company}}",
                  body="Hi {{first_name|there}},\n\nprices: https://example.com/pricing")
    person = PersonFactory(first_name="Olivia", company="Acme", email="olivia@acme.example")
    page = browser.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    try:
        log_in(page, live_server.url, start=f"/people/{person.pk}/")

        # "Write an email" loads the composer; a template fills subject and body.
        page.get_by_text("Write an email", exact=True).click()
        page.select_option("#id_template", label="Pricing follow-up")
        expect(page.locator("#id_subject")).to_have_value("Pricing for {{company}}")
        preview = page.locator("#email-preview")
        expect(preview.locator(".preview-subject")).to_have_text("Pricing for Acme")
        expect(preview.locator(".preview-body")).to_contain_text("Hi Olivia,")
        expect(preview.locator('.preview-body a[href="https://example.com/pricing"]')) \
            .to_be_visible()

        # Typing updates the preview; an unknown field is named before anything is sent.
        page.fill("#id_subject", "Pricing for {{company}}, {{nickname}}")
        expect(preview.locator(".preview-error")).to_contain_text("{{nickname}}")
        page.fill("#id_subject", "Pricing for {{company}}, {{first_name}}")
        expect(preview.locator(".preview-subject")).to_have_text("Pricing for Acme, Olivia")

        page.click("text=Send email")
        expect(page.locator(".email-queued")).to_contain_text("olivia@acme.example")
        # The timeline lists it (and refreshes while it is on its way).
        item = page.locator('#timeline-entries [data-kind="email"] .email-item').first
        expect(item.locator(".email-subject")).to_have_text("Pricing for Acme, Olivia")
        # The timeline polls every 3 s while the email is on its way.
        expect(item.locator('.email-status[data-status="sent"]')).to_be_visible(timeout=15_000)
        item.locator("summary").click()
        expect(item.locator('.email-timeline li[data-kind="sent"]')).to_be_visible()

        # The Sent page lists it too.
        page.click("header >> text=Sent")
        expect(page.locator(".email-item .email-subject")).to_have_text(
            "Pricing for Acme, Olivia")

        # The local mail capture shows the message with its headers and both parts.
        page.goto(mailbox.url)
        page.click("text=Pricing for Acme, Olivia")
        headers = page.locator("table.headers")
        expect(headers).to_contain_text("Ava Stone <ava@seller.example>")
        expect(headers).to_contain_text("List-Unsubscribe-Post")
        expect(page.locator("pre.text")).to_contain_text("Hi Olivia,")
        expect(page.locator("pre.html")).to_contain_text("/e/c/")
    finally:
        page.close()
    assert len(mailbox.store.messages()) == 1
    assert not [e for e in errors if "Content Security Policy" in e]
