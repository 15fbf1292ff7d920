"""Reading the seller's mailbox (a real Dovecot INBOX): a reply, an auto-reply, hard and soft
delivery reports, unrelated mail; read-only; once however often the pass runs; a login that
fails mid-way pauses the mailbox until the seller reconnects."""

from datetime import timedelta

import pytest
from django.utils import timezone
from factories import PersonFactory, SalesEmailFactory
from mail_builders import deliver, delivery_report, reply, unrelated

from emails.models import EmailEvent, SalesEmail
from emails.signals import email_status_changed
from mailboxes.models import Mailbox
from mailboxes.reading import mailbox_pass, mailbox_passes_run, mailboxes_due
from mailboxes.services import mailbox_connect
from syncing.models import Delivery
from unsubscribes.models import Unsubscribe

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(connected):
    """An email the seller sent (through the mailbox) to Olivia."""
    person = PersonFactory(first_name="Olivia", email="olivia@customer.example")
    return SalesEmailFactory(person=person, sender=connected.user, to_email=person.email,
                             subject="Shall we talk?", handed_off_at=timezone.now())


@pytest.fixture
def signals():
    received = []

    def listener(sender, email, status, **kwargs):
        received.append((email.pk, status))

    email_status_changed.connect(listener)
    yield received
    email_status_changed.disconnect(listener)


def _events(email, kind):
    return list(EmailEvent.objects.filter(email=email, kind=kind))


def _flags(account):
    client = account.client(readonly=True)
    try:
        return {uid: set(data[b"FLAGS"]) - {b"\\Recent"}
                for uid, data in client.fetch(client.search("ALL"), ["FLAGS"]).items()}
    finally:
        client.logout()


def test_a_reply_marks_the_email_replied_once_with_its_first_lines(
        connected, sent, signals, marketo_connected, client):
    deliver(connected.account, reply(sent))
    flags_before = _flags(connected.account)

    report = mailbox_pass(connected.pk)

    assert (report.read, report.replies, report.matched) == (1, 1, 1), report
    sent.refresh_from_db()
    assert sent.status == SalesEmail.Status.REPLIED
    [event] = _events(sent, EmailEvent.Kind.REPLIED)
    # The quoted email and the signature are cut.
    assert event.detail == "Call me Tuesday, that works better."
    assert event.source == EmailEvent.Source.MAILBOX
    assert Delivery.objects.filter(kind="email_reply").count() == 1  # "Sales Email Replied"
    assert signals == [(sent.pk, "replied")]  # campaigns end through it
    # The first lines on the email's timeline, on the person page and on Sent.
    client.force_login(connected.user)
    for page in (f"/people/{sent.person_id}/emails/", "/emails/sent/"):
        assert "Call me Tuesday, that works better." in client.get(page).content.decode()
    # Read-only: nothing marked seen, moved or deleted.
    assert _flags(connected.account) == flags_before == {1: set()}

    # However often the pass runs, and even read again from the start: once.
    assert mailbox_pass(connected.pk).read == 0
    Mailbox.objects.filter(pk=connected.pk).update(last_uid=0, last_pass_at=None)
    assert mailbox_pass(connected.pk).read == 1
    assert len(_events(sent, EmailEvent.Kind.REPLIED)) == 1
    assert Delivery.objects.filter(kind="email_reply").count() == 1
    assert signals == [(sent.pk, "replied")]
    connected.refresh_from_db()
    assert (connected.replies, connected.messages_matched) == (1, 1)


@pytest.mark.parametrize("header", [
    "Auto-Submitted: auto-replied\r\n", "X-Autoreply: yes\r\n", "X-Autorespond: on\r\n",
    "Precedence: auto_reply\r\n", "", ])
def test_an_auto_reply_is_shown_and_is_not_a_reply(connected, sent, signals, header):
    subject = None if header else "Automatic reply: Shall we talk?"
    deliver(connected.account, reply(sent, "I am out of the office until Monday.",
                                     extra_headers=header, subject=subject))

    report = mailbox_pass(connected.pk)

    assert (report.auto_replies, report.replies) == (1, 0)
    sent.refresh_from_db()
    assert sent.status == SalesEmail.Status.SENT
    [event] = _events(sent, EmailEvent.Kind.AUTO_REPLIED)
    assert event.get_kind_display() == "Auto-reply"
    assert signals == []


