"""Celery tasks: thin shells around the mailbox passes (beat runs the tick)."""

import logging

from celery import shared_task

from .reading import mailbox_pass, mailboxes_due

log = logging.getLogger(__name__)


@shared_task
def mailboxes_tick() -> None:
    """Beat, every few seconds: a pass for each connected mailbox whose interval is up."""
    for mailbox_id in mailboxes_due():
        mailbox_pass_task.delay(mailbox_id)


@shared_task
def mailbox_pass_task(mailbox_id: int) -> None:
    report = mailbox_pass(mailbox_id)  # None: another worker holds it, or it is paused
    if report is not None and (report.matched or report.error):
        log.info("%s", report)
