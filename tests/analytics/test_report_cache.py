"""Reports may be served from the cache for ``ANALYTICS_CACHE_SECONDS``: the same report asked
again within it is not counted again (many viewers at once count it once); 0 turns it off."""

from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import AdminFactory, SalesEmailFactory, UserFactory
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
QUERY = {"group_by": "sender", "from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
def api():
    client = APIClient()
    client.force_authenticate(AdminFactory())
    return client


def test_the_same_report_within_the_window_is_not_counted_again(api, settings):
    settings.ANALYTICS_CACHE_SECONDS = 60
    cache.clear()
    sender = UserFactory()
    SalesEmailFactory(sender=sender, sent_at=datetime(2026, 11, 2, tzinfo=UTC))
    first = api.get("/api/v1/analytics/emails/", QUERY).json()
    SalesEmailFactory(sender=sender, sent_at=datetime(2026, 11, 3, tzinfo=UTC))

    with CaptureQueriesContext(connection) as queries:
        again = api.get("/api/v1/analytics/emails/", QUERY).json()
    other_period = api.get("/api/v1/analytics/emails/", {**QUERY, "to": "2026-11-29"}).json()

    assert again == first and first["totals"]["sent"] == 1
    assert not any("emails_salesemail" in query["sql"] for query in queries.captured_queries)
    assert other_period["totals"]["sent"] == 2


def test_zero_counts_every_time(api, settings):
    settings.ANALYTICS_CACHE_SECONDS = 0
    sender = UserFactory()
    SalesEmailFactory(sender=sender, sent_at=datetime(2026, 11, 2, tzinfo=UTC))
    assert api.get("/api/v1/analytics/emails/", QUERY).json()["totals"]["sent"] == 1
    SalesEmailFactory(sender=sender, sent_at=datetime(2026, 11, 3, tzinfo=UTC))
    assert api.get("/api/v1/analytics/emails/", QUERY).json()["totals"]["sent"] == 2
