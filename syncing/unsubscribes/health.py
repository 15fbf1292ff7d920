"""Sync health of unsubscribes with Salesforce, both ways: opt-outs pushed at once, and the
periodic two-way pass."""

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

from .senders import KIND
from .sync import INTERVALS, PASS_LOG

NIGHTLY_SECONDS = 24 * 3600


@health_source("unsubscribes_out", label=gettext_lazy("Unsubscribes to Salesforce"), order=50)
def unsubscribes_out_health(ctx: HealthContext) -> StreamHealth:
    # Always on: suppression must reach Salesforce (SPEC section 7).
    return outbox_health(ctx, target=Delivery.Target.SALESFORCE, kinds=[KIND], enabled=True,
                         off_reason="")


@health_source(PASS_LOG, label=gettext_lazy("Unsubscribes from Salesforce"), order=51)
def unsubscribes_in_health(ctx: HealthContext) -> StreamHealth:
    schedule = ctx.settings.unsubscribe_sync_schedule
    interval = INTERVALS.get(schedule)
    return pass_log_health(
        ctx, PASS_LOG, stream=ctx.streams.get(SyncStream.Name.UNSUBSCRIBES),
        enabled=ctx.settings.unsubscribe_sync_enabled,
        off_reason=_('Switched off: "Periodic two-way unsubscribe sync" on Settings.'),
        blocked_reason="" if ctx.salesforce.is_configured else
        _("Salesforce is not connected (Settings)."),
        schedule_seconds=interval.total_seconds() if interval else NIGHTLY_SECONDS,
        system="salesforce", unit="records")
