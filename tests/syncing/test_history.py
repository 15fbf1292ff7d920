"""Pruning the sync history (syncing/history.py): old passes and settled deliveries' attempts
go; the latest pass, initial syncs and attempts of unsettled deliveries stay."""

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone
from factories import DeliveryFactory

from syncing import history
from syncing.history import sync_history_prune
from syncing.models import Delivery, DeliveryAttempt, SyncRun

pytestmark = pytest.mark.django_db

NOW = timezone.now()
OLD = NOW - timedelta(days=31)
RECENT = NOW - timedelta(days=29)


def a_pass(finished_at, kind=SyncRun.Kind.INCREMENTAL) -> SyncRun:
    return SyncRun.objects.create(kind=kind, status=SyncRun.Status.SUCCEEDED,
                                  started_at=finished_at, finished_at=finished_at)


def attempts_of(status: str, *moments) -> Delivery:
    delivery = DeliveryFactory(status=status)
    for moment in moments:
        DeliveryAttempt.objects.create(delivery=delivery, started_at=moment,
                                       outcome=DeliveryAttempt.Outcome.RETRY)
    return delivery


def test_old_passes_go_and_the_rest_stays(settings):
    settings.SYNC_HISTORY_DAYS = 30
    old_initial = a_pass(OLD - timedelta(days=300), kind=SyncRun.Kind.INITIAL)
    old_passes = [a_pass(OLD) for _ in range(3)]
    recent = a_pass(RECENT)

    report = sync_history_prune(NOW)

    assert report.sync_runs == 3
    assert set(SyncRun.objects.values_list("pk", flat=True)) == {old_initial.pk, recent.pk}
    assert not SyncRun.objects.filter(pk__in=[run.pk for run in old_passes]).exists()


def test_the_latest_pass_stays_however_old(settings):
    settings.SYNC_HISTORY_DAYS = 30
    a_pass(OLD - timedelta(days=1))
    latest = a_pass(OLD)

    sync_history_prune(NOW)

    assert list(SyncRun.objects.values_list("pk", flat=True)) == [latest.pk]


def test_only_settled_deliveries_lose_their_old_attempts(settings):
    settings.SYNC_HISTORY_DAYS = 30
    delivered = attempts_of(Delivery.Status.DELIVERED, OLD, RECENT)
    skipped = attempts_of(Delivery.Status.SKIPPED, OLD)
    failed = attempts_of(Delivery.Status.FAILED, OLD, OLD)
    pending = attempts_of(Delivery.Status.PENDING, OLD)

    report = sync_history_prune(NOW)

    assert report.delivery_attempts == 2
    remaining = dict(DeliveryAttempt.objects.order_by().values_list("delivery_id")
                     .annotate(n=Count("id")))
    assert remaining == {delivered.pk: 1, failed.pk: 2, pending.pk: 1}
    assert Delivery.objects.filter(pk=skipped.pk).exists()  # the delivery itself stays


def test_deletes_in_chunks(settings, monkeypatch):
    settings.SYNC_HISTORY_DAYS = 30
    monkeypatch.setattr(history, "CHUNK", 2)
    for _ in range(5):
        a_pass(OLD)
    a_pass(RECENT)

    assert sync_history_prune(NOW).sync_runs == 5
    assert SyncRun.objects.count() == 1
