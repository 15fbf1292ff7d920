"""Campaigns through the outbox over real HTTP: Marketo gets "Add to Sales Campaign" and
"Removed from Sales Campaign" with the campaign's name (in batches); a call step becomes a
reminder task that syncs to the Salesforce sandbox as a Task."""

from datetime import timedelta

import pytest
from campaign_helpers import CALL

from campaigns import clock
from campaigns.scheduler import campaign_steps_run
from campaigns.services import member_remove, members_add
from reminders.models import ReminderTask
from syncing.models import Delivery
from syncing.outbox.flush import deliveries_flush

pytestmark = pytest.mark.django_db
EXTERNAL = "POST /rest/v1/activities/external.json"


def activities(control, marketo_id: int) -> list[dict]:
    return control.call("GET", "custom-activities", leadId=marketo_id)["result"]


def test_marketo_gets_add_and_removed_with_the_campaign_name(marketo_connected, ava,
                                                            make_campaign, seed_people):
    campaign = make_campaign(ava, [dict(CALL, day_offset=3)], name="Q2 Renewals")
    people = seed_people("contact", 3)
    members_add(campaign, [p.pk for p in people], by=ava)
    member_remove(campaign, people[0], by=ava)
    marketo_connected.reset_counters()

    report = deliveries_flush(Delivery.Target.MARKETO, until_empty=True)

    assert report.counts == {Delivery.Status.DELIVERED: 4}
    # One Add Custom Activities call per kind: the three adds went as one batch.
    assert marketo_connected.counters()["by_endpoint"][EXTERNAL] == 2
    first = activities(marketo_connected, people[0].marketo_id)
    assert sorted(a["primaryAttributeValue"] for a in first) == ["Q2 Renewals", "Q2 Renewals"]
    names = {a["activityTypeId"] for a in first}
    assert len(names) == 2  # Add to / Removed from Sales Campaign
    for person in people[1:]:
        activity, = activities(marketo_connected, person.marketo_id)
        assert activity["primaryAttributeValue"] == "Q2 Renewals"
        attributes = {a["name"]: a["value"] for a in activity["attributes"]}
        assert attributes["Sales Campaign ID"] == str(campaign.pk)
        assert attributes["Sent By"] == ava.email


def test_a_batch_reads_its_members_in_one_query_and_sends_every_attribute(
        marketo_connected, ava, make_campaign, seed_people):
    """Only the columns the activities need are read, none of them row by row later, and the
    removed activity still says why the membership ended."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    campaign = make_campaign(ava, [dict(CALL, day_offset=3)], name="Q4 Upsell")
    people = seed_people("contact", 4)
    members_add(campaign, [p.pk for p in people], by=ava)
    member_remove(campaign, people[0], by=ava)

    with CaptureQueriesContext(connection) as queries:
        deliveries_flush(Delivery.Target.MARKETO, until_empty=True)

    reads = [query["sql"] for query in queries.captured_queries
             if 'FROM "campaigns_campaignmember"' in query["sql"]]
    assert len(reads) == 2  # one per batch: the adds, the removal
    # The person's Marketo id, not all of the person.
    assert all('"people_person"."marketo_id"' in sql and '"people_person"."email"' not in sql
               for sql in reads)
    assert not any(query["sql"].startswith("SELECT") and 'FROM "people_person"' in query["sql"]
                   for query in queries.captured_queries)
    by_type = {}
    for activity in activities(marketo_connected, people[0].marketo_id):
        by_type[activity["primaryAttributeValue"], len(by_type)] = {
            a["name"]: a["value"] for a in activity["attributes"]}
    assert sorted(attributes.get("Sales Call Status", "") for attributes in by_type.values()
                  ) == ["", "removed"]
    for attributes in by_type.values():
        assert attributes["Sales Campaign ID"] == str(campaign.pk)
        assert attributes["Sent By"] == ava.email
        assert attributes["Source"] == "Sales Actions"
    assert {name for name, _ in by_type} == {"Q4 Upsell"}


def test_activity_type_names(marketo_connected, ava, make_campaign, seed_people):
    from syncing.models import MarketoConnection
    from syncing.settings.services import marketo_client_for

    campaign = make_campaign(ava, [CALL], name="Q3")
    person, = seed_people("lead")
    members_add(campaign, [person.pk], by=ava)
    member_remove(campaign, person, by=ava)
    deliveries_flush(Delivery.Target.MARKETO, until_empty=True)
    types = {t["id"]: t["name"] for t in
             marketo_client_for(MarketoConnection.load()).custom_activity_types()}
    assert sorted(types[a["activityTypeId"]] for a in activities(
        marketo_connected, person.marketo_id)) == ["Add to Sales Campaign",
                                                   "Removed from Sales Campaign"]


def test_a_call_step_becomes_a_reminder_task_in_salesforce(salesforce, ava, make_campaign,
                                                           seed_people):
    campaign = make_campaign(ava, [dict(CALL, day_offset=1)], name="Q2 Renewals")
    person, = seed_people("contact")
    members_add(campaign, [person.pk], by=ava)
    clock.advance(timedelta(days=1))
    assert campaign_steps_run().results == {"task": 1}
    task = ReminderTask.objects.get()
    assert task.assignee == ava and task.type == "call"

    report = deliveries_flush(Delivery.Target.SALESFORCE, until_empty=True)

    assert report.counts == {Delivery.Status.DELIVERED: 1}
    task.refresh_from_db()
    remote, = [record for record in salesforce.call("GET", "records/Task")["records"]
               if record["Id"] == task.salesforce_id]
    assert remote["Subject"] == "Intro call (Q2 Renewals)"
    assert remote["WhoId"] == person.sfdc_contact_id
    assert "Sales campaign: Q2 Renewals" in remote["Description"]


def test_a_campaigns_adds_wait_the_linger_even_as_a_full_batch(
        marketo_connected, ava, make_campaign, seed_people, settings, monkeypatch,
        django_capture_on_commit_callbacks):
    """Their Marketo log goes after the campaign's first steps, not into the workers ahead of
    them (see ``deliveries_save``'s gather)."""
    from syncing.outbox import queue
    from syncing.tasks import deliveries_flush_task

    settings.OUTBOX_LINGER_SECONDS = 0.5
    monkeypatch.setitem(queue.BATCH_SIZES, Delivery.Target.MARKETO, 2)
    enqueued = []
    monkeypatch.setattr(deliveries_flush_task, "apply_async",
                        lambda args, **options: enqueued.append((args[0], options["countdown"])))
    campaign = make_campaign(ava, [dict(CALL, day_offset=3)])
    people = seed_people("contact", 3)

    with django_capture_on_commit_callbacks(execute=True):
        members_add(campaign, [p.pk for p in people], by=ava)

    assert enqueued == [("marketo", 0.5)]
    assert Delivery.objects.filter(kind="campaign_added", status="pending").count() == 3
