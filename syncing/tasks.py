"""Celery tasks: thin shells that look things up and call the sync services."""

import logging

from celery import shared_task
from django.utils import timezone

from .models import SyncRun
from .people_sync import (
    PeopleSyncError,
    initial_run_execute,
    initial_runs_to_resume,
    people_incremental_pass,
    people_stream,
)
from .selectors import sync_settings_get
from .transport import TransportError

log = logging.getLogger(__name__)


@shared_task
def sync_tick() -> None:
    """Run by beat every few seconds: start whatever sync is due (schedules live in the DB,
    so an admin's change of interval applies at once)."""
    now = timezone.now()
    sync_settings = sync_settings_get()
    if sync_settings.people_sync_enabled:
        stream = people_stream()
        interval = sync_settings.people_sync_interval_seconds
        idle = stream.lease_until is None or stream.lease_until < now
        due = (stream.last_attempt_at is None
               or (now - stream.last_attempt_at).total_seconds() >= interval)
        if idle and due:
            people_incremental_task.delay()
    for run in initial_runs_to_resume(now):
        people_initial_sync_task.delay(run.pk)


@shared_task
def people_incremental_task() -> None:
    try:
        people_incremental_pass()
    except (TransportError, PeopleSyncError) as error:
        log.warning("people sync pass failed: %s", error)


@shared_task
def people_initial_sync_task(run_id: int) -> None:
    run = SyncRun.objects.get(pk=run_id)
    try:
        initial_run_execute(run)
    except (TransportError, PeopleSyncError) as error:
        log.warning("initial people sync %s stopped, will resume: %s", run_id, error)
