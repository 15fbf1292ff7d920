# ruff: noqa: F811  (fixtures imported by name from tracking_fixtures)
"""Opens, clicks, replies and bounces become Marketo custom activities (SPEC section 4) through
the outbox, over real HTTP to the Marketo sandbox: the type each is logged as and its
attributes, one batch for many, and repeat opens logged once an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tracking_fixtures import (  # noqa: F401
    clean_outbox,
    make_email,
    person,
    sent_email,
)

from emails.events import EventIn, events_apply
from syncing.models import Delivery, MarketoConnection
from syncing.outbox.flush import deliveries_flush
from syncing.settings.services import marketo_client_for

pytestmark = pytest.mark.django_db
MARKETO = Delivery.Target.MARKETO
AT = datetime(2026, 12, 1, 9, 30, 5, tzinfo=UTC)
LINK = "https://www.example.com/pricing?plan=team"


def activities(control, marketo_id: int) -> list[dict]:
    return control.call("GET", "custom-activities", leadId=marketo_id)["result"]


def by_type(control, marketo_id: int) -> dict[str, list[dict]]:
    types = {item["id"]: item["name"] for item in
             marketo_client_for(MarketoConnection.load()).custom_activity_types()}
    found: dict[str, list[dict]] = {}
    for activity in activities(control, marketo_id):
        found.setdefault(types[activity["activityTypeId"]], []).append(activity)
    return found


def attributes(activity: dict) -> dict:
    return {a["name"]: a["value"] for a in activity["attributes"]}


def test_each_event_arrives_as_its_activity(marketo_connected, sent_email, seller):
    events_apply([
        EventIn(email=sent_email, kind="opened", at=AT, source="tracking"),
        EventIn(email=sent_email, kind="clicked", at=AT + timedelta(minutes=1),
                source="tracking", url=LINK),
        EventIn(email=sent_email, kind="replied", at=AT + timedelta(minutes=5),
                source="provider", detail="Reply from someone"),
        EventIn(email=sent_email, kind="bounced", at=AT + timedelta(minutes=6),
                source="provider", detail="550 5.1.1 mailbox unknown"),
        EventIn(email=sent_email, kind="delivered", at=AT - timedelta(minutes=1),
                source="provider"),
    ])
    marketo_connected.reset_counters()

    report = deliveries_flush(MARKETO)

    assert report.counts == {Delivery.Status.DELIVERED: 4}
    logged = by_type(marketo_connected, sent_email.person.marketo_id)
    assert sorted(logged) == ["Click Sales Email", "Open Sales Email", "Sales Email Bounced",
                              "Sales Email Replied"]
    opened, = logged["Open Sales Email"]
    assert opened["primaryAttributeValue"] == "Our pricing"
    assert opened["activityDate"].startswith("2026-12-01T09:30:05")
    assert attributes(opened) == {"Sent By": seller.email, "Source": "Sales Actions"}
    clicked, = logged["Click Sales Email"]
    assert clicked["primaryAttributeValue"] == LINK
    assert attributes(clicked)["Email Subject"] == "Our pricing"
    replied, = logged["Sales Email Replied"]
    assert attributes(replied) == {"Received By": seller.email, "Source": "Sales Actions"}
    bounced, = logged["Sales Email Bounced"]
    assert attributes(bounced) == {"Details": "550 5.1.1 mailbox unknown",
                                   "Email": sent_email.to_email, "Sent By": seller.email}
    # One Add Custom Activities call per kind (the outbox hands each kind its part).
    external = marketo_connected.counters()["by_endpoint"].get(
        "POST /rest/v1/activities/external.json")
    assert external == 4
    assert set(Delivery.objects.filter(target=MARKETO).values_list("status", flat=True)) == {
        Delivery.Status.DELIVERED}


def test_many_opens_go_out_in_one_batch_and_repeats_are_not_logged(
        marketo_connected, make_email):
    emails = [make_email() for _ in range(30)]
    events_apply([EventIn(email=email, kind="opened", at=AT + timedelta(minutes=minute),
                          source="tracking")
                  for email in emails for minute in (0, 20, 40)])
    marketo_connected.reset_counters()

    deliveries_flush(MARKETO)

    assert marketo_connected.counters()["by_endpoint"][
        "POST /rest/v1/activities/external.json"] == 1
    assert len(activities(marketo_connected, emails[0].person.marketo_id)) == 30


def test_switched_off_nothing_is_sent(marketo_connected, sent_email):
    from syncing.models import SyncSettings

    switches = SyncSettings.load()
    switches.log_activities_to_marketo = False
    switches.save()

    events_apply([EventIn(email=sent_email, kind="clicked", at=AT, source="tracking",
                          url=LINK)])
    deliveries_flush(MARKETO)

    delivery = Delivery.objects.get(kind="email_click")
    assert delivery.status == Delivery.Status.SKIPPED
    assert activities(marketo_connected, sent_email.person.marketo_id) == []
