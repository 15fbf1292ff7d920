"""Sync health values computed from seeded passes, deliveries and attempts: each stream's
status (ok / lagging / failing / paused with the reason), lag, throughput, errors, queue
depth and its 24 hourly buckets. A fixed ``now`` is passed in, so nothing hangs on the clock."""

from datetime import UTC, datetime, timedelta

import pytest
from factories import DeliveryFactory

from syncing.health.registry import OUTBOX_FAILING_SECONDS, Status, health_sources
from syncing.health.selectors import sync_health
from syncing.models import (
    Delivery,
    DeliveryAttempt,
    MarketoConnection,
    SalesforceConnection,
    StreamPass,
    SyncRun,
    SyncSettings,
    SyncStream,
)

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
SALESFORCE, MARKETO = Delivery.Target.SALESFORCE, Delivery.Target.MARKETO
Outcome = DeliveryAttempt.Outcome


def ago(**delta) -> datetime:
    return NOW - timedelta(**delta)


def stream_of(name: str, now: datetime = NOW):
    return next(stream for stream in sync_health(now).streams if stream.name == name)


@pytest.fixture
def connected(db):
    MarketoConnection(base_url="http://127.0.0.1:9", client_id="id", client_secret="s").save()
    SalesforceConnection(url="http://127.0.0.1:9", client_id="id", client_secret="s").save()


@pytest.fixture
def people_synced(connected):
    """An initial sync finished yesterday; the incremental stream caught up 30 s ago."""
    SyncRun.objects.create(kind=SyncRun.Kind.INITIAL, status=SyncRun.Status.SUCCEEDED,
                           started_at=ago(days=1, hours=2), finished_at=ago(days=1),
                           people_written=2000)
    return SyncStream.objects.create(name=SyncStream.Name.PEOPLE,
                                     status=SyncStream.Status.HEALTHY,
                                     last_success_at=ago(seconds=30), caught_up_to=ago(seconds=30),
                                     cursor={"lead_changes": "token"})


def incremental(finished: datetime, *, read: int = 10, ok: bool = True) -> SyncRun:
    return SyncRun.objects.create(
        kind=SyncRun.Kind.INCREMENTAL, leads_read=read,
        status=SyncRun.Status.SUCCEEDED if ok else SyncRun.Status.FAILED,
        started_at=finished - timedelta(seconds=5), finished_at=finished,
        error="" if ok else "606: Max rate limit '100' exceeded")


def test_every_room_registers_its_streams():
    names = [source.name for source in health_sources()]
    assert names == ["people_initial", "people_incremental", "salesforce_deliveries",
                     "marketo_deliveries", "calls_to_salesforce", "calls_to_marketo",
                     "reminder_tasks_out", "reminder_tasks_in", "unsubscribes_out",
                     "unsubscribes_in", "email_sending", "emails_to_salesforce",
                     "emails_to_marketo", "mailboxes", "campaign_steps",
                     "campaigns_to_marketo"]


def test_people_changes_ok_with_lag_throughput_and_hourly_buckets(people_synced):
    for minutes in (5, 20, 50, 70, 130):
        incremental(ago(minutes=minutes), read=7)

    health = stream_of("people_incremental")

    assert (health.status, health.reason) == (Status.OK, "")
    assert health.lag_seconds == 30
    assert health.throughput_last_hour == 21   # the three passes of the last 60 minutes
    assert health.last_success_at == ago(seconds=30)
    assert len(health.history) == 24
    assert health.history[-1].hour == datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert [bucket.throughput for bucket in health.history[-3:]] == [7, 14, 14]
    # At 11:00 the last success was 10:20 (130 minutes before 12:30).
    assert health.history[-3].lag_seconds == 40 * 60


def test_people_changes_lag_after_missing_two_schedules(people_synced):
    people_synced.caught_up_to = ago(minutes=4)  # schedule 60 s: lagging past 3 min
    people_synced.save()

    health = stream_of("people_incremental")

    assert health.status == Status.LAGGING
    assert health.reason == "4 min behind (a pass every 1 min)."


def test_people_changes_failing_when_passes_keep_failing(people_synced):
    people_synced.status = SyncStream.Status.FAILING
    people_synced.last_error = "606: Max rate limit '100' exceeded"
    people_synced.caught_up_to = ago(minutes=5)
    people_synced.save()
    incremental(ago(minutes=2), ok=False)
    incremental(ago(minutes=1), ok=False)

    health = stream_of("people_incremental")

    assert health.status == Status.FAILING
    assert "606: Max rate limit" in health.reason
    assert health.errors_last_hour == 2
    assert health.last_error == "606: Max rate limit '100' exceeded"
    assert health.history[-1].errors == 2


