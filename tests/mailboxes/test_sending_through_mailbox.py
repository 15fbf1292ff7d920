"""Sending through the seller's own mailbox: signed in as the seller on their SMTP server, a
copy in their Sent folder, everyone else through EMAIL_URL; a refused login pauses that
seller's sending until they reconnect; a crash between the hand-off and the Sent copy sends
nothing twice and files one copy."""

import pytest
from factories import PersonFactory, UserFactory

from emails.models import SalesEmail
from emails.sending import emails_due, emails_send_due
from emails.services import queue_email
from mailboxes.models import Mailbox, SentCopy
from mailboxes.outgoing import sent_copies_append
from mailboxes.services import mailbox_connect

pytestmark = pytest.mark.django_db(transaction=True)


def _queue(seller, address="olivia@customer.example"):
    person = PersonFactory(first_name="Olivia", email=address)
    return queue_email(person=person, sender=seller, subject="Hello {{first_name}}",
                       body="Hi {{first_name}}, shall we talk?")


def _sent_folder(account) -> list[bytes]:
    client = account.client("Sent", readonly=True)
    try:
        uids = client.search("ALL")
        return [data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]
                for data in client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).values()]
    finally:
        client.logout()


def test_mail_leaves_through_the_sellers_mailbox_with_a_sent_copy(connected, mailbox):
    account = connected.account
    email = _queue(connected.user)
    other = _queue(UserFactory(), "bo@customer.example")

    report = emails_send_due()

    assert report.sent == 2
    [through_mailbox] = account.received()
    assert through_mailbox.header("Message-ID") == email.message_id
    assert through_mailbox.header("From") == f"Ava Stone <{account.address}>"
    assert through_mailbox.rcpt_tos == ["olivia@customer.example"]
    # The seller without a mailbox: EMAIL_URL (the capture), as before.
    [through_email_url] = mailbox.store.messages()
    assert through_email_url.header("Message-ID") == other.message_id
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.SENT
    [copy] = _sent_folder(account)
    assert email.message_id.encode() in copy
    assert not SentCopy.objects.exists()


def test_a_refused_login_pauses_the_sellers_sending_until_they_reconnect(connected, mailbox):
    account = connected.account
    account.password_set("changed-by-the-seller")
    email = _queue(connected.user)

    report = emails_send_due()

    assert report.sent == 0 and account.received() == []
    connected.refresh_from_db()
    assert connected.state == Mailbox.State.PAUSED
    assert connected.paused_reason == ("The SMTP login failed: 535 5.7.8 Authentication "
                                       "credentials invalid")
    email.refresh_from_db()
    assert (email.status, email.attempts) == (SalesEmail.Status.QUEUED, 0)
    assert "Waiting for the mailbox" in email.error
    # No retry storm: nothing of that seller is due while the mailbox is paused.
    assert not emails_due()
    assert emails_send_due().claimed == 0

    mailbox_connect(connected.user, **account.connect_body())

    assert emails_send_due().sent == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == (SalesEmail.Status.SENT, 1)
    assert len(account.received()) == 1


def test_a_crash_between_hand_off_and_sent_copy_sends_once_and_files_one_copy(
        connected, mailbox, monkeypatch):
    account = connected.account
    email = _queue(connected.user)

    class WorkerKilled(BaseException):
        pass

    def killed(mailbox):
        raise WorkerKilled

    # The worker dies right after the sent outcome (and the copy to file) is committed.
    monkeypatch.setattr("emails.sending.sent_copies_append", killed)
    with pytest.raises(WorkerKilled):
        emails_send_due()
    monkeypatch.undo()

    email.refresh_from_db()
    assert email.status == SalesEmail.Status.SENT
    assert SentCopy.objects.filter(email=email).exists()
    assert _sent_folder(account) == []
    # The next pass sends nothing again, and the copy is filed once.
    assert emails_send_due().claimed == 0
    assert sent_copies_append(connected) == 1
    assert len(_sent_folder(account)) == 1
    # A worker that died after the APPEND, before forgetting the row: not filed twice.
    SentCopy.objects.create(email=email, mailbox=connected, raw=b"Message-ID: "
                            + email.message_id.encode() + b"\r\n\r\nagain\r\n")
    assert sent_copies_append(connected) == 1
    assert len(_sent_folder(account)) == 1
    assert len(account.received()) == 1
