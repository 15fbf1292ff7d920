"""What the settings page shows about unsubscribes and Salesforce: the periodic sync's state
and the pushes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count
from django.utils.translation import gettext as _

from syncing.models import Delivery, SyncStream
from syncing.settings.selectors import sync_settings_get

from .senders import KIND
from .sync import unsubscribe_stream


@dataclass(frozen=True)
class UnsubscribeSyncOverview:
    enabled: bool
    schedule_label: str
    status: str            # never_run / running / healthy / failing / paused
    status_label: str
    last_error: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    high_water: datetime | None     # later passes read Salesforce changes from about here
    full_pass_next: bool
    last_pass: dict = field(default_factory=dict)
    pushes_waiting: int = 0
    pushes_failed: int = 0
    pushes_without_salesforce_id: int = 0


def unsubscribe_sync_overview() -> UnsubscribeSyncOverview:
    settings = sync_settings_get()
    stream = unsubscribe_stream()
    status = stream.status if settings.unsubscribe_sync_enabled else "paused"
    labels = dict(SyncStream.Status.choices) | {"paused": _("Switched off")}
    cursor = stream.cursor or {}
    pushes = dict(Delivery.objects.filter(kind=KIND).values_list("status")
                  .annotate(n=Count("pk")).values_list("status", "n"))
    return UnsubscribeSyncOverview(
        enabled=settings.unsubscribe_sync_enabled,
        schedule_label=settings.get_unsubscribe_sync_schedule_display(),
        status=status, status_label=labels[status], last_error=stream.last_error,
        last_attempt_at=stream.last_attempt_at, last_success_at=stream.last_success_at,
        high_water=(datetime.fromisoformat(cursor["high_water"])
                    if cursor.get("high_water") else None),
        full_pass_next=not cursor.get("high_water"),
        last_pass=(stream.state or {}).get("last_pass") or {},
        pushes_waiting=pushes.get(Delivery.Status.PENDING, 0)
        + pushes.get(Delivery.Status.IN_PROGRESS, 0),
        pushes_failed=pushes.get(Delivery.Status.FAILED, 0),
        pushes_without_salesforce_id=Delivery.objects.filter(
            kind=KIND, status=Delivery.Status.FAILED, last_error_code="NO_SALESFORCE_ID").count(),
    )
