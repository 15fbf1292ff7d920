"""Sending queued sales emails (filled in after the skeleton)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.cache import cache

from syncing.queueing import task_named

log = logging.getLogger(__name__)

SEND_TASK = "emails.tasks.emails_send_task"
_SOON_KEY = "emails-send-soon"


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    held: int = 0
    blocked: int = 0

    def __str__(self) -> str:
        return (f"{self.sent} sent, {self.failed} failed, {self.retried} to retry, "
                f"{self.held} held, {self.blocked} blocked ({self.claimed} claimed)")


def emails_send_soon(countdown: float = 0.5) -> None:
    """Enqueue a send unless one is waiting to start. Never raises: with the broker down the
    emails stay queued and beat's tick (or ``manage.py sync``) sends them."""
    try:
        if not cache.add(_SOON_KEY, 1, timeout=60):
            return
    except Exception:
        log.warning("cache unavailable; enqueueing the email send anyway", exc_info=True)
    try:
        task_named(SEND_TASK).apply_async(countdown=countdown or None, retry=False)
    except Exception:
        log.warning("could not enqueue the email send; beat's tick will", exc_info=True)
        try:
            cache.delete(_SOON_KEY)
        except Exception:
            log.debug("cache unavailable", exc_info=True)


def emails_send_due() -> SendReport:
    try:
        cache.delete(_SOON_KEY)
    except Exception:
        log.debug("cache unavailable", exc_info=True)
    return SendReport()
