"""Marketo's call limits shared by every process of a deployment, in Redis.

Marketo counts calls per instance: 100 in any 20 s and 10 at once, whoever sends them. Web
processes, Celery workers and beat each hold their own client, and ``docker compose up --scale
worker=4`` or workers on several machines multiply them; a limiter in each process would let
every one of them spend the whole budget (``MARKETO_CALLS_PER_WINDOW``), and the surplus comes
back as ``606``/``615`` answers, retried after a backoff. This limiter keeps the budget in Redis
instead, so the setting is the deployment's, however many processes share it.

Two sorted sets per Marketo instance, changed by one Lua script (atomic in Redis):
- the window: one member per call start, scored by its moment (Redis's own clock, ``TIME``, so
  machines whose clocks differ agree); starts older than the window drop out;
- the calls in flight: one member per call, scored by when its lease ends. A process that dies
  mid-call cannot hold its slot for ever: the lease is the client's time-out and a margin.

It behaves as :class:`syncing.clients.marketo.CallLimiter` does (``slot(until)``), waiting by
polling when the budget is spent. Should Redis fail, calls fall back to a limiter of the
process's own (logged): a sync is not stopped by its limiter's store.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from .marketo import CallLimiter, MarketoBusy

log = logging.getLogger(__name__)

# Returns {1, 0} when the call may start (recorded in both sets), else {0, wait_ms}: how long
# until the oldest start leaves the window, or -1 when only the calls in flight are full.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local window, calls = tonumber(ARGV[1]), tonumber(ARGV[2])
local in_flight, lease, token = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= calls then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(oldest[2]) + window - now)}
end
if redis.call('ZCARD', KEYS[2]) >= in_flight then
  return {0, -1}
end
redis.call('ZADD', KEYS[1], now, token)
redis.call('ZADD', KEYS[2], now + lease, token)
redis.call('PEXPIRE', KEYS[1], window)
redis.call('PEXPIRE', KEYS[2], lease)
return {1, 0}
"""

# How often a caller waiting for a call in flight to end asks again.
IN_FLIGHT_POLL_SECONDS = 0.02
# Added to the client's time-out for a call's lease on its in-flight slot.
LEASE_MARGIN_SECONDS = 5.0

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def redis_for(url: str) -> redis.Redis:
    """One client (and connection pool) per URL per process, shared by its threads."""
    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_timeout=5,
                                                 socket_connect_timeout=5)
        return _clients[url]


class SharedCallLimiter:
    """At most ``calls`` call starts per sliding ``window`` seconds and ``max_in_flight`` at once
    across every process using the same Redis and ``name`` (one per Marketo instance)."""

    def __init__(self, redis_url: str, name: str, calls: int, window: float,
                 max_in_flight: int, *, lease_seconds: float):
        if calls < 1 or window <= 0 or max_in_flight < 1:
            raise ValueError("calls, window and max_in_flight must be positive")
        self.calls = calls
        self.window = window
        self.max_in_flight = max_in_flight
        self._redis = redis_for(redis_url)
        self._keys = [f"marketo:limiter:{name}:starts", f"marketo:limiter:{name}:in-flight"]
        self._lease_ms = int((lease_seconds + LEASE_MARGIN_SECONDS) * 1000)
        self._acquire = self._redis.register_script(_ACQUIRE)
        # Used while Redis cannot be reached.
        self._local = CallLimiter(calls, window, max_in_flight)

    @contextmanager
    def slot(self, until: float | None = None) -> Iterator[None]:
        """Block until a call may start, and hold an in-flight slot while it runs. With
        ``until`` (a ``time.monotonic()`` moment), raise ``MarketoBusy`` at once rather than
        wait past it."""
        token = uuid.uuid4().hex
        try:
            self._wait_for_slot(token, until)
        except redis.RedisError:
            log.warning("Marketo call limits: Redis unavailable, limiting this process alone",
                        exc_info=True)
            with self._local.slot(until):
                yield
            return
        try:
            yield
        finally:
            try:
                self._redis.zrem(self._keys[1], token)
            except redis.RedisError:  # the lease frees the slot when it ends
                log.warning("Marketo call limits: could not free a slot", exc_info=True)

    def _wait_for_slot(self, token: str, until: float | None) -> None:
        window_ms = int(self.window * 1000)
        while True:
            started, wait_ms = self._acquire(
                keys=self._keys,
                args=[window_ms, self.calls, self.max_in_flight, self._lease_ms, token])
            if started:
                return
            window_full = wait_ms >= 0
            wait = wait_ms / 1000 if window_full else IN_FLIGHT_POLL_SECONDS
            if until is not None:
                left = until - time.monotonic()
                if window_full and wait > left:
                    raise MarketoBusy(f"{self.calls} calls in {self.window:g} s already made",
                                      retry_after=wait)
                if left <= 0:
                    raise MarketoBusy(f"{self.max_in_flight} calls already in flight",
                                      retry_after=1.0)
                wait = min(wait, left)
            time.sleep(wait)
