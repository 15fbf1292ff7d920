"""Reports may be served from the cache for ``ANALYTICS_CACHE_SECONDS``: the same report asked
again within it is not counted again (many viewers at once count it once); 0 turns it off."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import AdminFactory, SalesEmailFactory, UserFactory
from rest_framework.test import APIClient

from analytics import selectors
from analytics.params import Period

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


def test_the_page_is_drawn_once_per_viewer_and_query_within_its_seconds(
        client, settings, monkeypatch):
    """The page's second layer: the same viewer reloading the same period gets the sections
    drawn earlier; another viewer, or another period, is drawn afresh; 0 turns it off."""
    from analytics import views

    settings.ANALYTICS_CACHE_SECONDS = 60
    cache.clear()
    drawn = []
    draw = views._table
    monkeypatch.setattr(views, "_table", lambda report, headings: (drawn.append(report)
                                                                   or draw(report, headings)))
    ava, ben = UserFactory(), UserFactory()
    SalesEmailFactory(sender=ava)

    def page(user, preset="30"):
        client.force_login(user)
        response = client.get(f"/analytics/?preset={preset}")
        assert response.status_code == 200
        return response.content.decode()

    first = page(ava)
    tables = len(drawn)
    again = page(ava)
    assert tables and len(drawn) == tables
    assert again.count("<table") == first.count("<table") == tables
    drawn.clear()
    page(ben)
    assert drawn and all(report.rows for report in drawn)  # Ben's own page, drawn for him
    drawn.clear()
    page(ava, "7")
    assert drawn  # another period

    settings.ANALYTICS_CACHE_SECONDS = 0
    drawn.clear()
    page(ava)
    page(ava)
    assert len(drawn) == 2 * tables


def test_reports_asked_together_count_only_those_not_in_the_cache(settings, monkeypatch):
    """A page's reports: those counted within the window come from the cache (one round
    trip), the others are counted together and kept."""
    settings.ANALYTICS_CACHE_SECONDS = 60
    cache.clear()
    SalesEmailFactory(sender=UserFactory(), sent_at=datetime(2026, 11, 2, tzinfo=UTC))
    period = Period(date(2026, 11, 1), date(2026, 11, 30), ZoneInfo("UTC"))
    by_template = selectors.report_get("emails", period, "template")
    counted = []
    count = selectors.reports_count
    monkeypatch.setattr(selectors, "reports_count", lambda period, asks, **kwargs: (
        counted.append(asks) or count(period, asks, **kwargs)))

    template, day = selectors.reports_get(period, [("emails", "template"), ("emails", "day")])
    again = selectors.reports_get(period, [("emails", "day"), ("emails", "template")])

    assert counted == [[("emails", "day")]]
    assert template.as_dict() == by_template.as_dict() and day.totals["sent"] == 1
    assert [report.group_by for report in again] == ["day", "template"]
