"""The "Mailboxes" stream on Sync health: off without mailboxes, ok after passes, a paused
mailbox named with its reason (page, API, ``sync_health``)."""

from io import StringIO

import pytest
from django.core.management import call_command
from factories import MailboxFactory

from mailboxes.reading import mailbox_pass
from syncing.health.selectors import sync_health

pytestmark = pytest.mark.django_db(transaction=True)


def _stream():
    return next(s for s in sync_health().streams if s.name == "mailboxes")


def test_off_until_a_seller_connects_a_mailbox(db):
    stream = _stream()

    assert (stream.enabled, stream.status, stream.label) == (False, "paused", "Mailboxes")
    assert stream.reason == "No seller has connected a mailbox."


def test_ok_after_a_pass_with_each_mailbox_named(connected):
    mailbox_pass(connected.pk)

    stream = _stream()

    assert stream.status == "ok", stream.reason
    assert stream.last_success_at is not None
    assert stream.detail.startswith(f"{connected.user.username}: ok, last pass ")
    assert "0 messages matched" in stream.detail


def test_a_paused_mailbox_is_named_with_its_reason(connected, admin_client):
    mailbox_pass(connected.pk)
    MailboxFactory(state="paused", paused_reason="The IMAP login failed: Authentication failed.")

    stream = _stream()

    assert stream.status == "paused"
    assert "mailbox is paused: The IMAP login failed: Authentication failed." in stream.reason
    api = admin_client.get("/api/v1/sync/health/").json()
    [row] = [s for s in api["streams"] if s["name"] == "mailboxes"]
    assert row["status"] == "paused"
    page = admin_client.get("/settings/health/").content.decode()
    assert "Mailboxes" in page and "The IMAP login failed: Authentication failed." in page
    out = StringIO()
    call_command("sync_health", stdout=out)
    assert "\nmailboxes " in out.getvalue()


def test_a_failing_server_is_an_error_on_the_stream(connected, imap_server):
    connected.imap_port = 1  # nothing listens there
    connected.save()

    report = mailbox_pass(connected.pk)

    assert "could not be reached" in report.error and not report.paused
    stream = _stream()
    assert stream.status == "lagging"
    assert "could not be reached" in stream.reason and stream.errors_last_hour == 1
