"""Reads about the reminder task sync, for the settings page: each direction's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max

from syncing.models import Delivery, SyncStream
from syncing.settings.selectors import sync_settings_get

from .outbound import KIND


@dataclass(frozen=True)
class ReminderSyncOverview:
    pushing: bool                 # app -> Salesforce ("Log ..." or "Two-way ...")
    importing: bool               # Salesforce -> app ("Two-way ...")
    interval_seconds: int
    # Salesforce -> app
    status: str
    last_run_at: datetime | None
    last_success_at: datetime | None
    high_water_mark: str
    last_error: str
    # app -> Salesforce
    pending: int
    failed: int
    delivered: int
    last_delivered_at: datetime | None
    last_failure: Delivery | None

    @property
    def status_label(self) -> str:
        """The import direction's status in the reader's language."""
        return SyncStream.Status(self.status).label


def reminder_sync_overview() -> ReminderSyncOverview:
    settings = sync_settings_get()
    stream = SyncStream.objects.filter(name=SyncStream.Name.REMINDER_TASKS).first()
    deliveries = Delivery.objects.filter(kind=KIND, target=Delivery.Target.SALESFORCE)
    counts = dict(deliveries.values_list("status").annotate(n=Count("pk")).order_by())
    pending = sum(counts.get(s, 0) for s in (Delivery.Status.PENDING,
                                              Delivery.Status.IN_PROGRESS))
    return ReminderSyncOverview(
        pushing=settings.log_reminder_tasks_to_salesforce or settings.reminder_task_sync_enabled,
        importing=settings.reminder_task_sync_enabled,
        interval_seconds=settings.reminder_task_sync_interval_seconds,
        status=stream.status if stream else SyncStream.Status.NEVER_RUN,
        last_run_at=stream.last_attempt_at if stream else None,
        last_success_at=stream.last_success_at if stream else None,
        high_water_mark=(stream.cursor.get("high_water_mark", "") if stream else ""),
        last_error=stream.last_error if stream else "",
        pending=pending, failed=counts.get(Delivery.Status.FAILED, 0),
        delivered=counts.get(Delivery.Status.DELIVERED, 0),
        last_delivered_at=deliveries.aggregate(last=Max("delivered_at"))["last"],
        last_failure=deliveries.filter(status=Delivery.Status.FAILED)
        .order_by("-last_attempt_at", "-pk").first(),
    )
