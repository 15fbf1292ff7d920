"""``cache_set_many`` stores what ``cache.set_many`` stores, each key expiring after the
seconds given (on Redis in one command: the test run's cache is Redis when REDIS_URL is set,
else the file cache, where it is ``set_many`` itself)."""

import os

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from salesactions.caching import cache_set_many


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_each_key_is_stored_with_its_expiry():
    values = {f"answer:{n}": n % 3 == 0 for n in range(250)} | {"a-dict": {"x": [1, "2"]},
                                                               "an-int": 7, "text": "é"}

    cache_set_many(values, 60)

    assert cache.get_many(list(values)) == values
    backend = caches["default"]
    assert isinstance(backend, RedisCache) == bool(os.environ.get("REDIS_URL"))
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client()
        ttls = {client.ttl(backend.make_key(key)) for key in values}
        assert ttls <= set(range(55, 61)) and ttls, ttls


def test_what_set_many_refuses_it_refuses():
    """No expiry at all, or one already past, goes through set_many's own rules."""
    cache_set_many({"gone": 1}, 0)
    cache_set_many({}, 60)

    assert cache.get("gone") is None
