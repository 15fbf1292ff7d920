"""Sync health of reminder tasks with Salesforce, both ways."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from syncing.health.registry import (
    HealthContext,
    StreamHealth,
    health_source,
    outbox_health,
    pass_log_health,
)
from syncing.models import Delivery, SyncStream

from .outbound import KIND
from .sync import PASS_LOG

NOT_CONNECTED = gettext_lazy("Salesforce is not connected (Settings).")


@health_source("reminder_tasks_out", label=gettext_lazy("Reminder tasks to Salesforce"), order=40)
def reminder_tasks_out_health(ctx: HealthContext) -> StreamHealth:
    settings = ctx.settings
    return outbox_health(
        ctx, target=Delivery.Target.SALESFORCE, kinds=[KIND],
        enabled=settings.log_reminder_tasks_to_salesforce or settings.reminder_task_sync_enabled,
        off_reason=_('Switched off: "Log reminder tasks to Salesforce" and "Two-way reminder '
                     'task sync" on Settings.'))


@health_source(PASS_LOG, label=gettext_lazy("Reminder tasks from Salesforce"), order=41)
def reminder_tasks_in_health(ctx: HealthContext) -> StreamHealth:
    return pass_log_health(
        ctx, PASS_LOG, stream=ctx.streams.get(SyncStream.Name.REMINDER_TASKS),
        enabled=ctx.settings.reminder_task_sync_enabled,
        off_reason=_('Switched off: "Two-way reminder task sync" on Settings.'),
        blocked_reason="" if ctx.salesforce.is_configured else NOT_CONNECTED,
        schedule_seconds=ctx.settings.reminder_task_sync_interval_seconds,
        system="salesforce", unit="tasks")
