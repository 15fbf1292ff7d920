"""Reads about the people sync, for the settings page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from people.models import Person
from syncing.models import SyncRun, SyncStream
from syncing.settings.selectors import sync_settings_get


@dataclass(frozen=True)
class PeopleSyncOverview:
    """What the settings page shows about the people stream."""

    enabled: bool
    status: str          # never_run / running / healthy / failing / paused
    status_label: str
    last_error: str
    last_success_at: datetime | None
    behind_seconds: float | None
    people_count: int
    initial_run: SyncRun | None     # the latest initial run
    recent_runs: list[SyncRun]

    @property
    def initial_active(self) -> bool:
        return self.initial_run is not None and self.initial_run.status in (
            SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


def people_sync_overview(recent: int = 10) -> PeopleSyncOverview:
    enabled = sync_settings_get().people_sync_enabled
    stream = SyncStream.objects.filter(name=SyncStream.Name.PEOPLE).first()
    initial = SyncRun.objects.filter(kind=SyncRun.Kind.INITIAL).order_by("-id").first()
    if initial and initial.status in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
        status = SyncStream.Status.RUNNING
    elif initial and initial.status == SyncRun.Status.FAILED:
        status = SyncStream.Status.FAILING
    elif not enabled:
        status = "paused"
    elif stream is None or (initial is None and stream.status == SyncStream.Status.NEVER_RUN):
        status = SyncStream.Status.NEVER_RUN
    else:
        status = stream.status
    labels = dict(SyncStream.Status.choices) | {"paused": _("Paused")}
    last_error = (initial.error if initial and initial.status == SyncRun.Status.FAILED
                  else stream.last_error if stream else "")
    caught_up_to = stream.caught_up_to if stream else None
    return PeopleSyncOverview(
        enabled=enabled, status=status, status_label=labels[status], last_error=last_error,
        last_success_at=stream.last_success_at if stream else None,
        behind_seconds=(timezone.now() - caught_up_to).total_seconds() if caught_up_to else None,
        people_count=Person.workspace.count(),
        initial_run=initial,
        recent_runs=list(SyncRun.objects.order_by("-id")[:recent]),
    )
