"""Sending over real SMTP on loopback: one message per send with the right headers, retries
on 4xx, failure with the server's text on 5xx, the unsubscribe re-check before sending."""

import re

import pytest
from factories import PersonFactory, UserFactory

from emails.models import EmailEvent, SalesEmail
from emails.sending import emails_send_due
from emails.services import queue_email
from emails.tokens import read_click_token, read_email_token
from syncing.models import SyncSettings
from unsubscribes.services import unsubscribe_record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seller(db):
    return UserFactory(first_name="Ava", last_name="Stone", email="ava@seller.example")


def _queue(person, seller, **kwargs):
    values = {"subject": "Hello {{first_name}}",
              "body": "Hi {{first_name|there}},\n\nSee https://example.com/pricing?a=1&b=2.\n\n"
                      "{{sender_name}}"} | kwargs
    return queue_email(person=person, sender=seller, **values)


def test_one_message_with_the_right_headers(mailbox, seller, no_enqueue):
    person = PersonFactory(first_name="Olivia", email="olivia@customer.example")
    email = _queue(person, seller)
    assert email.status == SalesEmail.Status.QUEUED
    assert no_enqueue == ["emails"]

    report = emails_send_due()

    assert report.sent == 1
    [message] = mailbox.store.messages()
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.SENT and email.sent_at and email.handed_off_at
    assert message.rcpt_tos == ["olivia@customer.example"]
    assert message.header("Subject") == "Hello Olivia"
    assert message.header("From") == "Ava Stone <ava@seller.example>"
    assert message.header("Reply-To") == "Ava Stone <ava@seller.example>"
    assert message.header("Message-ID") == email.message_id
    unsubscribe = re.fullmatch(r"<(https://sales\.example\.com/e/u/([^/]+)/)>, "
                               r"<mailto:ava@seller\.example\?subject=unsubscribe>",
                               message.header("List-Unsubscribe"))
    assert unsubscribe, message.header("List-Unsubscribe")
    assert read_email_token(unsubscribe.group(2), "unsubscribe") == email.pk
    assert message.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert message.message.get_content_type() == "multipart/alternative"
    text, html = message.part("text/plain"), message.part("text/html")
    assert text.startswith("Hi Olivia,\n\nSee https://example.com/pricing?a=1&b=2.\n\nAva Stone")
    assert unsubscribe.group(1) in text
    # The link is click-tracked (the exact URL as written, without the full stop after it),
    # the text is escaped, and the open pixel is there.
    [href] = re.findall(r'<a href="https://sales\.example\.com/e/c/([^/]+)/">'
                        r"https://example\.com/pricing\?a=1&amp;b=2</a>\.", html)
    assert read_click_token(href) == (email.pk, "https://example.com/pricing?a=1&b=2")
    assert re.search(r'<img src="https://sales\.example\.com/e/o/[^"]+\.gif"', html)
    assert f'href="{unsubscribe.group(1)}"' in html
    assert [e.kind for e in email.events.all()] == ["queued", "sent"]
    # A second pass sends nothing again.
    assert emails_send_due().claimed == 0
    assert len(mailbox.store.messages()) == 1


def test_tracking_off_and_a_verified_from_address(mailbox, seller, no_enqueue):
    sync_settings = SyncSettings.load()
    sync_settings.email_from_address = "sales@verified.example"
    sync_settings.save()
    person = PersonFactory(first_name="<b>Bo</b>", email="bo@customer.example")
    _queue(person, seller, track=False, body="Hi {{first_name}}, see https://example.com/x")

    emails_send_due()

    [message] = mailbox.store.messages()
    assert message.header("From") == "Ava Stone <sales@verified.example>"
    assert message.header("Reply-To") == "Ava Stone <ava@seller.example>"
    html = message.part("text/html")
    assert "&lt;b&gt;Bo&lt;/b&gt;" in html and "<b>Bo" not in html
    assert '<a href="https://example.com/x">' in html and "/e/o/" not in html
    # The unsubscribe link and headers are there whatever tracking says.
    assert "/e/u/" in html and message.header("List-Unsubscribe-Post")


def test_open_and_click_switches(mailbox, seller, no_enqueue):
    sync_settings = SyncSettings.load()
    sync_settings.email_open_tracking = False
    sync_settings.save()
    _queue(PersonFactory(), seller, body="Go to https://example.com/a")
    emails_send_due()
    html = mailbox.store.messages()[0].part("text/html")
    assert "/e/o/" not in html and "/e/c/" in html


