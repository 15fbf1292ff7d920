"""Reads for the Diagnostics and settings pages: outbox health, failed deliveries, pauses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from syncing.models import Delivery, SyncStream

from .streams import STREAMS

Status = Delivery.Status
FAILED_PAGE = 100


@dataclass(frozen=True)
class TargetHealth:
    """The queue of one target: depth, rate, and whether it is paused."""

    target: str
    label: str
    pending: int
    in_progress: int
    failed: int
    delivered_last_hour: int
    oldest_pending_at: datetime | None
    paused_until: datetime | None
    pause_reason: str
    last_success_at: datetime | None
    state: dict

    @property
    def marketo_types_message(self) -> str:
        return (self.state.get("activity_types") or {}).get("message", "")

    @property
    def marketo_types_registered(self) -> int:
        return len((self.state.get("activity_types") or {}).get("type_ids", {}))


def delivery_health(now: datetime | None = None) -> list[TargetHealth]:
    """Queue depth and delivery rate per target (counts over the open statuses only)."""
    now = now or timezone.now()
    open_counts = {(row["target"], row["status"]): row for row in (
        Delivery.objects.filter(status__in=[Status.PENDING, Status.IN_PROGRESS, Status.FAILED])
        .values("target", "status").annotate(n=Count("id"), oldest=Min("created_at")))}
    streams = {stream.name: stream for stream in SyncStream.objects.filter(
        name__in=list(STREAMS.values()))}
    health = []
    for target, label in Delivery.Target.choices:
        stream = streams.get(STREAMS[target])
        paused = stream.paused_until if stream and stream.paused_until and \
            stream.paused_until > now else None
        pending = open_counts.get((target, Status.PENDING), {})
        health.append(TargetHealth(
            target=target, label=label, pending=pending.get("n", 0),
            in_progress=open_counts.get((target, Status.IN_PROGRESS), {}).get("n", 0),
            failed=open_counts.get((target, Status.FAILED), {}).get("n", 0),
            delivered_last_hour=Delivery.objects.filter(
                target=target, delivered_at__gte=now - timedelta(hours=1)).count(),
            oldest_pending_at=pending.get("oldest"),
            paused_until=paused, pause_reason=stream.last_error if paused else "",
            last_success_at=stream.last_success_at if stream else None,
            state=stream.state if stream else {}))
    return health


def failed_deliveries(*, target: str = "", code: str = "") -> QuerySet:
    """Failed deliveries, most recently tried first, with their activity and person."""
    deliveries = (Delivery.objects.filter(status=Status.FAILED)
                  .prefetch_related("record")
                  .order_by("-last_attempt_at", "-id"))
    if target:
        deliveries = deliveries.filter(target=target)
    if code:
        deliveries = deliveries.filter(last_error_code=code)
    return deliveries


def failed_error_kinds() -> list[dict]:
    """``{"target", "last_error_code", "n"}`` per kind of failure, biggest first."""
    return list(Delivery.objects.filter(status=Status.FAILED)
                .values("target", "last_error_code").annotate(n=Count("id"))
                .order_by("-n", "target", "last_error_code"))
