"""Pruning the sync history: a pass every minute and an attempt per delivery add rows forever.

Run daily by beat. Keeps ``SYNC_HISTORY_DAYS`` days of incremental passes (and always the
latest, which the settings page shows), of delivery attempts and of logged stream passes
(``StreamPass``); attempts of deliveries that
are not settled (waiting, sending or failed) are kept whatever their age, for Diagnostics.
Initial syncs are few and kept. Deletes in chunks so no statement holds locks for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from .models import Delivery, DeliveryAttempt, StreamPass, SyncRun

CHUNK = 10_000


@dataclass(frozen=True)
class PruneReport:
    sync_runs: int
    delivery_attempts: int
    stream_passes: int = 0


def sync_history_prune(now: datetime | None = None) -> PruneReport:
    cutoff = (now or timezone.now()) - timedelta(days=settings.SYNC_HISTORY_DAYS)
    latest = SyncRun.objects.filter(kind=SyncRun.Kind.INCREMENTAL).order_by("-id").first()
    passes = (SyncRun.objects.filter(kind=SyncRun.Kind.INCREMENTAL, finished_at__lt=cutoff)
              .exclude(pk=latest.pk if latest else None))
    attempts = DeliveryAttempt.objects.filter(
        started_at__lt=cutoff,
        delivery__status__in=[Delivery.Status.DELIVERED, Delivery.Status.SKIPPED])
    return PruneReport(sync_runs=_delete_in_chunks(passes),
                       delivery_attempts=_delete_in_chunks(attempts),
                       stream_passes=_delete_in_chunks(
                           StreamPass.objects.filter(finished_at__lt=cutoff)))


def _delete_in_chunks(rows: QuerySet) -> int:
    deleted = 0
    while chunk := list(rows.values_list("pk", flat=True)[:CHUNK]):
        deleted += rows.model.objects.filter(pk__in=chunk).delete()[0]
    return deleted
