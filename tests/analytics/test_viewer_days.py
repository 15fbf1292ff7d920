"""Reports by day in the viewer's zone from rollups kept per UTC hour and day
(``selectors.ViewerDays``): each UTC day row counts in the viewer's day it overlaps most, and
only the hours of it lying in another viewer day are read from the hour rows. Counted so,
every report by day equals the same report counted from the raw rows — across daylight-saving
changes, a period's edges and a one-day period — while reading a few hours a day, not 24."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from factories import CallFactory, SalesEmailFactory, UserFactory

from analytics import selectors
from analytics.params import Period
from analytics.selectors import ViewerDays, activity_report, email_report, rollup_pieces

pytestmark = pytest.mark.django_db
# Paris leaves summer time on 25 October 2026, New York and Los Angeles on 1 November;
# Sydney is 11 hours ahead, Tokyo 9; Kolkata (+5:30) is counted from the raw rows.
ZONES = ["UTC", "Europe/Paris", "America/New_York", "America/Los_Angeles", "Australia/Sydney",
         "Asia/Tokyo", "Asia/Kolkata"]
PERIODS = [(date(2026, 10, 23), date(2026, 11, 5)), (date(2026, 11, 1), date(2026, 11, 1)),
           (date(2026, 10, 25), date(2026, 10, 26))]


@pytest.fixture
def activity():
    """Two sellers' emails and calls, one every few hours from 21 October to 7 November."""
    ava, ben = UserFactory(), UserFactory()
    start = datetime(2026, 10, 21, tzinfo=UTC)
    for n in range(0, 17 * 24, 5):
        at = start + timedelta(hours=n, minutes=17)
        seller = (ava, ben)[n % 2]
        SalesEmailFactory(sender=seller, sent_at=at,
                          opened_at=at + timedelta(hours=1) if n % 3 else None,
                          bounced_at=at if n % 7 == 0 else None)
        CallFactory(logged_by=seller, called_at=at + timedelta(hours=2),
                    outcome=("Connected", "Busy")[n % 2])
    return ava, ben


@pytest.mark.parametrize("zone", ZONES)
def test_reports_by_day_equal_the_raw_count(activity, zone, monkeypatch):
    periods = [Period(first, last, ZoneInfo(zone)) for first, last in PERIODS]
    ava = activity[0]

    def reports():
        return [(email_report(period, "day").as_dict(),
                 email_report(period, "day", senders=[ava.pk]).as_dict(),
                 activity_report(period, "day").as_dict(),
                 activity_report(period, "week").as_dict()) for period in periods]

    rolled_up = reports()
    monkeypatch.setattr(selectors, "rollup_pieces", lambda period, by_day: None)
    counted = reports()

    assert rolled_up == counted
    assert sum(day["sent"] for day in rolled_up[0][0]["results"]) > 50


@pytest.mark.parametrize(("zone", "hours_a_day"), [
    ("UTC", 0), ("Europe/Paris", 2), ("America/New_York", 5), ("Australia/Sydney", 11)])
def test_a_few_hours_of_each_day_are_read(zone, hours_a_day):
    period = Period(date(2026, 10, 23), date(2026, 11, 5), ZoneInfo(zone))
    pieces = rollup_pieces(period, by_day=True)
    hours = sum((until - since).total_seconds() / 3600 for width, since, until in pieces
                if width == 1)
    days = sum((until - since).days for width, since, until in pieces if width == 24)

    assert days >= 13
    assert hours <= hours_a_day * 15
    assert pieces is ViewerDays.of(period).pieces
