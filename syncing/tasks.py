"""Celery tasks: thin shells that look things up and call the sync services.

The one module the worker loads for ``syncing`` (task names stay ``syncing.tasks.*``); the
rooms below enqueue these by name (``syncing.queueing.task_named``) and never import it.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from emails.sending import emails_due, emails_send_soon
from emails.tracking_buffer import buffered, tracking_events_flush

from .clients.marketo import MarketoError
from .clients.transport import TransportError
from .history import sync_history_prune
from .mirror.incremental import people_incremental_due, people_incremental_pass
from .mirror.initial import initial_run_execute, initial_runs_to_resume
from .mirror.state import PeopleSyncError
from .models import SyncRun
from .outbox.flush import deliveries_flush, delivery_targets_due
from .outbox.marketo_activities import (
    marketo_activity_types_ensure,
    marketo_activity_types_register_soon,
)
from .outbox.queue import deliveries_flush_soon, deliveries_flush_started
from .reminders.sync import ReminderSyncError, reminder_tasks_sync_due, reminder_tasks_sync_pass
from .unsubscribes.sync import unsubscribe_sync_due, unsubscribe_sync_pass

log = logging.getLogger(__name__)


@shared_task
def sync_tick() -> None:
    """Run by beat every few seconds: start whatever sync is due (schedules live in the DB,
    so an admin's change of interval applies at once)."""
    now = timezone.now()
    if people_incremental_due(now):
        people_incremental_task.delay()
    for run in initial_runs_to_resume(now):
        people_initial_sync_task.delay(run.pk)
    if reminder_tasks_sync_due(now):
        reminder_tasks_sync_task.delay()
    if unsubscribe_sync_due(now):
        unsubscribe_sync_task.delay()
    # Deliveries whose flush was never enqueued (broker down at log time), retries that are
    # due, and claims a killed worker left behind.
    deliveries_flush_soon(delivery_targets_due(now), countdown=0)
    # Queued sales emails (and held ones due for another unsubscribe check).
    if emails_due(now):
        emails_send_soon(countdown=0)
    try:
        if buffered():  # opens and clicks waiting in Redis
            email_tracking_flush_task.delay()
    except Exception:  # Redis down: the hits wait there (new ones go to the database)
        log.warning("could not check the email tracking buffer", exc_info=True)


@shared_task
def email_tracking_flush_task() -> None:
    """Opens and clicks buffered in Redis by the pixel and the redirect, into the database
    (and their Marketo deliveries into the outbox)."""
    report = tracking_events_flush()
    if report.taken:
        log.info("%s", report)


# Beat's tick enqueues a pass every few seconds while one is due, so several may wait in the
# queue behind one worker; each pass task checks it is still due when it starts, and those
# queued behind a pass that has run since do nothing.


@shared_task
def people_incremental_task() -> None:
    if not people_incremental_due():
        return
    try:
        people_incremental_pass()
    except (TransportError, PeopleSyncError) as error:
        log.warning("people sync pass failed: %s", error)


@shared_task
def unsubscribe_sync_task() -> None:
    if not unsubscribe_sync_due():
        return
    try:
        unsubscribe_sync_pass()
    except TransportError as error:
        log.warning("unsubscribe sync pass failed: %s", error)


@shared_task
def people_initial_sync_task(run_id: int) -> None:
    run = SyncRun.objects.get(pk=run_id)
    try:
        initial_run_execute(run)
    except (TransportError, PeopleSyncError) as error:
        log.warning("initial people sync %s stopped, will resume: %s", run_id, error)


@shared_task
def reminder_tasks_sync_task() -> None:
    """One pass of Salesforce reminder Tasks into the app."""
    if not reminder_tasks_sync_due():
        return
    try:
        report = reminder_tasks_sync_pass()
    except (TransportError, ReminderSyncError) as error:
        log.warning("reminder task sync pass failed: %s", error)
    else:
        if report is not None and report.read:
            log.info("reminder task sync: %s", report)


@shared_task
def deliveries_flush_task(target: str, full_batches_only: bool = False) -> None:
    """Send due deliveries of one target (Salesforce or Marketo) until none is left."""
    deliveries_flush_started(target)
    report = deliveries_flush(target, full_batches_only=full_batches_only)
    if report.batches:
        log.info("outbox flush %s", report)


@shared_task
def marketo_activity_types_register_task() -> None:
    """Register the custom activity types (after Marketo is connected)."""
    try:
        marketo_activity_types_ensure(force=True)
    except MarketoError as error:
        log.warning("registering Marketo custom activity types failed: %s", error)


@shared_task
def sync_history_prune_task() -> None:
    log.info("sync history pruned: %s", sync_history_prune())


@worker_ready.connect
def _register_marketo_activity_types(**kwargs) -> None:
    # SPEC section 4: the types are checked (and registered if missing) on each start.
    marketo_activity_types_register_soon()
