"""The buffer between the open pixel / click redirect and the database.

A hit on ``/e/o/`` or ``/e/c/`` must answer in a few milliseconds at any load, so it does not
write the database itself when Redis is there: it appends one short JSON line to a Redis list
(``RPUSH``, one round trip on loopback) and answers. ``tracking_events_flush`` (beat's
``sync_tick`` every 5 s, ``manage.py sync``) takes the list's head in batches, applies each
batch with ``emails.events.events_apply`` (one transaction: events, statuses, Marketo
deliveries) and only then trims what it applied.

Durability: a hit is answered after Redis has the line, so a web process that dies after
answering loses nothing; Redis keeps the list in memory and on disk as configured (RDB/AOF) —
durable enough for open/click counts, which is the decision recorded in README. A flush that
dies after committing and before trimming leaves the batch in the list; the next flush finds
those events already stored (same email, kind and microsecond ``at``) and skips them, so a
retry never counts twice. One flush runs at a time (a Redis lock with an expiry).

Without Redis (``EMAIL_TRACKING_REDIS_URL`` and ``REDIS_URL`` unset: the embedded single-machine
default) a hit writes its event straight to the database instead.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from .events import hits_apply
from .tracking_hits import Hit

log = logging.getLogger(__name__)

#: Events applied per transaction.
BATCH = 500
#: A flush holds the lock this long at most (renewed per batch).
LOCK_SECONDS = 120
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) else return 0 end")
# Trim the applied head and renew the lock, only while the lock is still this flush's: a
# flush that outlived its lock must not trim what another flush took meanwhile.
_TRIM = ("if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end "
         "redis.call('ltrim', KEYS[2], tonumber(ARGV[2]), -1) "
         "redis.call('expire', KEYS[1], tonumber(ARGV[3])) return 1")


def redis_url() -> str | None:
    return getattr(settings, "EMAIL_TRACKING_REDIS_URL", None) or None


_local = threading.local()


def _redis():
    """This process's client (created after gunicorn forks: never shared across processes)."""
    url = redis_url()
    client = getattr(_local, "client", None)
    if client is None or _local.pid != os.getpid() or _local.url != url:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        _local.client, _local.pid, _local.url = client, os.getpid(), url
    return client


def buffer_key() -> str:
    # Per database, as the outbox's flush key: test runs and benchmarks share one Redis.
    return f"emails:tracking:{connection.settings_dict['NAME']}"


def hit_record(hit: Hit) -> None:
    """Record a hit: into the Redis list when there is one, else (or when Redis fails) straight
    into the database. Raises when neither can take it (the caller answers anyway: losing one
    open beats breaking a link)."""
    if redis_url():
        import redis

        try:
            _redis().rpush(buffer_key(), hit.line())
            return
        except redis.RedisError:
            log.warning("Redis did not take an email %s; writing it to the database",
                        hit.kind, exc_info=True)
    hits_apply([hit])


def buffered() -> int:
    """Hits waiting in the buffer (0 without Redis)."""
    if not redis_url():
        return 0
    return int(_redis().llen(buffer_key()))


@dataclass
class FlushReport:
    taken: int = 0
    recorded: int = 0
    busy: bool = False

    def __str__(self) -> str:
        if self.busy:
            return "email tracking: another flush is running; skipped"
        return f"email tracking: {self.recorded} events recorded from {self.taken} hits"


def _apply(hits: list[Hit]) -> int:
    """Apply a batch; should one hit break it, apply them one by one and drop (logged) only
    the ones that fail by themselves. A database that cannot be reached stops the flush
    (nothing is trimmed; the next flush retries)."""
    try:
        return hits_apply(hits)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        log.exception("a batch of %d email tracking hits failed; applying them one by one",
                      len(hits))
    recorded = 0
    for hit in hits:
        try:
            recorded += hits_apply([hit])
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            log.exception("dropping the email tracking hit %s", hit)
    return recorded


def tracking_events_flush(*, limit: int | None = None) -> FlushReport:
    """Apply what the buffer holds, batch by batch, until it is empty (or ``limit`` hits)."""
    report = FlushReport()
    if not redis_url():
        return report
    client = _redis()
    key = buffer_key()
    lock_key, token = f"{key}:lock", uuid.uuid4().hex
    if not client.set(lock_key, token, nx=True, ex=LOCK_SECONDS):
        report.busy = True
        return report
    try:
        while limit is None or report.taken < limit:
            lines = client.lrange(key, 0, BATCH - 1)
            if not lines:
                break
            hits = [hit for hit in map(Hit.parse, lines) if hit is not None]
            report.recorded += _apply(hits)
            # Only the lock holder removes from the head, and producers only append at the
            # tail: the first len(lines) items are exactly the ones just applied.
            if not client.eval(_TRIM, 2, lock_key, key, token, len(lines), LOCK_SECONDS):
                log.warning("the email tracking flush outlived its lock; stopping (what it "
                            "applied is recognised as stored by the next flush)")
                break
            report.taken += len(lines)
    finally:
        client.eval(_RELEASE, 1, lock_key, token)
    return report
