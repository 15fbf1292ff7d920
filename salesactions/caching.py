"""Cache reads and writes that never fail a request: the cache is an optimisation, and with its
server down the database answers (slower) instead of the page failing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

log = logging.getLogger(__name__)
T = TypeVar("T")


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


def cache_set_quietly(key: str, value, seconds: float | None) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:  # noqa: BLE001
        log.warning("cache unavailable", exc_info=True)


def cache_delete_quietly(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:  # noqa: BLE001
        log.warning("cache unavailable", exc_info=True)