def test_one_failed_pass_is_lagging_not_failing(people_synced):
    people_synced.status = SyncStream.Status.FAILING
    people_synced.last_error = "connection refused"
    people_synced.save()

    health = stream_of("people_incremental")

    assert health.status == Status.LAGGING
    assert health.reason == "The last pass failed; the next one retries: connection refused"


def test_switched_off_is_paused_with_the_reason(people_synced):
    SyncSettings(people_sync_enabled=False).save()

    health = stream_of("people_incremental")

    assert (health.enabled, health.status) == (False, Status.PAUSED)
    assert health.reason == 'Switched off: "Sync people from Marketo" on Settings.'


def test_not_connected_is_paused(db):
    health = stream_of("people_initial")
    assert (health.status, health.reason) == (Status.PAUSED,
                                              "Marketo is not connected (Settings).")


def test_initial_sync_states(connected):
    assert stream_of("people_initial").status == Status.LAGGING  # never started
    run = SyncRun.objects.create(kind=SyncRun.Kind.INITIAL, status=SyncRun.Status.RUNNING,
                                 started_at=ago(hours=1), heartbeat_at=ago(seconds=10),
                                 leads_read=30_000, windows_total=10, windows_done=4)
    running = stream_of("people_initial")
    assert running.status == Status.OK
    assert running.throughput_last_hour == round(30_000 * 3600 / 3590)  # its average rate
    assert running.detail == "40% of its windows done, 30,000 leads read"

    run.heartbeat_at = ago(minutes=5)
    run.save()
    assert stream_of("people_initial").status == Status.LAGGING

    run.status, run.error, run.failures = SyncRun.Status.FAILED, "607: Daily quota reached", 2
    run.save()
    failed = stream_of("people_initial")
    assert failed.status == Status.FAILING
    assert "607: Daily quota reached" in failed.reason
    assert stream_of("people_incremental").reason == "Waits for the initial sync to finish."


def pass_logged(stream: str, finished: datetime, *, rows: int = 3, error: str = ""):
    return StreamPass.objects.create(stream=stream, started_at=finished - timedelta(seconds=2),
                                     finished_at=finished, ok=not error, rows=rows, error=error)


def test_reminder_tasks_in_from_the_pass_log(connected):
    SyncSettings(reminder_task_sync_enabled=True, reminder_task_sync_interval_seconds=300).save()
    SyncStream.objects.create(name=SyncStream.Name.REMINDER_TASKS,
                              status=SyncStream.Status.HEALTHY, last_success_at=ago(minutes=4))
    for minutes in (4, 9, 14, 64):
        pass_logged("reminder_tasks_in", ago(minutes=minutes), rows=5)
    pass_logged("reminder_tasks_in", ago(minutes=30), rows=0, error="UNABLE_TO_LOCK_ROW: locked")
    pass_logged("reminder_tasks_in", ago(days=2), rows=99)  # outside the window: carry only

    health = stream_of("reminder_tasks_in")

    assert (health.status, health.lag_seconds) == (Status.OK, 240)
    assert health.throughput_last_hour == 15
    assert health.errors_last_hour == 1
    assert health.schedule_seconds == 300
    assert sum(bucket.throughput for bucket in health.history) == 20
    # Before the first pass of the window, the lag counts from the pass two days ago.
    # Before the first pass of the window, the lag counts from the pass two days ago: at the
    # end of the first hour (14:00 yesterday) that was 25 h 30 min.
    assert health.history[0].hour == datetime(2026, 3, 9, 13, tzinfo=UTC)
    assert health.history[0].lag_seconds == 25.5 * 3600


def test_reminder_tasks_in_lagging_then_failing_by_its_own_schedule(connected):
    SyncSettings(reminder_task_sync_enabled=True, reminder_task_sync_interval_seconds=300).save()
    stream = SyncStream.objects.create(name=SyncStream.Name.REMINDER_TASKS,
                                       status=SyncStream.Status.HEALTHY,
                                       last_success_at=ago(minutes=12))
    assert stream_of("reminder_tasks_in").status == Status.LAGGING  # 2 x 5 min + 1 min

    stream.last_success_at = ago(minutes=32)  # 6 x 5 min + 1 min
    stream.save()
    assert stream_of("reminder_tasks_in").status == Status.FAILING

    stream.last_success_at = ago(minutes=12)
    stream.status, stream.last_error = SyncStream.Status.FAILING, "INVALID_SESSION_ID"
    stream.save()
    failing = stream_of("reminder_tasks_in")
    assert failing.status == Status.FAILING
    assert failing.reason.endswith(": INVALID_SESSION_ID")


