"""Sync health: every registered stream's health in one read (the page, the API and
``manage.py sync_health`` all show this)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from syncing.budget import ApiBudget

from .registry import HealthContext, Status, StreamHealth, health_read, health_sources

log = logging.getLogger(__name__)

_WORST = (Status.FAILING, Status.LAGGING)


@dataclass(frozen=True)
class SyncHealth:
    generated_at: datetime
    status: str                 # failing if any stream fails, else lagging if any lags, else ok
    streams: list[StreamHealth]
    budget: ApiBudget
    hours: list[datetime]       # the starts of the 24 hourly buckets of every history

    @property
    def failing(self) -> list[StreamHealth]:
        return [stream for stream in self.streams if stream.status == Status.FAILING]


def sync_health(now: datetime | None = None) -> SyncHealth:
    """Each registered stream's health from the database and the budget counters: a bounded
    number of queries, no call to Marketo or Salesforce."""
    ctx = HealthContext(now)
    streams = []
    for source in health_sources():
        try:
            streams.append(health_read(source, ctx))
        except Exception as error:  # one broken source must not hide the others
            log.exception("health source %s failed", source.name)
            streams.append(StreamHealth(enabled=True, status=Status.FAILING,
                                        reason=_("Its health could not be read: %(error)s") % {
                                            "error": repr(error)},
                                        name=source.name, label=source.label))
    found = {stream.status for stream in streams}
    status = next((worst for worst in _WORST if worst in found), Status.OK)
    return SyncHealth(generated_at=ctx.now, status=status, streams=streams, budget=ctx.budget,
                      hours=ctx.hours)
