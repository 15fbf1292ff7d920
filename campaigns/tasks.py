"""Celery task: the campaign scheduler on beat (``campaign-steps`` in CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task

from .scheduler import campaign_steps_due, campaign_steps_run

log = logging.getLogger(__name__)


@shared_task
def campaign_steps_task() -> None:
    """Run every due campaign step; several workers at once take disjoint batches."""
    if campaign_steps_due():
        report = campaign_steps_run()
        if report.claimed:
            log.info("%s", report)
