"""API budget counters: real calls through the sandboxes are counted as they leave (the
clients' hooks, passed by the client factories), and Sync health reads them back."""

import time

import pytest
from django.core.cache import cache
from factories import DeliveryFactory
from sandboxes import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET

from syncing import budget
from syncing.health.selectors import sync_health
from syncing.models import Delivery, MarketoConnection, SalesforceConnection, SyncSettings
from syncing.outbox.flush import deliveries_flush
from syncing.settings.services import marketo_client_for, salesforce_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "health-budget-tests"}}
    cache.clear()


@pytest.fixture
def salesforce(db, salesforce_sandbox):
    SalesforceConnection(url=salesforce_sandbox.base_url, client_id=SALESFORCE_CLIENT_ID,
                         client_secret=SALESFORCE_CLIENT_SECRET).save()
    return salesforce_sandbox


def marketo_window_calls(*moments: float) -> int:
    """Calls counted in the windows of these moments (each window once)."""
    keys = {budget._marketo_window_key(moment) for moment in moments}
    return sum(cache.get(key) or 0 for key in keys)


def test_marketo_calls_are_counted_per_window_and_per_day(marketo_connected):
    client = marketo_client_for(MarketoConnection.load())
    before = sync_health().budget.marketo
    started = time.time()

    client.describe_leads()
    client.activity_types()

    finished = time.time()
    after = sync_health().budget.marketo
    assert client.calls == 2
    assert after.today_calls - before.today_calls == 2
    assert marketo_window_calls(started, finished) == 2
    assert after.daily_quota == 50_000 and after.window_limit == 100


def test_salesforce_calls_and_the_orgs_usage_are_recorded(salesforce):
    client = salesforce_client_for(SalesforceConnection.load())
    SyncSettings(salesforce_daily_api_share_percent=40).save()

    client.limits()
    client.describe("Task")

    seen = sync_health().budget.salesforce
    assert seen.today_calls == client.calls == 3          # the token, then two API calls
    assert (seen.org_used, seen.org_limit) == tuple(client.api_usage)
    assert seen.org_used >= 2
    assert seen.share_percent == 40
    assert seen.share_limit == seen.org_limit * 40 // 100
    assert seen.share_used == pytest.approx(seen.org_used / seen.share_limit)


def test_a_delivery_through_the_outbox_spends_budget(salesforce, settings):
    settings.OUTBOX_LINGER_SECONDS = 0
    DeliveryFactory()

    deliveries_flush(Delivery.Target.SALESFORCE)

    sent = Delivery.objects.get()
    assert sent.attempts == 1, sent.last_error_message
    health = sync_health()
    assert health.budget.salesforce.today_calls >= 2
    assert health.budget.salesforce.org_used >= 1
    calls = next(stream for stream in health.streams if stream.name == "calls_to_salesforce")
    assert calls.throughput_last_hour + calls.errors_last_hour == 1


def test_the_api_shows_the_counters(admin_client, salesforce):
    salesforce_client_for(SalesforceConnection.load()).limits()
    body = admin_client.get("/api/v1/sync/health/").json()
    assert body["api_budget"]["salesforce"]["today_calls"] == 2
    assert body["api_budget"]["salesforce"]["org_used"] >= 1


def test_a_broken_cache_never_fails_a_call(salesforce, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens
    client = salesforce_client_for(SalesforceConnection.load())
    assert client.limits()
    assert sync_health().budget.salesforce.today_calls == 0
