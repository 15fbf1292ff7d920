"""Activity (``GET /api/v1/analytics/activity/``): per seller, day and week — calls by
outcome, emails sent, replies, tasks completed, tasks overdue now — days in the viewer's time
zone, who sees whose, and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from factories import (
    AdminFactory,
    CallFactory,
    ReminderTaskFactory,
    SalesEmailFactory,
    UserFactory,
)
from rest_framework.test import APIClient

from emails.events import EventIn, events_apply

pytestmark = pytest.mark.django_db
PATH = "/api/v1/analytics/activity/"
MON = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # a Monday
COUNTS = ("calls", "emails_sent", "emails_replied", "tasks_completed", "tasks_overdue")


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def seeded():
    """Ava: two calls on Monday (connected, voicemail), one the next Monday (connected); two
    emails on Tuesday, one replied on Wednesday; a task completed on Tuesday; two tasks
    overdue (due Monday and Thursday), one due in the future. Ben: one call on Monday."""
    ava = UserFactory(first_name="Ava", last_name="Stone")
    ben = UserFactory(first_name="Ben", last_name="Hart")
    CallFactory(logged_by=ava, called_at=MON, outcome="Connected")
    CallFactory(logged_by=ava, called_at=MON + timedelta(hours=1), outcome="Left voicemail")
    CallFactory(logged_by=ava, called_at=MON + timedelta(days=7), outcome="Connected")
    CallFactory(logged_by=ben, called_at=MON, outcome="Connected")
    first = SalesEmailFactory(sender=ava, sent_at=MON + timedelta(days=1))
    SalesEmailFactory(sender=ava, sent_at=MON + timedelta(days=1))
    events_apply([EventIn(email=first, kind="replied", at=MON + timedelta(days=2),
                          source="provider")])
    ReminderTaskFactory(assignee=ava, status="complete", due_date=date(2026, 11, 3),
                        completed_at=MON + timedelta(days=1))
    ReminderTaskFactory(assignee=ava, due_date=date(2026, 11, 2))
    ReminderTaskFactory(assignee=ava, due_date=date(2026, 11, 5))
    ReminderTaskFactory(assignee=ava, due_date=date(2026, 12, 20))
    return {"ava": ava, "ben": ben}


def get(user, **query):
    query = {"from": "2026-11-01", "to": "2026-11-15"} | query
    return client_for(user).get(PATH, query)


def test_by_seller(seeded, monkeypatch):
    monkeypatch.setattr("analytics.selectors.datetime", _Frozen)
    body = get(AdminFactory(), group_by="seller").json()

    rows = {row["label"]: row for row in body["results"]}
    assert tuple(rows["Ava Stone"][name] for name in COUNTS) == (3, 2, 1, 1, 2)
    assert rows["Ava Stone"]["calls_by_outcome"] == {"Connected": 2, "Left voicemail": 1}
    assert tuple(rows["Ben Hart"][name] for name in COUNTS) == (1, 0, 0, 0, 0)
    assert tuple(body["totals"][name] for name in COUNTS) == (4, 2, 1, 1, 2)
    assert body["totals"]["calls_by_outcome"] == {"Connected": 3, "Left voicemail": 1}


def test_by_day_and_by_week(seeded, monkeypatch):
    monkeypatch.setattr("analytics.selectors.datetime", _Frozen)
    ava = seeded["ava"]
    days = {row["key"]: row for row in get(ava, group_by="day").json()["results"]}
    assert len(days) == 15
    assert (days["2026-11-02"]["calls"], days["2026-11-02"]["tasks_overdue"]) == (2, 1)
    assert (days["2026-11-03"]["emails_sent"], days["2026-11-03"]["tasks_completed"]) == (2, 1)
    assert days["2026-11-04"]["emails_replied"] == 1
    assert days["2026-11-09"]["calls"] == 1

    weeks = get(ava, group_by="week").json()["results"]
    assert [row["key"] for row in weeks] == ["2026-10-26", "2026-11-02", "2026-11-09"]
    assert [row["calls"] for row in weeks] == [0, 2, 1]
    assert weeks[1]["label"] == "Week of 2026-11-02"


def test_day_boundaries_follow_the_viewers_time_zone(seeded):
    ben = seeded["ben"]
    CallFactory(logged_by=ben, called_at=datetime(2026, 11, 10, 23, 30, tzinfo=UTC))
    ben.time_zone = "UTC"
    ben.save()
    tokyo = AdminFactory(time_zone="Asia/Tokyo")  # 23:30 UTC is 08:30 the next day there

    in_utc = get(ben, group_by="day", **{"from": "2026-11-10", "to": "2026-11-11"}).json()
    in_tokyo = get(tokyo, group_by="day", sender=ben.pk,
                   **{"from": "2026-11-10", "to": "2026-11-11"}).json()

    assert [row["calls"] for row in in_utc["results"]] == [1, 0]
    assert [row["calls"] for row in in_tokyo["results"]] == [0, 1]


def test_a_seller_gets_only_their_own(seeded):
    ava, ben = seeded["ava"], seeded["ben"]
    own = get(ava, group_by="seller").json()
    assert [row["label"] for row in own["results"]] == ["Ava Stone"]
    assert get(ava, group_by="seller", sender=ben.pk).status_code == 403
    assert get(ava, group_by="month").status_code == 400


def test_csv_has_a_column_per_outcome(seeded):
    response = get(AdminFactory(), group_by="seller", format="csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == ["key", "label", *COUNTS, "calls: Connected",
                             "calls: Left voicemail"]
    ava = next(row for row in rows if row["label"] == "Ava Stone")
    assert (ava["calls"], ava["calls: Connected"], ava["calls: Left voicemail"]) == (
        "3", "2", "1")
    assert rows[-1]["label"] == "Total" and rows[-1]["calls"] == "4"


class _Frozen(datetime):
    """"Now" is 16 November 2026: the tasks due on 2 and 5 November are overdue."""

    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 11, 16, 12, 0, tzinfo=tz or UTC)