def test_unsubscribes_in_nightly_schedule(connected):
    SyncSettings(unsubscribe_sync_enabled=True).save()
    SyncStream.objects.create(name=SyncStream.Name.UNSUBSCRIBES,
                              status=SyncStream.Status.HEALTHY, last_success_at=ago(hours=20))
    health = stream_of("unsubscribes_in")
    assert (health.status, health.schedule_seconds) == (Status.OK, 86400)


def delivery(target=SALESFORCE, kind="call", *, created: datetime, **fields) -> Delivery:
    row = DeliveryFactory(target=target, kind=kind, **fields)
    Delivery.objects.filter(pk=row.pk).update(created_at=created)
    row.created_at = created
    return row


def attempt(row: Delivery, started: datetime, outcome=Outcome.DELIVERED, **fields):
    return DeliveryAttempt.objects.create(delivery=row, started_at=started, outcome=outcome,
                                          **fields)


def test_outbox_throughput_queue_depth_and_lag(connected):
    for minutes in (10, 20, 30, 90):
        row = delivery(created=ago(minutes=minutes + 1), status=Delivery.Status.DELIVERED,
                       delivered_at=ago(minutes=minutes))
        attempt(row, ago(minutes=minutes))
    waiting = delivery(created=ago(minutes=3))
    retrying = delivery(created=ago(minutes=4), attempts=2)
    attempt(retrying, ago(minutes=2), Outcome.RETRY, error_code="UNABLE_TO_LOCK_ROW",
            error_message="unable to obtain exclusive access")
    delivery(created=ago(days=3), status=Delivery.Status.FAILED, attempts=20)
    delivery(target=MARKETO, created=ago(minutes=1))
    delivery(kind="reminder_task", created=ago(minutes=2))

    calls = stream_of("calls_to_salesforce")

    assert calls.queue.pending == 1 and calls.queue.retrying == 1 and calls.queue.failed == 1
    assert calls.lag_seconds == 4 * 60   # the oldest waiting: failed ones do not wait
    assert calls.throughput_last_hour == 3
    assert calls.errors_last_hour == 1
    assert calls.last_error == "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access"
    assert calls.last_success_at == ago(minutes=10)
    assert calls.status == Status.LAGGING  # a failed delivery waits for an admin's retry
    assert "1 failed delivery waits for a retry" in calls.reason
    assert calls.history[-1].throughput == 3 and calls.history[-2].throughput == 1
    assert calls.history[-2].lag_seconds == 60
    every = stream_of("salesforce_deliveries")
    assert (every.queue.pending, every.queue.retrying, every.queue.failed) == (2, 1, 1)
    assert stream_of("calls_to_marketo").queue.pending == 1
    assert stream_of("reminder_tasks_out").queue.pending == 1
    waiting.delete()


def test_outbox_ok_lagging_failing_paused(connected):
    row = delivery(created=ago(minutes=2))
    assert stream_of("calls_to_salesforce").status == Status.OK

    Delivery.objects.filter(pk=row.pk).update(created_at=ago(minutes=6))
    lagging = stream_of("calls_to_salesforce")
    assert (lagging.status, lagging.reason) == (Status.LAGGING,
                                                "A delivery has waited 6 min.")

    Delivery.objects.filter(pk=row.pk).update(
        created_at=ago(seconds=OUTBOX_FAILING_SECONDS + 60))
    assert stream_of("calls_to_salesforce").status == Status.FAILING

    # Attempts failing for the last hour with nothing delivered, even while young.
    Delivery.objects.filter(pk=row.pk).update(created_at=ago(minutes=2), attempts=3)
    attempt(row, ago(minutes=1), Outcome.RETRY, error_code="HTTP_503", error_message="down")
    failing = stream_of("calls_to_salesforce")
    assert failing.status == Status.FAILING
    assert failing.reason == "1 failed attempt and no delivery in the last hour: HTTP_503: down"

    SyncStream.objects.create(name=SyncStream.Name.SALESFORCE_DELIVERIES,
                              paused_until=NOW + timedelta(minutes=10),
                              last_error="REQUEST_LIMIT_EXCEEDED")
    paused = stream_of("calls_to_salesforce")
    assert paused.status == Status.PAUSED
    assert paused.reason.endswith("after an API limit: REQUEST_LIMIT_EXCEEDED")

    SyncSettings(log_calls_to_salesforce=False).save()
    assert stream_of("calls_to_salesforce").reason == (
        'Switched off: "Log calls to Salesforce" on Settings.')


def test_overall_status_is_the_worst(people_synced):
    assert sync_health(NOW).status == Status.OK
    delivery(created=ago(minutes=6))
    assert sync_health(NOW).status == Status.LAGGING
    delivery(created=ago(hours=2))
    health = sync_health(NOW)
    assert health.status == Status.FAILING
    assert {stream.name for stream in health.failing} == {"salesforce_deliveries",
                                                          "calls_to_salesforce"}
