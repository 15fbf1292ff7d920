"""The Analytics page: presets and custom dates in the viewer's time zone, a seller's own
figures (a ``sender`` in the address changes nothing), an admin's seller filter, a bad date
said and replaced by the default period, a CSV link for every table."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from factories import CallFactory, SalesEmailFactory, UserFactory

from analytics.params import preset_dates

pytestmark = pytest.mark.django_db


def test_presets_cover_the_days_back_from_today_and_the_quarter():
    today = timezone.datetime(2026, 11, 16).date()
    assert preset_dates("7", today) == (timezone.datetime(2026, 11, 10).date(), today)
    assert preset_dates("quarter", today) == (timezone.datetime(2026, 10, 1).date(), today)


def test_a_seller_sees_their_own_figures(seller_client, seller):
    other = UserFactory(first_name="Ben", last_name="Hart")
    CallFactory(logged_by=seller, called_at=timezone.now() - timedelta(days=1))
    CallFactory(logged_by=other, called_at=timezone.now() - timedelta(days=1))
    SalesEmailFactory(sender=other)

    page = seller_client.get(f"/analytics/?preset=7&sender={other.pk}").content.decode()

    assert "Your figures" in page and 'name="sender"' not in page
    assert "Activity by day" in page and "Activity by seller" not in page
    assert "<svg class=\"analytics-chart\"" in page
    # Seven days of activity and of email performance (a row a day each), without Ben's
    # email: the seller's one call, no email.
    assert page.count('<tr><th scope="row">20') == 14
    assert '<tfoot><tr><th scope="row">Total</th><td>1</td>' in page
    assert "Email performance by template" in page and "Nothing in this period." in page
    assert "/api/v1/analytics/activity/?from=" in page and "format=csv" in page


def test_an_admin_sees_the_team_and_filters_by_seller(admin_client):
    ava = UserFactory(first_name="Ava", last_name="Stone")
    ben = UserFactory(first_name="Ben", last_name="Hart")
    SalesEmailFactory(sender=ava)
    SalesEmailFactory(sender=ben)

    team = admin_client.get("/analytics/?preset=quarter").content.decode()
    assert "The whole team" in team and "Activity by seller" in team
    assert "Email performance by seller" in team and "Ben Hart" in team

    one = admin_client.get(f"/analytics/?preset=30&sender={ben.pk}").content.decode()
    assert "One seller's figures" in one and "Activity by seller" not in one
    assert f"sender={ben.pk}" in one  # the CSV links keep the filter


def test_custom_dates_and_a_bad_date(seller_client):
    page = seller_client.get("/analytics/?preset=custom&from=2026-11-02&to=2026-11-04"
                             ).content.decode()
    assert "from 2 Nov 2026 to 4 Nov 2026" in page

    bad = seller_client.get("/analytics/?preset=custom&from=2026-02-30&to=2026-11-04")
    assert bad.status_code == 200
    text = bad.content.decode()
    assert "Date has wrong format" in text and "The last 30 days are shown." in text


def test_the_team_page_reads_each_rollup_table_once(admin_client):
    """Six reports, but one aggregate statement over the email rollups (per day, template,
    step and seller at once) and one over the activity rollups."""
    ava = UserFactory(first_name="Ava", last_name="Stone")
    SalesEmailFactory(sender=ava)
    CallFactory(logged_by=ava, called_at=timezone.now() - timedelta(days=1))

    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get("/analytics/?preset=30").content.decode()

    assert "Email performance by seller" in page and "Activity by seller" in page
    reads = [query["sql"] for query in queries.captured_queries]
    assert sum('FROM "analytics_emailrollup"' in sql for sql in reads) == 1
    assert sum('FROM "analytics_activityrollup"' in sql for sql in reads) == 1
