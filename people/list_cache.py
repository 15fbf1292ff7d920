"""A short-lived cache of people lists (the API's pages, the people page's results), valid for
one version of the people data.

Sellers page through the same lists over and over (their own people, the same searches) while
the data only moves when a sync pass or an unsubscribe writes. So a list is built once per
version and user and served from the cache until the next write. Every write to people or
unsubscribes moves the version on, right away and again once the write has committed: a list
read in between (still seeing the old rows) is stored under a version that is already gone, so
nothing from before a write outlives its commit. ``PEOPLE_LIST_CACHE_SECONDS`` bounds how long
an entry lives; 0 turns the cache off. When the cache server is down, lists are built each time.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.timezone import get_current_timezone_name
from django.utils.translation import get_language

from salesactions.caching import cache_set_quietly, cached_or_built

log = logging.getLogger(__name__)

VERSION_KEY = "people:list-version"
T = TypeVar("T")


def people_list_changed() -> None:
    """Say that people or unsubscribes were written: cached lists are stale from now on."""
    _version_move()
    transaction.on_commit(_version_move)


def _version_move() -> str:
    version = uuid.uuid4().hex
    # A cache outage must not fail a write; lists are built each time meanwhile.
    cache_set_quietly(VERSION_KEY, version, None)
    return version


def _version() -> str:
    return cache.get(VERSION_KEY) or _version_move()


def people_data_version() -> str:
    """The current version of the people data: a key part for anything derived from people
    (lists, filter choices) that must not outlive the next write."""
    return _version()


def people_list_cached(kind: str, request, build: Callable[[], T],
                       keep: Callable[[T], bool] | None = None) -> T:
    """``build()``'s result for this request's URL and user, from the cache when the people
    data has not changed since it was built. ``build`` may raise (e.g. a validation error):
    nothing is stored then; nor when ``keep(result)`` is false (a list whose count a worker is
    still making)."""
    seconds = settings.PEOPLE_LIST_CACHE_SECONDS
    if not seconds:
        return build()
    address = hashlib.blake2b(request.build_absolute_uri().encode(), digest_size=16).hexdigest()
    try:
        # The HTML (and error texts) are written in the request's language and time zone
        # (salesactions/i18n.py).
        key = (f"people:list:{kind}:{_version()}:{request.user.pk}:{address}:"
               f"{get_language() or '-'}:{get_current_timezone_name()}")
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the database answers
        log.warning("people list cache unavailable", exc_info=True)
        return build()
    return cached_or_built(key, seconds, build, keep)


def _model_written(sender, **kwargs) -> None:
    people_list_changed()


def connect_model_signals() -> None:
    """Saves and deletes of single rows (admin, factories, services that use the ORM) move the
    version; bulk writes (COPY, ``bulk_create``, ``update()``) call :func:`people_list_changed`
    themselves."""
    from django.db.models.signals import post_delete, post_save

    from unsubscribes.models import Unsubscribe

    from .models import Person

    for model in (Person, Unsubscribe):
        post_save.connect(_model_written, sender=model, dispatch_uid=f"people-list-{model}")
        post_delete.connect(_model_written, sender=model, dispatch_uid=f"people-list-d-{model}")
