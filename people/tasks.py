"""Celery tasks for people: thin shells over ``people.selectors``. Enqueued by name
(``syncing.queueing.task_named``), registered at start-up by ``people.apps``."""

from celery import shared_task

from .selectors import person_count_in_background


@shared_task
def people_count_task(criteria: dict, version: str) -> None:
    """The exact count of a long people list, kept for the API's next request."""
    person_count_in_background(criteria, version)
