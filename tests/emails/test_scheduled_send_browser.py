"""A scheduled send in a real browser (Chromium, headless, via Playwright): the seller writes an
email on the person page with the merge-field menu, schedules it for tomorrow morning in their
time zone, sees it waiting on the timeline, and cancels it; the sending pass never sends it."""

import os
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from browser_helpers import PASSWORD, log_in, shot
from django.utils import timezone
from factories import PersonFactory, UserFactory
from playwright.sync_api import expect

from emails.models import SalesEmail
from emails.sending import emails_send_due

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]

TOKYO = ZoneInfo("Asia/Tokyo")


def test_schedule_an_email_see_it_wait_and_cancel_it(browser, live_server, mailbox,
                                                     no_enqueue):
    UserFactory(username="ava", first_name="Ava", last_name="Stone", email="ava@seller.example",
                password=PASSWORD, time_zone="Asia/Tokyo",
                signature="Ava Stone\nAcme Sales")
    person = PersonFactory(first_name="Olivia", company="Acme", email="olivia@acme.example")
    tomorrow = timezone.localdate(timezone.now(), TOKYO) + timedelta(days=1)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    try:
        log_in(page, live_server.url, start=f"/people/{person.pk}/")

        page.get_by_text("Write an email", exact=True).click()
        page.fill("#id_subject", "Next steps")
        body = page.locator("#id_body")
        body.fill("Hi , see you soon.")
        # Put the cursor after "Hi " and insert a merge field from the menu.
        body.evaluate("field => { field.focus(); field.setSelectionRange(3, 3); }")
        page.get_by_label("Insert merge field").select_option("{{first_name}}")
        expect(body).to_have_value("Hi {{first_name}}, see you soon.")
        preview = page.locator("#email-preview .preview-body")
        expect(preview).to_contain_text("Hi Olivia, see you soon.")
        expect(preview).to_contain_text("Acme Sales")  # the signature, after the body

        page.fill("#id_send_date", tomorrow.isoformat())
        page.fill("#id_send_time", "09:15")
        shot(page, "compose-scheduled-1280")
        page.get_by_role("button", name="Send email").click()
        expect(page.locator(".email-queued")).to_contain_text("scheduled for")
        expect(page.locator(".email-queued")).to_contain_text("09:15")

        email = SalesEmail.objects.get()
        assert email.send_at == datetime.combine(tomorrow, time(9, 15), tzinfo=TOKYO)
        assert email.body == "Hi Olivia, see you soon.\n\nAva Stone\nAcme Sales"
        # The timeline shows it waiting, with its time in the seller's zone.
        item = page.locator('#timeline-entries [data-kind="email"] .email-item').first
        item.locator("summary").click()
        expect(item.locator(".email-scheduled")).to_contain_text("09:15")
        shot(page, "person-scheduled-email-1280")
        assert emails_send_due().claimed == 0  # not before its time

        item.get_by_role("button", name="Cancel this email").click()
        expect(page.locator(".messages")).to_contain_text("Cancelled “Next steps”")
        expect(page.locator('#timeline-entries .email-status[data-status="cancelled"]')) \
            .to_be_visible()
    finally:
        page.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    email.refresh_from_db()
    assert email.status == "cancelled"
    assert emails_send_due(now=email.send_at + timedelta(minutes=1)).claimed == 0
    assert mailbox.store.messages() == []
