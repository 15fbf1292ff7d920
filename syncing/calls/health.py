"""Sync health of logged calls on their way to Salesforce (Tasks) and Marketo (activities)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from syncing.health.registry import HealthContext, StreamHealth, health_source, outbox_health
from syncing.models import Delivery

from .senders import KIND


@health_source("calls_to_salesforce", label=gettext_lazy("Calls to Salesforce"), order=30)
def calls_to_salesforce_health(ctx: HealthContext) -> StreamHealth:
    return outbox_health(ctx, target=Delivery.Target.SALESFORCE, kinds=[KIND],
                         enabled=ctx.settings.log_calls_to_salesforce,
                         off_reason=_('Switched off: "Log calls to Salesforce" on Settings.'))


@health_source("calls_to_marketo", label=gettext_lazy("Calls to Marketo"), order=31)
def calls_to_marketo_health(ctx: HealthContext) -> StreamHealth:
    return outbox_health(ctx, target=Delivery.Target.MARKETO, kinds=[KIND],
                         enabled=ctx.settings.log_activities_to_marketo,
                         off_reason=_('Switched off: "Log sales activities to Marketo" on '
                                      "Settings."))
