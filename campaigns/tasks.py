"""Celery task: the campaign scheduler on beat (``campaign-steps`` in CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task

from .scheduler import campaign_steps_due, campaign_steps_run

log = logging.getLogger(__name__)


@shared_task
def campaign_steps_task(helper: bool = False) -> None:
    """Run every due campaign step; several workers at once take disjoint batches. A pass
    (beat's) brings in helpers for the backlog it finds; a ``helper`` brings in one more per
    full batch it claims (``campaign_steps_run``)."""
    if campaign_steps_due():
        report = campaign_steps_run(fan_out=not helper)
        if report.claimed:
            log.info("%s", report)
