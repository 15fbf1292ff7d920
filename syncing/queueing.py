"""Enqueueing Celery tasks by name, so the modules that enqueue work never import
``syncing/tasks.py`` (which imports them): the tasks module sits on top, and no import runs
back up to it."""

import logging

from celery import current_app

log = logging.getLogger(__name__)


def task_named(name: str):
    """The registered task ``name`` (``syncing.apps`` imports the tasks module at start-up)."""
    return current_app.tasks[name]


def backlog_helper_enqueue(name: str, **kwargs) -> None:
    """One more run of task ``name`` for an idle worker, while a backlog lasts (the caller
    enqueues one per full batch it claims). Not deduplicated: on Redis the message can land on
    the busy worker that enqueued it (its fetch was already waiting), and a deduplicated one
    would then keep the idle workers out until its key expired; a run that finds nothing left
    ends at once. Never raises: without a broker this worker goes on alone, and beat's next
    pass picks up whatever is left. ``kwargs``: the task's arguments."""
    try:
        task_named(name).apply_async(kwargs=kwargs or None, retry=False)
    except Exception:
        log.warning("could not enqueue a helper %s; this worker goes on alone", name,
                    exc_info=True)
