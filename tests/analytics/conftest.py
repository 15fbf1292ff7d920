import pytest


@pytest.fixture(autouse=True)
def counted_every_time(settings):
    """Each request counts afresh (the cache has a test of its own)."""
    settings.ANALYTICS_CACHE_SECONDS = 0
