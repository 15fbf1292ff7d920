"""Sync health of logged calls on their way to Salesforce (Tasks) and Marketo (activities)."""

from __future__ import annotations

from syncing.health.registry import HealthContext, StreamHealth, health_source, outbox_health
from syncing.models import Delivery

from .senders import KIND


@health_source("calls_to_salesforce", label="Calls to Salesforce", order=30)
def calls_to_salesforce_health(ctx: HealthContext) -> StreamHealth:
    return outbox_health(ctx, target=Delivery.Target.SALESFORCE, kinds=[KIND],
                         enabled=ctx.settings.log_calls_to_salesforce,
                         off_reason='Switched off: "Log calls to Salesforce" on Settings.')


@health_source("calls_to_marketo", label="Calls to Marketo", order=31)
def calls_to_marketo_health(ctx: HealthContext) -> StreamHealth:
    return outbox_health(ctx, target=Delivery.Target.MARKETO, kinds=[KIND],
                         enabled=ctx.settings.log_activities_to_marketo,
                         off_reason='Switched off: "Log sales activities to Marketo" on '
                                    "Settings.")
