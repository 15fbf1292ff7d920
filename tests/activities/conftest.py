"""Fixtures for calls and their delivery: the app connected to both sandboxes, seed people of
each Salesforce shape, and a clean outbox state per test."""


import pytest
from django.core.cache import cache


@pytest.fixture
def both_connected(salesforce_connected, marketo_connected):
    return salesforce_connected, marketo_connected


@pytest.fixture(autouse=True)
def clean_outbox(settings):
    """Retries come due at once; a private cache for the flush debounce. (Kept clients are
    forgotten by the root conftest.)"""
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    settings.OUTBOX_LINGER_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "activities-tests"}}
    cache.clear()


@pytest.fixture(autouse=True)
def _outcomes_from_the_test(request):
    """Each test here sets up the call outcomes it needs: the defaults a fresh install has
    (activities/migrations/0002) are removed first (tests/api/test_conventions.py checks them)."""
    if {"db", "transactional_db", "live_server"} & set(request.fixturenames) or \
            request.node.get_closest_marker("django_db"):
        from activities.models import CallOutcome

        CallOutcome.objects.all().delete()
