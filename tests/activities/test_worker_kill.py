"""A Celery worker killed with SIGKILL in the middle of sending a batch to Salesforce loses
nothing and duplicates nothing: its claim expires, a second worker takes the batch over, finds
the Tasks Salesforce wrote after the first worker died, and sends only the rest."""

import signal
import time
from pathlib import Path

import pytest
from django.utils import timezone
from outbox_helpers import endpoint_calls, sandbox_records
from subprocess_env import celery_worker, worker_wait_for

from activities.services import call_log
from syncing.models import Delivery, DeliveryAttempt, SyncSettings
from syncing.tasks import deliveries_flush_task

pytestmark = pytest.mark.django_db(transaction=True)
SETTINGS = Path(__file__).resolve().parent / "worker_settings.py"
CALLS = 250  # a full batch of 200 in flight when the worker dies, and 50 more waiting


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
        seller, seed_people, salesforce_connected, private_queue):
    SyncSettings(log_activities_to_marketo=False).save()
    people = seed_people("lead", CALLS)
    # Salesforce takes 1.5 s over the first batch: the worker is killed while it waits, and
    # Salesforce writes the Tasks anyway.
    salesforce_connected.fault("latency", path="composite/sobjects", latency_ms=1500, count=1)
    sending = Delivery.objects.filter(target=Delivery.Target.SALESFORCE,
                                      status=Delivery.Status.IN_PROGRESS, outcome_unknown=True)
    delivered = Delivery.objects.filter(target=Delivery.Target.SALESFORCE,
                                        status=Delivery.Status.DELIVERED)
    for person in people:  # the first commit enqueues a flush
        call_log(logged_by=seller, person=person)
    first = celery_worker(private_queue, settings_file=SETTINGS)
    second = None
    try:
        worker_wait_for(lambda: sending.count() == 200, "the first batch to be sent", first)
        time.sleep(0.3)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        second = celery_worker(private_queue, settings_file=SETTINGS)
        claimed_until = Delivery.objects.filter(
            status=Delivery.Status.IN_PROGRESS).latest("claimed_until").claimed_until
        worker_wait_for(lambda: timezone.now() > claimed_until,
                        "the dead worker's claim to expire", second)
        deliveries_flush_task.delay(Delivery.Target.SALESFORCE)
        worker_wait_for(lambda: delivered.count() == CALLS, "every call to be delivered", second)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)

    tasks = sandbox_records(salesforce_connected)
    assert len(tasks) == CALLS
    assert sorted(task["WhoId"] for task in tasks) == sorted(p.sfdc_lead_id for p in people)
    assert set(delivered.values_list("remote_id", flat=True)) == {task["Id"] for task in tasks}
    # The batch in flight was found, not sent again; only the 50 waiting ones were sent.
    assert endpoint_calls(salesforce_connected, "composite/sobjects") == 2
    assert DeliveryAttempt.objects.filter(outcome=DeliveryAttempt.Outcome.RECONCILED).count() \
        == 200