def test_a_hard_delivery_report_bounces_and_unsubscribes(connected, sent, signals):
    deliver(connected.account, delivery_report(sent))

    report = mailbox_pass(connected.pk)

    assert report.bounces == 1
    sent.refresh_from_db()
    assert sent.status == SalesEmail.Status.BOUNCED
    [event] = _events(sent, EmailEvent.Kind.BOUNCED)
    assert "5.1.1" in event.detail and "No such user" in event.detail
    unsubscribe = Unsubscribe.objects.get(person=sent.person)
    assert unsubscribe.source == Unsubscribe.Source.BOUNCE
    assert Delivery.objects.filter(kind="email_bounce").count() == 1  # "Sales Email Bounced"
    assert signals == [(sent.pk, "bounced")]


@pytest.mark.parametrize("status,action", [("4.2.2", "failed"), ("4.4.1", "delayed"),
                                           ("", "delayed")])
def test_a_soft_delivery_report_is_on_the_timeline_only(connected, sent, signals, status,
                                                        action):
    deliver(connected.account, delivery_report(sent, status=status, action=action,
                                               diagnostic="smtp; 452 Mailbox full"))

    report = mailbox_pass(connected.pk)

    assert (report.soft_bounces, report.bounces) == (1, 0)
    sent.refresh_from_db()
    assert sent.status == SalesEmail.Status.SENT
    assert len(_events(sent, EmailEvent.Kind.SOFT_BOUNCED)) == 1
    assert not Unsubscribe.objects.exists()
    assert not Delivery.objects.filter(kind__startswith="email_").exists()
    assert signals == []


def test_unrelated_mail_is_left_alone(connected, sent):
    other = SalesEmailFactory.build(message_id="<not-ours@elsewhere.example>",
                                    to_email="x@y.example", sender=connected.user,
                                    subject="Hi")
    deliver(connected.account, unrelated(), unrelated(in_reply_to="<abc@elsewhere.example>"),
            delivery_report(other))
    events_before = EmailEvent.objects.count()

    report = mailbox_pass(connected.pk)

    assert (report.read, report.matched) == (3, 0)
    assert EmailEvent.objects.count() == events_before
    # Headers for all three, a body only for the report (it might have been about ours).
    assert report.commands == 5  # login, EXAMINE, SEARCH, FETCH headers, FETCH one body


def test_a_first_connection_reads_the_last_seven_days(connected, sent):
    deliver(connected.account, reply(sent, "An old answer"),
            when=timezone.now() - timedelta(days=10))
    deliver(connected.account, reply(sent, "A new answer"))

    report = mailbox_pass(connected.pk)

    assert report.read == 1
    [event] = _events(sent, EmailEvent.Kind.REPLIED)
    assert event.detail == "A new answer"


def test_a_login_failing_mid_way_pauses_then_reconnecting_resumes(connected, sent):
    account = connected.account
    assert mailbox_pass(connected.pk).error == ""
    deliver(account, reply(sent))
    account.password_set("the-seller-changed-it")

    report = mailbox_pass(connected.pk)

    assert report.paused and "The IMAP login failed" in report.error
    connected.refresh_from_db()
    assert connected.state == Mailbox.State.PAUSED
    assert "AUTHENTICATIONFAILED" in connected.paused_reason
    # No retry storm: a paused mailbox is not read again.
    Mailbox.objects.filter(pk=connected.pk).update(last_pass_at=None)
    assert mailboxes_due() == [] and mailbox_pass(connected.pk) is None

    mailbox_connect(connected.user, **account.connect_body())

    assert [r.replies for r in mailbox_passes_run(every=True)] == [1]
    sent.refresh_from_db()
    assert sent.status == SalesEmail.Status.REPLIED
