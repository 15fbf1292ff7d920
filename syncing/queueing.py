"""Enqueueing Celery tasks by name, so the modules that enqueue work never import
``syncing/tasks.py`` (which imports them): the tasks module sits on top, and no import runs
back up to it."""

from celery import current_app


def task_named(name: str):
    """The registered task ``name`` (``syncing.apps`` imports the tasks module at start-up)."""
    return current_app.tasks[name]
