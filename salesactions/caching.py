"""Cache reads and writes that never fail a request: the cache is an optimisation, and with its
server down the database answers (slower) instead of the page failing."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)
T = TypeVar("T")
#: How long a request waits for another one building the same values before building them
#: itself (the other may have died).
BUILD_WAIT_SECONDS = 5.0


def cached_or_built(key: str, seconds: float, build: Callable[[], T],
                    keep: Callable[[T], bool] | None = None) -> T:
    """The value cached under ``key``, else ``build()``'s (then cached for ``seconds``, unless
    ``keep(value)`` says it is not worth keeping)."""
    try:
        cached = cache.get(key)
    except Exception:  # noqa: BLE001 - any cache backend's connection error
        log.warning("cache unavailable", exc_info=True)
        return build()
    if cached is not None:
        return cached
    value = build()
    if keep is None or keep(value):
        cache_set_quietly(key, value, seconds)
    return value


def cache_get_quietly(key: str):
    """The value cached under ``key``; None when there is none or the cache is down."""
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001
        log.warning("cache unavailable", exc_info=True)
        return None


def cache_set_quietly(key: str, value, seconds: float | None) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:  # noqa: BLE001
        log.warning("cache unavailable", exc_info=True)


#: SET with an expiry for each of KEYS (ARGV: the seconds, then the values in order) in one
#: command. MSET sets no expiry, so Django's ``set_many`` on Redis adds an EXPIRE per key in a
#: MULTI: for a campaign batch's 200 addresses, 202 commands for the worker to pack and 404
#: replies to read (4% of a batch's CPU).
_SET_EACH_EXPIRING = ("for index, key in ipairs(KEYS) do "
                      "redis.call('SET', key, ARGV[index + 1], 'EX', ARGV[1]) end")


def cache_set_many(values: dict[str, object], seconds: int) -> None:
    """``cache.set_many(values, seconds)``: the same keys, values and expiry; on Redis with one
    command for all the keys. Raises as ``set_many`` does when the cache is down."""
    backend = caches["default"]
    timeout = backend.get_backend_timeout(seconds)
    if not values or not isinstance(backend, RedisCache) or timeout is None or timeout <= 0:
        backend.set_many(values, seconds)
        return
    # make_key, not make_and_validate_key: the validation only warns of keys memcached
    # would refuse, a loop over each key's characters that cost as much as the command.
    keys = [backend.make_key(key) for key in values]
    # The client and serializer set_many itself uses (RedisCacheClient's).
    client, dumps = backend._cache.get_client(write=True), backend._cache._serializer.dumps
    client.eval(_SET_EACH_EXPIRING, len(keys), *keys, timeout,
                *(dumps(value) for value in values.values()))


def cache_delete_quietly(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:  # noqa: BLE001
        log.warning("cache unavailable", exc_info=True)


def cached_built_once(keys: list[str], seconds: float,
                      build: Callable[[list[str]], dict[str, T]], *,
                      wait: float = BUILD_WAIT_SECONDS) -> dict[str, T]:
    """The values cached under ``keys``; those missing come from ``build(missing keys)`` (a
    dict by key) and are cached for ``seconds`` — built by ONE request at a time: a request
    that finds another already building the same keys waits for its values (up to ``wait``
    seconds, or until that one gives up) instead of building them again, so many viewers
    arriving as the values expire count them once, not once each. Never fails on the cache:
    without it, everything is built."""
    try:
        found = cache.get_many(keys)
    except Exception:  # noqa: BLE001 - any cache backend's connection error
        log.warning("cache unavailable", exc_info=True)
        return build(list(keys))
    missing = [key for key in keys if key not in found]
    if not missing:
        return found
    lock = building_lock(missing)
    try:
        held = cache.add(lock, 1, timeout=wait)
        ready = (cache.get_many(missing) if held  # built while this one asked?
                 else _built_elsewhere(lock, missing, wait))
    except Exception:  # noqa: BLE001
        log.warning("cache unavailable", exc_info=True)
        held, ready = False, {}
    if len(ready) == len(missing):
        if held:
            cache_delete_quietly(lock)
        return found | ready
    try:
        built = build(missing)
        try:
            cache.set_many(built, seconds)
        except Exception:  # noqa: BLE001
            log.warning("cache unavailable", exc_info=True)
    finally:
        if held:
            cache_delete_quietly(lock)
    return found | built


def building_lock(keys: list[str]) -> str:
    """The cache key held by the request building ``keys``."""
    return "building:" + hashlib.blake2b("\0".join(keys).encode(), digest_size=16).hexdigest()


def _built_elsewhere(lock: str, keys: list[str], wait: float) -> dict:
    """The values of ``keys`` once the request holding ``lock`` has cached them; what there is
    when it lets go without them or ``wait`` runs out."""
    deadline = time.monotonic() + wait
    pause = 0.005
    while True:
        time.sleep(pause)
        ready = cache.get_many(keys)
        if len(ready) == len(keys) or time.monotonic() >= deadline or cache.get(lock) is None:
            return ready if len(ready) == len(keys) else cache.get_many(keys)
        pause = min(pause * 2, 0.05)
