"""A Celery worker killed with SIGKILL in the middle of a batch of emails sends no message
twice: the emails it handed off without recording the answer are never sent again (failed,
outcome unknown), the ones it had claimed but not handed off are sent by the next worker."""

import signal
from collections import Counter
from pathlib import Path

import pytest
from django.utils import timezone
from factories import PersonFactory, UserFactory
from subprocess_env import celery_worker, worker_wait_for

from emails.models import SalesEmail
from emails.sending import HAND_OFF_GROUP, RECORD_EVERY, UNKNOWN_OUTCOME
from emails.services import queue_email
from emails.tasks import emails_send_task
from syncing.models import SyncSettings

pytestmark = pytest.mark.django_db(transaction=True)
SETTINGS = Path(__file__).resolve().parent / "email_worker_settings.py"
EMAILS = 250  # a batch of 200 in flight when the worker dies, and 50 more waiting
PAUSE_AT = 60


def test_a_worker_killed_mid_batch_sends_nothing_twice(mailbox, private_queue):
    SyncSettings(log_activities_to_marketo=False, log_emails_to_salesforce=False,
                 marketo_unsubscribe_check=False).save()
    seller = UserFactory()
    people = PersonFactory.create_batch(EMAILS)
    # The sink takes 60 messages, then keeps the 61st waiting: the worker is killed there.
    mailbox.store.pause_after(PAUSE_AT)
    for person in people:  # the first commit enqueues a send
        queue_email(person=person, sender=seller, subject="Hi {{first_name}}", body="Hello")
    first = celery_worker(private_queue, settings_file=SETTINGS, EMAIL_URL=mailbox.email_url)
    second = None
    try:
        worker_wait_for(mailbox.store.paused.is_set, "the sink to hold a message", first,
                        seconds=90)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        mailbox.store.pause_after(None)

        second = celery_worker(private_queue, settings_file=SETTINGS, EMAIL_URL=mailbox.email_url)
        claimed_until = SalesEmail.objects.filter(status="sending").latest(
            "claimed_until").claimed_until
        worker_wait_for(lambda: timezone.now() > claimed_until,
                        "the dead worker's claim to expire", second, seconds=90)
        emails_send_task.delay()
        worker_wait_for(lambda: not SalesEmail.objects.filter(
            status__in=["queued", "sending"]).exists(), "every email to be settled", second,
            seconds=90)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)

    received = Counter(m.header("Message-ID") for m in mailbox.store.messages())
    assert received and max(received.values()) == 1  # nothing twice
    sent = set(SalesEmail.objects.filter(status="sent").values_list("message_id", flat=True))
    unknown = set(SalesEmail.objects.filter(status="failed", error=UNKNOWN_OUTCOME)
                  .values_list("message_id", flat=True))
    assert len(sent) + len(unknown) == EMAILS
    # Every email recorded as sent arrived; the unknown ones are at most what the dead worker
    # handed off since it last recorded (and the one it was sending), and were not resent.
    assert sent <= set(received)
    assert 1 <= len(unknown) <= RECORD_EVERY + HAND_OFF_GROUP
    assert set(received) - sent <= unknown
