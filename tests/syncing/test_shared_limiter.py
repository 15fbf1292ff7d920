"""Marketo's call limits kept in Redis for every process of a deployment
(``syncing/clients/shared_limiter.py``): two limiters, or two clients, stand for two processes
(workers, web) calling the same Marketo instance."""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import ExitStack

import pytest
import redis

from syncing.clients import shared_limiter
from syncing.clients.marketo import MarketoBusy
from syncing.clients.shared_limiter import SharedCallLimiter
from syncing.models import MarketoConnection
from syncing.settings.services import marketo_client_for


def _limiter(redis_url: str, name: str, **limits) -> SharedCallLimiter:
    limits = {"calls": 3, "window": 60, "max_in_flight": 2, "lease_seconds": 30} | limits
    lease = limits.pop("lease_seconds")
    return SharedCallLimiter(redis_url, name, **limits, lease_seconds=lease)


@pytest.fixture
def name() -> str:
    """A Marketo instance of this test's own (its keys are nobody else's)."""
    return f"test-{uuid.uuid4().hex}"


def test_the_window_is_spent_by_every_process_together(redis_server, name):
    first, second = _limiter(redis_server, name), _limiter(redis_server, name)
    for limiter in (first, second, first):
        with limiter.slot():
            pass
    # Three calls in the window, made by both: the next one may not start for about a minute.
    with pytest.raises(MarketoBusy) as busy, second.slot(until=time.monotonic() + 0.5):
        pass
    assert "3 calls in 60 s" in busy.value.message
    assert 50 < busy.value.retry_after <= 60


def test_calls_in_flight_are_counted_across_processes_and_freed_when_they_end(redis_server,
                                                                               name):
    first = _limiter(redis_server, name, calls=100)
    second = _limiter(redis_server, name, calls=100)
    with ExitStack() as running:
        running.enter_context(first.slot())
        running.enter_context(first.slot())
        with pytest.raises(MarketoBusy) as busy, second.slot(until=time.monotonic() + 0.1):
            pass
        assert "2 calls already in flight" in busy.value.message
    # Both ended: the other process's call starts.
    with second.slot(until=time.monotonic() + 1):
        in_flight = redis.Redis.from_url(redis_server).zcard(second._keys[1])
    assert in_flight == 1


def test_a_call_whose_process_died_frees_its_slot_when_its_lease_ends(redis_server, name,
                                                                      monkeypatch):
    monkeypatch.setattr(shared_limiter, "LEASE_MARGIN_SECONDS", 0)
    dying = _limiter(redis_server, name, calls=100, max_in_flight=1, lease_seconds=0.3)
    slot = dying.slot()
    slot.__enter__()  # ... and its process is killed before the call ends: never released
    other = _limiter(redis_server, name, calls=100, max_in_flight=1, lease_seconds=0.3)
    with pytest.raises(MarketoBusy), other.slot(until=time.monotonic()):
        pass
    time.sleep(0.4)  # past the lease (Redis's own clock decides)
    with other.slot(until=time.monotonic() + 1):
        pass


def test_without_redis_the_process_limits_itself(name, caplog):
    # Nobody listens on port 9.
    limiter = _limiter("redis://127.0.0.1:9/0", name, calls=1)
    with caplog.at_level(logging.WARNING, logger="syncing.clients.shared_limiter"):
        with limiter.slot():
            pass
        with pytest.raises(MarketoBusy), limiter.slot(until=time.monotonic() + 0.1):
            pass  # its own window of one call is spent
    assert "Redis unavailable" in caplog.text


def test_two_clients_of_one_marketo_instance_share_the_apps_budget(marketo_connected,
                                                                   redis_server, settings):
    """Through the app's client factory and the sandbox over HTTP: the second client (another
    worker) cannot call once the first spent the budget. With a limiter per client each had
    its own, and a deployment of N processes spent N budgets."""
    settings.REDIS_URL = redis_server
    settings.MARKETO_CALLS_PER_WINDOW = 2
    settings.MARKETO_WINDOW_SECONDS = 60
    connection = MarketoConnection.load()
    first = marketo_client_for(connection)
    assert isinstance(first.limiter, SharedCallLimiter)
    redis.Redis.from_url(redis_server).delete(*first.limiter._keys)  # an earlier test's calls
    first.custom_activity_types()
    first.custom_activity_types()
    assert first.calls == 2

    second = marketo_client_for(connection)
    with pytest.raises(MarketoBusy), second.deadline(1):
        second.custom_activity_types()
    assert second.calls == 0
