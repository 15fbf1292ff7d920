"""Email performance (``GET /api/v1/analytics/emails/``): exact figures on a small seeded set
for each grouping — each email once per outcome, a reply after an open, a bounce that
unsubscribes, an unsubscribe by link — days in the viewer's time zone, who sees whose figures,
bad parameters and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import (
    AdminFactory,
    EmailTemplateFactory,
    PersonFactory,
    SalesEmailFactory,
    UserFactory,
)
from rest_framework.test import APIClient

from analytics.rollups import rollups_recount, slices
from campaigns.models import Campaign, CampaignMember, MemberStep
from campaigns.services import campaign_create
from emails.events import EventIn, events_apply, unsubscribe_by_link
from emails.models import EmailEvent
from unsubscribes.models import Unsubscribe

pytestmark = pytest.mark.django_db
PATH = "/api/v1/analytics/emails/"
DAY1 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
RANGE = {"from": "2026-11-01", "to": "2026-11-30"}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def event(email, kind, at, **extra):
    events_apply([EventIn(email=email, kind=kind, at=at, source=EmailEvent.Source.PROVIDER,
                          **extra)])


@pytest.fixture
def seeded():
    """Ava sends four emails (three from template Intro, one from Demo), Ben one without a
    template:

    - opened: Ava's first email five times; the second once, then replied;
    - the Demo email bounced hard (its address unsubscribed because of it);
    - Ava's third Intro email: unsubscribed by its link (not opened);
    - Ben's: opened twice, clicked three times.
    """
    ava, ben = UserFactory(first_name="Ava", last_name="Stone"), UserFactory(
        first_name="Ben", last_name="Hart")
    intro, demo = EmailTemplateFactory(owner=ava, name="Intro"), EmailTemplateFactory(
        owner=ava, name="Demo")
    opened5 = SalesEmailFactory(sender=ava, template=intro, sent_at=DAY1)
    replied = SalesEmailFactory(sender=ava, template=intro, sent_at=DAY1)
    bounced = SalesEmailFactory(sender=ava, template=demo, sent_at=DAY2)
    by_link = SalesEmailFactory(sender=ava, template=intro, sent_at=DAY2)
    clicked = SalesEmailFactory(sender=ben, sent_at=DAY2)
    for n in range(5):
        event(opened5, "opened", DAY1 + timedelta(hours=n + 1))
    event(replied, "opened", DAY1 + timedelta(hours=1))
    event(replied, "replied", DAY1 + timedelta(hours=2))
    event(bounced, "bounced", DAY2 + timedelta(minutes=1), hard=True)
    unsubscribe_by_link(by_link)
    for n in range(2):
        event(clicked, "opened", DAY2 + timedelta(hours=n + 1))
    for n in range(3):
        event(clicked, "clicked", DAY2 + timedelta(hours=n + 1, minutes=5),
              url="https://example.com/")
    return {"ava": ava, "ben": ben, "intro": intro, "demo": demo, "emails": [
        opened5, replied, bounced, by_link, clicked]}


def by_label(body) -> dict:
    return {row["label"]: row for row in body["results"]}


def figures(row, *names) -> tuple:
    return tuple(row[name] for name in names)


COUNTS = ("sent", "delivered", "opened", "clicked", "replied", "bounced", "unsubscribed")
RATES = ("open_rate", "click_rate", "reply_rate", "bounce_rate")


def test_by_template_counts_each_email_once_per_outcome(seeded):
    body = client_for(AdminFactory()).get(PATH, {"group_by": "template", **RANGE}).json()

    rows = by_label(body)
    assert figures(rows["Intro"], *COUNTS) == (3, 3, 2, 0, 1, 0, 1)
    assert figures(rows["Intro"], *RATES) == (0.6667, 0.0, 0.3333, 0.0)
    assert figures(rows["Demo"], *COUNTS) == (1, 0, 0, 0, 0, 1, 1)
    assert figures(rows["Demo"], *RATES) == (0.0, 0.0, 0.0, 1.0)
    assert figures(rows["No template"], *COUNTS) == (1, 1, 1, 1, 0, 0, 0)
    assert rows["Intro"]["key"] == seeded["intro"].pk and rows["No template"]["key"] is None
    assert figures(body["totals"], *COUNTS) == (5, 4, 3, 1, 1, 1, 2)
    assert figures(body["totals"], *RATES) == (0.75, 0.25, 0.25, 0.2)


def test_by_sender_and_by_day(seeded):
    admin = client_for(AdminFactory())
    rows = by_label(admin.get(PATH, {"group_by": "sender", **RANGE}).json())
    assert figures(rows["Ava Stone"], *COUNTS) == (4, 3, 2, 0, 1, 1, 2)
    assert figures(rows["Ben Hart"], *COUNTS) == (1, 1, 1, 1, 0, 0, 0)

    body = admin.get(PATH, {"group_by": "day", "from": "2026-11-01", "to": "2026-11-04"}).json()
    assert [row["key"] for row in body["results"]] == [
        "2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    assert [row["sent"] for row in body["results"]] == [0, 2, 3, 0]
    assert [row["opened"] for row in body["results"]] == [0, 2, 1, 0]


def test_by_campaign_step(seeded):
    ava = seeded["ava"]
    campaign = campaign_create(owner=ava, name="Spring", status=Campaign.Status.ACTIVE, steps=[
        {"type": "email", "day_offset": 0, "subject": "Hello", "body": "Hi"},
        {"type": "email", "day_offset": 3, "subject": "Nudge", "body": "Hi again"}])
    first, second = campaign.steps.order_by("position")
    opened5, replied, bounced, *_ = seeded["emails"]
    for email, step in ((opened5, first), (replied, first), (bounced, second)):
        member = CampaignMember.objects.create(campaign=campaign, person=email.person,
                                               added_by=ava, added_at=DAY1, anchor_at=DAY1)
        MemberStep.objects.create(member=member, step=step, position=step.position,
                                  type=step.type, due_at=DAY1, ran_at=DAY1,
                                  result=MemberStep.Result.QUEUED, email=email)
    # The scheduler links an email to its step while it is queued, so sending counts it
    # under the step; these were sent first: count their hours again, as sending does.
    rollups_recount(emails=slices((email.sent_at, email.sender_id)
                                  for email in (opened5, replied, bounced)))

    body = client_for(ava).get(PATH, {"group_by": "campaign_step", "campaign": campaign.pk,
                                      **RANGE}).json()

    rows = {row["key"]: row for row in body["results"]}
    assert set(rows) == {first.pk, second.pk}
    assert figures(rows[first.pk], *COUNTS) == (2, 2, 2, 0, 1, 0, 0)
    assert rows[first.pk]["label"] == "Spring · step 1: Hello"
    assert figures(rows[second.pk], *COUNTS) == (1, 0, 0, 0, 0, 1, 1)
    # The campaign filter leaves out emails outside it.
    by_template = client_for(ava).get(PATH, {"group_by": "template", "campaign": campaign.pk,
                                             **RANGE}).json()
    assert by_template["totals"]["sent"] == 3


def test_the_unsubscribe_names_the_email_that_caused_it(seeded):
    _, _, bounced, by_link, _ = seeded["emails"]
    assert Unsubscribe.objects.get(person=bounced.person).sales_email == bounced
    assert Unsubscribe.objects.get(person=by_link.person).source == "link"
    assert Unsubscribe.objects.get(person=by_link.person).sales_email == by_link


def test_days_are_counted_in_the_viewers_time_zone():
    late = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # 3 November 00:30 in Paris
    sender = UserFactory(time_zone="UTC")
    SalesEmailFactory(sender=sender, sent_at=late)
    paris = AdminFactory(time_zone="Europe/Paris")
    one_day = {"group_by": "day", "from": "2026-11-03", "to": "2026-11-03"}

    assert client_for(paris).get(PATH, one_day).json()["totals"]["sent"] == 1
    assert client_for(sender).get(PATH, one_day).json()["totals"]["sent"] == 0
    utc_day = client_for(sender).get(PATH, {**one_day, "from": "2026-11-02",
                                            "to": "2026-11-02"}).json()
    assert utc_day["results"][0] == utc_day["results"][0] | {"key": "2026-11-02", "sent": 1}


def test_a_seller_sees_their_own_and_not_another_sellers(seeded):
    ava, ben = seeded["ava"], seeded["ben"]
    own = client_for(ava).get(PATH, {"group_by": "sender", **RANGE}).json()
    assert [row["label"] for row in own["results"]] == ["Ava Stone"]
    assert client_for(ava).get(PATH, {"group_by": "sender", "sender": ava.pk,
                                      **RANGE}).status_code == 200

    refused = client_for(ava).get(PATH, {"group_by": "sender", "sender": ben.pk, **RANGE})
    assert refused.status_code == 403
    admin = client_for(AdminFactory()).get(PATH, {"group_by": "sender", "sender": ben.pk,
                                                  **RANGE}).json()
    assert [row["label"] for row in admin["results"]] == ["Ben Hart"]


@pytest.mark.parametrize("query, field", [
    ({"group_by": "colour"}, "group_by"),
    ({}, "group_by"),
    ({"group_by": "day", "from": "2026-13-01"}, "from"),
    ({"group_by": "day", "from": "yesterday"}, "from"),
    ({"group_by": "day", "from": "2026-11-05", "to": "2026-11-01"}, "from"),
    ({"group_by": "day", "from": "2020-01-01", "to": "2026-11-01"}, "to"),
    ({"group_by": "day", "format": "xml"}, "format"),
    ({"group_by": "day", "from": ""}, "from"),
    ({"group_by": "day", "format": ""}, "format"),
    ({"group_by": "day", "from": "0001-01-01", "to": "0001-01-02"}, "from"),
    ({"group_by": "day", "from": "9999-12-30", "to": "9999-12-31"}, "to"),
])
def test_bad_parameters_are_400_with_the_reason(query, field):
    response = client_for(AdminFactory()).get(PATH, query)
    assert response.status_code == 400
    assert field in response.json()


def test_a_campaign_the_user_may_not_see_is_404():
    private = campaign_create(owner=UserFactory(), name="Private")
    response = client_for(UserFactory()).get(PATH, {"group_by": "day", "campaign": private.pk})
    assert response.status_code == 404


def test_csv_has_every_row_and_the_totals(seeded):
    response = client_for(AdminFactory()).get(PATH, {"group_by": "template", "format": "csv",
                                                     **RANGE})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "emails-by-template-2026-11-01-2026-11-30.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["label"] for row in rows] == ["Intro", "Demo", "No template", "Total"]
    assert rows[0]["opened"] == "2" and rows[0]["open_rate"] == "0.6667"
    assert rows[-1]["key"] == "total" and rows[-1]["sent"] == "5"
    via_accept = client_for(AdminFactory()).get(PATH, {"group_by": "template", **RANGE},
                                                HTTP_ACCEPT="text/csv")
    assert via_accept.content == response.content


def test_queries_do_not_grow_with_the_data(seeded):
    admin = client_for(AdminFactory())
    for group_by in ("template", "sender", "campaign_step", "day"):
        with CaptureQueriesContext(connection) as few:
            admin.get(PATH, {"group_by": group_by, **RANGE})
        for _ in range(20):
            SalesEmailFactory(sender=UserFactory(), template=EmailTemplateFactory(),
                              person=PersonFactory(), sent_at=DAY2)
        with CaptureQueriesContext(connection) as many:
            admin.get(PATH, {"group_by": group_by, **RANGE})
        assert len(many) == len(few) <= 6, group_by
