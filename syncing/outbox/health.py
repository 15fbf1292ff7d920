"""Sync health of each outbox destination, every kind together (the kinds' own rooms
register a stream per kind; a kind without one still shows here)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from syncing.health.registry import HealthContext, StreamHealth, health_source, outbox_health
from syncing.models import Delivery


@health_source("salesforce_deliveries", label=gettext_lazy("Deliveries to Salesforce (every kind)"),
               order=20)
def salesforce_deliveries_health(ctx: HealthContext) -> StreamHealth:
    return outbox_health(ctx, target=Delivery.Target.SALESFORCE, kinds=None, enabled=True,
                         off_reason="")


@health_source("marketo_deliveries", label=gettext_lazy("Deliveries to Marketo (every kind)"),
               order=21)
def marketo_deliveries_health(ctx: HealthContext) -> StreamHealth:
    return outbox_health(ctx, target=Delivery.Target.MARKETO, kinds=None, enabled=True,
                         off_reason="")