def test_transient_error_is_retried_with_backoff_then_sent(mailbox, seller, no_enqueue):
    from datetime import timedelta

    from django.utils import timezone

    email = _queue(PersonFactory(), seller)
    mailbox.store.fail_next(451, "4.3.0 Mailbox busy, try later")

    report = emails_send_due()

    assert report.retried == 1 and not mailbox.store.messages()
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.QUEUED
    assert email.error == "451 4.3.0 Mailbox busy, try later"
    assert email.attempts == 1 and email.handed_off_at is None
    assert email.next_attempt_at >= timezone.now() + timedelta(seconds=50)
    assert emails_send_due().claimed == 0  # not due yet

    report = emails_send_due(now=email.next_attempt_at + timedelta(seconds=1))

    assert report.sent == 1 and len(mailbox.store.messages()) == 1
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.SENT and email.attempts == 2 and not email.error


def test_permanent_error_fails_with_the_servers_text(mailbox, seller, no_enqueue):
    first = _queue(PersonFactory(), seller)
    second = _queue(PersonFactory(), seller)
    mailbox.store.fail_next(550, "5.1.1 No such user here")

    report = emails_send_due()

    assert (report.failed, report.sent) == (1, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == SalesEmail.Status.FAILED
    assert first.error == "550 5.1.1 No such user here"
    assert first.events.filter(kind=EmailEvent.Kind.FAILED).get().detail == first.error
    # The connection carried on with the next message.
    assert second.status == SalesEmail.Status.SENT
    assert [m.header("Message-ID") for m in mailbox.store.messages()] == [second.message_id]


def test_connection_refused_is_transient(mailbox, seller, no_enqueue, settings):
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = unused.getsockname()[1]  # bound, not listening: refused
        email = _queue(PersonFactory(), seller)
        report = emails_send_due()
    assert report.retried == 1
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.QUEUED
    assert "ConnectionRefusedError" in email.error


def test_unsubscribed_after_queueing_is_not_sent(mailbox, seller, no_enqueue):
    person = PersonFactory()
    email = _queue(person, seller)
    unsubscribe_record(person, "manual", push=False)

    report = emails_send_due()

    assert report.blocked == 1 and not mailbox.store.messages()
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.FAILED
    assert email.error == "Not sent: Unsubscribed in the app."


def test_gives_up_after_the_last_attempt(mailbox, seller, no_enqueue, settings):
    from datetime import timedelta

    settings.EMAIL_MAX_ATTEMPTS = 2
    email = _queue(PersonFactory(), seller)
    mailbox.store.fail_next(421, "4.4.2 Closing", times=2)
    emails_send_due()
    email.refresh_from_db()
    emails_send_due(now=email.next_attempt_at + timedelta(seconds=1))
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.FAILED
    assert email.error == "Gave up after 2 attempts: 421 4.4.2 Closing"


def test_through_anymail_the_providers_id_is_kept(seller, no_enqueue, settings):
    # anymail's own test backend: the ESP path (ANYMAIL_ESP) without a network.
    from django.core import mail

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    email = _queue(PersonFactory(), seller)

    assert emails_send_due().sent == 1

    [message] = mail.outbox
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.SENT
    assert email.provider_message_id == str(message.anymail_status.message_id)
    assert message.extra_headers["Message-ID"] == email.message_id


def test_beats_tick_enqueues_a_send_when_emails_are_due(seller, no_enqueue):
    from django.core.cache import cache

    from syncing.tasks import sync_tick

    _queue(PersonFactory(), seller)
    cache.clear()  # as if the enqueue at commit was lost (broker down)
    no_enqueue.clear()

    sync_tick()

    assert "emails" in no_enqueue


def test_the_email_sending_stream_keeps_the_last_error(mailbox, seller, no_enqueue):
    from syncing.models import SyncStream

    _queue(PersonFactory(), seller)
    mailbox.store.fail_next(451, "4.7.1 Greylisted")
    emails_send_due()
    stream = SyncStream.objects.get(name="email_sending")
    assert stream.status == "failing" and stream.last_error == "451 4.7.1 Greylisted"
    assert stream.last_attempt_at is not None
