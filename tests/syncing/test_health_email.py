"""Sync health of sales email sending, from seeded emails and logged sending passes (a fixed
``now``): lag is the age of the oldest email due to go out; held emails wait for Marketo."""

from datetime import UTC, datetime, timedelta

import pytest
from factories import SalesEmailFactory

from emails.models import SalesEmail
from syncing.health.registry import Status
from syncing.health.selectors import sync_health
from syncing.models import StreamPass, SyncStream

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


def sending(now: datetime = NOW):
    return next(s for s in sync_health(now).streams if s.name == "email_sending")


def queued(age: timedelta, **fields) -> SalesEmail:
    email = SalesEmailFactory(status=SalesEmail.Status.QUEUED, sent_at=None, **fields)
    SalesEmail.objects.filter(pk=email.pk).update(created_at=NOW - age)
    return email


def test_sending_ok_with_throughput_from_the_pass_log():
    SyncStream.objects.create(name=SyncStream.Name.EMAIL_SENDING,
                              status=SyncStream.Status.HEALTHY,
                              last_success_at=NOW - timedelta(minutes=2))
    for minutes, rows in ((10, 120), (40, 80), (90, 500)):
        StreamPass.objects.create(stream="email_sending", rows=rows, ok=True,
                                  started_at=NOW - timedelta(minutes=minutes, seconds=5),
                                  finished_at=NOW - timedelta(minutes=minutes))
    queued(timedelta(seconds=20))
    health = sending()
    assert health.status == Status.OK, health.reason
    assert health.throughput_last_hour == 200
    assert health.queue.pending == 1 and health.lag_seconds == pytest.approx(20)
    assert sum(bucket.throughput for bucket in health.history) == 700


def test_an_old_due_email_is_lagging_then_failing():
    queued(timedelta(minutes=10))
    assert sending().status == Status.LAGGING
    assert "waited 10 min" in sending().reason
    queued(timedelta(hours=2), attempts=3)
    health = sending()
    assert health.status == Status.FAILING
    assert health.queue.retrying == 1 and health.queue.pending == 1


def test_an_email_waiting_for_its_retry_is_not_lag():
    queued(timedelta(hours=2), attempts=2, next_attempt_at=NOW + timedelta(minutes=5))
    health = sending()
    assert health.status == Status.OK and health.lag_seconds == 0
    assert health.queue.retrying == 1


def test_held_emails_lag_with_the_reason():
    email = SalesEmailFactory(status=SalesEmail.Status.HELD, sent_at=None,
                              hold_reason="Marketo did not answer")
    SalesEmail.objects.filter(pk=email.pk).update(created_at=NOW - timedelta(minutes=30))
    health = sending()
    assert health.status == Status.LAGGING
    assert "held" in health.reason and "Marketo" in health.reason
    assert health.queue.pending == 1


def test_a_failing_stream_with_waiting_mail_is_failing_with_the_error():
    SyncStream.objects.create(name=SyncStream.Name.EMAIL_SENDING,
                              status=SyncStream.Status.FAILING, last_attempt_at=NOW,
                              last_error="[Errno 111] Connection refused")
    queued(timedelta(minutes=6))
    health = sending()
    assert health.status == Status.FAILING
    assert "Connection refused" in health.reason
