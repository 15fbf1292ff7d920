"""``manage.py sync`` reads every connected mailbox (before campaign steps and sending), and
beat's tick starts a pass for each mailbox whose interval (Settings) is up."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from factories import PersonFactory, SalesEmailFactory
from mail_builders import deliver, reply

from emails.models import SalesEmail
from mailboxes import tasks
from mailboxes.models import Mailbox
from syncing.models import SyncSettings

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_reads_every_connected_mailbox(connected):
    person = PersonFactory(email="olivia@customer.example")
    sent = SalesEmailFactory(person=person, sender=connected.user, to_email=person.email,
                             handed_off_at=timezone.now())
    deliver(connected.account, reply(sent))
    out = StringIO()

    call_command("sync", stdout=out)

    assert f"mailbox {connected.pk}: 1 read, 1 about our emails (1 replies" in out.getvalue()
    sent.refresh_from_db()
    assert sent.status == SalesEmail.Status.REPLIED


def test_beat_reads_a_mailbox_when_its_interval_is_up(connected, monkeypatch):
    started = []
    monkeypatch.setattr(tasks.mailbox_pass_task, "delay", started.append)
    settings = SyncSettings.load()
    settings.mailbox_pass_interval_seconds = 120
    settings.save()

    tasks.mailboxes_tick()
    assert started == [connected.pk]  # never read yet

    tasks.mailbox_pass_task(connected.pk)
    tasks.mailboxes_tick()
    assert started == [connected.pk]  # read just now: not due for 120 s

    Mailbox.objects.filter(pk=connected.pk).update(
        last_pass_at=timezone.now() - timezone.timedelta(seconds=121))
    tasks.mailboxes_tick()
    assert started == [connected.pk, connected.pk]
