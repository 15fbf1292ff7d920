"""Sync streams: the explicit state of each synced stream (``SyncStream``), shared by every
room that syncs on a schedule (the people mirror today; reminder tasks and unsubscribes next).

``stream_claim`` is the one-pass-at-a-time lease: a conditional UPDATE on ``lease_until``,
so beat, any worker and ``manage.py sync`` can race for it safely; a lease that expires (a
killed worker) can be taken again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from .models import StreamPass, SyncStream


def stream_get(name: str) -> SyncStream:
    stream, _ = SyncStream.objects.get_or_create(name=name)
    return stream


def stream_claim(stream: SyncStream, lease: timedelta) -> bool:
    """Take the stream for one pass unless another holds an unexpired lease."""
    now = timezone.now()
    claimed = (SyncStream.objects.filter(pk=stream.pk)
               .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
               .update(lease_until=now + lease, status=SyncStream.Status.RUNNING,
                       last_attempt_at=now))
    stream.refresh_from_db()
    return bool(claimed)


# Beat's sync tick (``sync-tick`` in ``CELERY_BEAT_SCHEDULE``): how often due streams are
# looked for.
SYNC_TICK_SECONDS = 5.0


def stream_due(stream: SyncStream, interval_seconds: float, now: datetime | None = None) -> bool:
    """Idle (no lease in force) and ``interval_seconds`` since its last attempt, give or take
    half a tick. A pass stamps its attempt a moment after the tick that started it, so the tick
    one interval later comes that moment short: counted exactly, the pass waited for the tick
    after, and every 60 s interval ran at 65 s."""
    now = now or timezone.now()
    idle = stream.lease_until is None or stream.lease_until < now
    return idle and (stream.last_attempt_at is None
                     or (now - stream.last_attempt_at).total_seconds()
                     >= interval_seconds - SYNC_TICK_SECONDS / 2)


def stream_pass_record(stream: str, started_at: datetime, *, rows: int = 0,
                       error: str = "") -> StreamPass:
    """Log one pass of a periodic stream for Sync health (``rows`` read; ``error`` if it
    failed). ``stream`` is the name its health source reads back."""
    return StreamPass.objects.create(stream=stream, started_at=started_at,
                                     finished_at=timezone.now(), ok=not error, rows=rows,
                                     error=error[:2000])
