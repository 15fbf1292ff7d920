"""Sync health says failing as soon as a stream's last three passes failed, whatever its
schedule (issue 24, defect 12): a nightly unsubscribe sync whose passes keep failing is not
"lagging" for days, and ``manage.py sync_health`` exits 2 at once."""

import socket
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from syncing.health.registry import Status
from syncing.health.selectors import sync_health
from syncing.models import SalesforceConnection, SyncSettings, SyncStream
from syncing.unsubscribes.sync import unsubscribe_sync_pass

pytestmark = pytest.mark.django_db


def health_of(name: str):
    return next(stream for stream in sync_health().streams if stream.name == name)


def sync_health_exit_code() -> int:
    try:
        call_command("sync_health")
    except CommandError as error:
        return error.returncode
    return 0


@pytest.fixture
def unreachable_salesforce():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    SalesforceConnection(url=f"http://127.0.0.1:{port}", client_id="id",
                         client_secret="secret").save()


def test_three_failed_passes_in_a_row_are_failing_at_once(unreachable_salesforce, capsys):
    SyncSettings(unsubscribe_sync_enabled=True, unsubscribe_sync_schedule="nightly").save()
    SyncStream.objects.create(name=SyncStream.Name.UNSUBSCRIBES,
                              status=SyncStream.Status.HEALTHY,
                              last_success_at=timezone.now() - timedelta(hours=1))
    for failed in range(1, 4):
        with pytest.raises(Exception, match="Could not connect to Salesforce"):
            unsubscribe_sync_pass()
        health = health_of("unsubscribes_in")
        if failed < 3:
            assert health.status == Status.LAGGING, health.reason
            assert sync_health_exit_code() == 0
    assert health.status == Status.FAILING
    assert health.reason.startswith("The last 3 passes failed: CONNECTION_FAILED")
    assert sync_health_exit_code() == 2


def test_two_failed_passes_lag_and_the_third_fails(db):
    SalesforceConnection(url="http://127.0.0.1:9", client_id="id", client_secret="s").save()
    SyncSettings(reminder_task_sync_enabled=True, reminder_task_sync_interval_seconds=3600).save()
    SyncStream.objects.create(name=SyncStream.Name.REMINDER_TASKS,
                              status=SyncStream.Status.FAILING, last_error="INVALID_SESSION_ID",
                              consecutive_failures=2,
                              last_success_at=timezone.now() - timedelta(minutes=10))
    assert health_of("reminder_tasks_in").status == Status.LAGGING
    SyncStream.objects.filter(name=SyncStream.Name.REMINDER_TASKS).update(consecutive_failures=3)
    assert health_of("reminder_tasks_in").status == Status.FAILING


def test_campaign_steps_failing_after_three_failed_passes(db):
    from campaigns.scheduler import PASS_LOG
    from syncing.streams import stream_pass_record

    for number in range(1, 4):
        stream_pass_record(PASS_LOG, timezone.now(), rows=1,
                           error=f"1 steps failed; the last: OperationalError #{number}")
        if number < 3:
            assert health_of(PASS_LOG).status == Status.LAGGING
    health = health_of(PASS_LOG)
    assert health.status == Status.FAILING
    assert health.reason == ("The last 3 passes failed: 1 steps failed; the last: "
                             "OperationalError #3")
