"""The campaigns' clock: ``now()`` is ``django.utils.timezone.now()`` unless a test set it.

Tests move time with ``clock.frozen(moment)`` / ``clock.advance(delta)`` instead of sleeping;
the scheduler, adding, pausing and the review queue all read the time here.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from django.utils import timezone

_fixed: datetime | None = None


def now() -> datetime:
    return _fixed if _fixed is not None else timezone.now()


def set_now(moment: datetime | None) -> None:
    global _fixed
    _fixed = moment


def advance(delta: timedelta) -> datetime:
    set_now(now() + delta)
    return now()


@contextlib.contextmanager
def frozen(moment: datetime):
    previous = _fixed
    set_now(moment)
    try:
        yield
    finally:
        set_now(previous)
