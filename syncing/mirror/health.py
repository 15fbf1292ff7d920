"""Sync health of the people streams: the initial sync and the incremental passes."""

from __future__ import annotations

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from syncing.health.registry import (
    HealthContext,
    HourBucket,
    Status,
    StreamHealth,
    health_source,
    periodic_health,
)
from syncing.models import SyncRun, SyncStream

OFF = gettext_lazy('Switched off: "Sync people from Marketo" on Settings.')
NOT_CONNECTED = gettext_lazy("Marketo is not connected (Settings).")


@health_source("people_initial", label=gettext_lazy("People from Marketo: initial sync"), order=10)
def people_initial_health(ctx: HealthContext) -> StreamHealth:
    """The latest initial sync: running (ok, or lagging when its worker stopped), failed
    (failing: beat resumes it after a backoff), finished (ok); paused when switched off or
    not connected, lagging when it was never started. Its throughput is the run's average
    rate while it runs; it has no lag (the incremental stream takes over when it is done)."""
    enabled = ctx.settings.people_sync_enabled
    run = ctx.latest_initial_run
    rate = 0
    detail = ""
    if run is not None and run.status in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
        duration = run.duration_seconds
        if duration:
            rate = round(run.leads_read * 3600 / duration)
        progress = run.progress_percent
        leads = formats.number_format(run.leads_read, force_grouping=True)
        detail = (_("%(percent)s%% of its windows done, %(leads)s leads read") % {
                      "percent": progress, "leads": leads} if progress is not None
                  else _("%(leads)s leads read") % {"leads": leads})
    elif run is not None and run.status == SyncRun.Status.SUCCEEDED:
        detail = _("Finished: %(people)s people written") % {
            "people": formats.number_format(run.people_written, force_grouping=True)}
    if not enabled:
        status, reason = Status.PAUSED, OFF
    elif not ctx.marketo.is_configured:
        status, reason = Status.PAUSED, NOT_CONNECTED
    elif run is None:
        status, reason = Status.LAGGING, _("The initial sync has not been started (Settings).")
    elif run.status == SyncRun.Status.FAILED:
        status, reason = Status.FAILING, ngettext(
            "It failed (%(count)s time); it resumes by itself: %(error)s",
            "It failed (%(count)s times); it resumes by itself: %(error)s",
            run.failures) % {"count": run.failures, "error": run.error}
    elif run.status in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
        beat = run.heartbeat_at or run.started_at or run.created_at
        stale = (ctx.now - beat).total_seconds() > settings.SYNC_STALE_HEARTBEAT_SECONDS
        status, reason = ((Status.LAGGING, _("Its worker stopped answering; it resumes by "
                                             "itself.")) if stale else (Status.OK, ""))
    else:
        status, reason = Status.OK, ""
    return StreamHealth(
        enabled=enabled, status=status, reason=reason, system="marketo",
        last_success_at=run.finished_at if run and run.is_finished else None,
        throughput_last_hour=rate, unit="leads", errors_last_hour=0,
        last_error=run.error if run else "",
        last_error_at=(run.heartbeat_at or run.started_at) if run and run.error else None,
        history=tuple(HourBucket(hour, 0, 0, None) for hour in ctx.hours), detail=detail)


@health_source("people_incremental", label=gettext_lazy("People from Marketo: changes"), order=11)
def people_incremental_health(ctx: HealthContext) -> StreamHealth:
    """Lead changes and deletions every ``people_sync_interval_seconds``; lag is how far
    behind Marketo the mirror is (now minus the stream's ``caught_up_to``)."""
    stream = ctx.streams.get(SyncStream.Name.PEOPLE)
    initial = ctx.latest_initial_run
    blocked = ""
    if not ctx.marketo.is_configured:
        blocked = NOT_CONNECTED
    elif initial is None or not initial.is_finished:
        blocked = _("Waits for the initial sync to finish.")
    caught_up_to = stream.caught_up_to if stream else None
    return periodic_health(
        ctx, hours=ctx.incremental_hours, success_before=ctx.incremental_success_before,
        stream=stream, enabled=ctx.settings.people_sync_enabled, off_reason=OFF,
        blocked_reason=blocked, schedule_seconds=ctx.settings.people_sync_interval_seconds,
        system="marketo", unit="leads",
        lag_seconds=(max(0.0, (ctx.now - caught_up_to).total_seconds()) if caught_up_to
                     else None))
