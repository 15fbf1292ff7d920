"""A Celery worker killed with SIGKILL in the middle of a batch of emails sends no message
twice: the emails it handed off without recording the answer are never sent again (failed,
outcome unknown), the ones it had claimed but not handed off are sent by the next worker."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.utils import timezone
from factories import PersonFactory, UserFactory
from subprocess_env import subprocess_env

from emails.models import SalesEmail
from emails.sending import HAND_OFF_GROUP, RECORD_EVERY, UNKNOWN_OUTCOME
from emails.services import queue_email
from emails.tasks import emails_send_task
from salesactions.celery import app as celery_app
from syncing.models import SyncSettings

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
EMAILS = 250  # a batch of 200 in flight when the worker dies, and 50 more waiting
PAUSE_AT = 60


def start_worker(queue: str, email_url: str) -> subprocess.Popen:
    env = subprocess_env(DJANGO_SETTINGS_MODULE="email_worker_settings", EMAIL_URL=email_url,
                         PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), str(ROOT)]))
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "salesactions", "worker", "-Q", queue,
         "--pool", "solo", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "--loglevel", "WARNING"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(condition, what: str, worker: subprocess.Popen, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def private_queue():
    queue = f"test-{uuid.uuid4().hex[:8]}"
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = "celery"


def test_a_worker_killed_mid_batch_sends_nothing_twice(mailbox, private_queue):
    SyncSettings(log_activities_to_marketo=False, log_emails_to_salesforce=False,
                 marketo_unsubscribe_check=False).save()
    seller = UserFactory()
    people = PersonFactory.create_batch(EMAILS)
    # The sink takes 60 messages, then keeps the 61st waiting: the worker is killed there.
    mailbox.store.pause_after(PAUSE_AT)
    for person in people:  # the first commit enqueues a send
        queue_email(person=person, sender=seller, subject="Hi {{first_name}}", body="Hello")
    first = start_worker(private_queue, mailbox.email_url)
    second = None
    try:
        wait_for(mailbox.store.paused.is_set, "the sink to hold a message", first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        mailbox.store.pause_after(None)

        second = start_worker(private_queue, mailbox.email_url)
        claimed_until = SalesEmail.objects.filter(status="sending").latest(
            "claimed_until").claimed_until
        wait_for(lambda: timezone.now() > claimed_until, "the dead worker's claim to expire",
                 second)
        emails_send_task.delay()
        wait_for(lambda: not SalesEmail.objects.filter(
            status__in=["queued", "sending"]).exists(), "every email to be settled", second)
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
