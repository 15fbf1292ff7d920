"""Celery tasks for sales email: thin shells over ``emails.sending``. Enqueued by name
(``syncing.queueing.task_named``); beat's ``sync_tick`` enqueues a send when emails are due."""

import logging

from celery import shared_task

from .sending import emails_send_due

log = logging.getLogger(__name__)

SEND_TASK = "emails.tasks.emails_send_task"


@shared_task
def emails_send_task() -> None:
    """Send every due email, batch after batch, until none is left."""
    report = emails_send_due()
    if report.claimed:
        log.info("email sending: %s", report)
