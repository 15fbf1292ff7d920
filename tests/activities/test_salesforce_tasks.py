"""Calls become Salesforce Tasks (SPEC section 5), over real HTTP to the Salesforce sandbox:
the exact fields for each shape of person, the subject template, orgs without call fields, and
surviving what Salesforce does to a client (dropped connections, revoked sessions, locks, 5xx,
the daily API limit)."""

from datetime import UTC, datetime

import pytest
from django.test import override_settings
from factories import PersonFactory
from outbox_helpers import endpoint_calls, sandbox_records

from activities.services import (
    CallInput,
    call_log,
    call_outcome_create,
    call_reason_create,
    calls_log,
)
from sandbox.seed import sf_id
from syncing.models import Delivery, DeliveryAttempt, SyncSettings, SyncStream
from syncing.outbox import flush, queue
from syncing.outbox.flush import deliveries_flush
from syncing.outbox.skips import SKIP_NO_SALESFORCE_ID

pytestmark = pytest.mark.django_db
SALESFORCE = Delivery.Target.SALESFORCE
COMPOSITE = "composite/sobjects"
CALLED_AT = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)


@pytest.fixture(autouse=True)
def salesforce_only(salesforce_connected):
    """Marketo stays unconnected here (its deliveries are skipped); tests/activities/
    test_marketo_activities.py covers it."""
    return salesforce_connected


def log(seller, person, **fields):
    fields = {"outcome": "", "notes": "Asked about pricing.\nCall back in May.",
              "duration_seconds": 272, "called_at": CALLED_AT} | fields
    return call_log(logged_by=seller, person=person, **fields)


def salesforce_delivery(call) -> Delivery:
    return call.deliveries.get(target=SALESFORCE)


def tasks_by_id(control) -> dict[str, dict]:
    return {task["Id"]: task for task in sandbox_records(control)}


def test_contact_with_an_opportunity(seller, seed_people, salesforce_connected):
    call_outcome_create(name="Connected")
    person, = seed_people("contact_opportunity")
    call = log(seller, person, outcome="Connected")

    report = deliveries_flush(SALESFORCE)

    delivery = salesforce_delivery(call)
    assert report.counts == {Delivery.Status.DELIVERED: 1}
    assert delivery.status == Delivery.Status.DELIVERED
    task = tasks_by_id(salesforce_connected)[delivery.remote_id]
    assert {key: task.get(key) for key in (
        "WhoId", "WhatId", "Subject", "TaskSubtype", "Type", "Status", "ActivityDate",
        "Description", "CallDurationInSeconds", "CallType", "CallDisposition")} == {
        "WhoId": person.sfdc_contact_id, "WhatId": person.sfdc_opportunity_id,
        "Subject": "Call: Connected", "TaskSubtype": "Call", "Type": "Call", "Status": "Completed",
        "ActivityDate": "2025-03-14", "Description": "Asked about pricing.\nCall back in May.",
        "CallDurationInSeconds": 272, "CallType": "Outbound", "CallDisposition": "Connected"}
    assert delivery.attempt_log.get().outcome == DeliveryAttempt.Outcome.DELIVERED


def test_contact_with_only_an_account(seller, seed_people, salesforce_connected):
    person, = seed_people("contact_account")
    call = log(seller, person)

    deliveries_flush(SALESFORCE)

    task = tasks_by_id(salesforce_connected)[salesforce_delivery(call).remote_id]
    assert (task["WhoId"], task["WhatId"]) == (person.sfdc_contact_id, person.sfdc_account_id)


def test_a_lead_gets_no_what_id(seller, seed_people, salesforce_connected):
    person, = seed_people("lead")
    call = log(seller, person)

    deliveries_flush(SALESFORCE)

    task = tasks_by_id(salesforce_connected)[salesforce_delivery(call).remote_id]
    assert task["WhoId"] == person.sfdc_lead_id
    assert task.get("WhatId") is None


def test_a_person_without_a_salesforce_id_is_skipped_with_a_reason(seller, seed_people,
                                                                   salesforce_connected):
    person, = seed_people("no_salesforce")
    call = log(seller, person)

    deliveries_flush(SALESFORCE)

    delivery = salesforce_delivery(call)
    assert delivery.status == Delivery.Status.SKIPPED
    assert delivery.skip_reason == SKIP_NO_SALESFORCE_ID
    assert endpoint_calls(salesforce_connected, COMPOSITE) == 0
    assert sandbox_records(salesforce_connected) == []


def test_subject_template_placeholders_one_line_cut_to_255(seller, seed_people,
                                                           salesforce_connected):
    outcome = "Left voicemail " + "x" * 60
    call_outcome_create(name=outcome)
    call_reason_create(name="Renewal")
    sync = SyncSettings.load()
    sync.task_subject_template = ("{{activity_type}} ({{call_reason}})\n{{ call_outcome }} "
                                  "{{sales_campaign_name}} {{call_outcome}} {{call_outcome}} "
                                  "{{call_outcome}}")
    sync.save()
    person, = seed_people("lead")
    call = log(seller, person, outcome=outcome.upper(), reason="renewal")

    deliveries_flush(SALESFORCE)

    task = tasks_by_id(salesforce_connected)[salesforce_delivery(call).remote_id]
    assert task["Subject"] == f"Call (Renewal) {outcome} {outcome} {outcome} {outcome}"[:255]
    assert len(task["Subject"]) == 255
    assert task["CallDisposition"] == outcome


def test_an_org_without_call_fields_gets_tasks_without_them(seller, seed_people,
                                                            salesforce_connected):
    salesforce_connected.configure(task_call_fields=False)
    first, second = seed_people("contact_account", 2)
    calls = [log(seller, first)]
    deliveries_flush(SALESFORCE)
    calls.append(log(seller, second))
    deliveries_flush(SALESFORCE)

    tasks = tasks_by_id(salesforce_connected)
    for call in calls:
        task = tasks[salesforce_delivery(call).remote_id]
        assert task["Subject"] == "Call" and task["Status"] == "Completed"
        assert "CallDurationInSeconds" not in task and "CallType" not in task
    # Described once, then remembered.
    assert endpoint_calls(salesforce_connected, "/describe", "GET") == 1


def test_batches_of_up_to_200_per_request(seller, seed_people, salesforce_connected):
    people = seed_people("lead", 150)
    calls_log(logged_by=seller, calls=[CallInput(person=p) for p in people + people[:60]])

    report = deliveries_flush(SALESFORCE)

    assert report.counts[Delivery.Status.DELIVERED] == 210
    assert report.batches == 2
    assert endpoint_calls(salesforce_connected, COMPOSITE) == 2
    assert len(sandbox_records(salesforce_connected)) == 210


def test_a_batch_reads_its_calls_people_and_sellers_in_one_query(seller, seed_people,
                                                                 salesforce_connected):
    """Only the columns the Task needs are read, and none of them row by row later."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    people = seed_people("contact_opportunity", 2) + seed_people("lead", 3)
    calls_log(logged_by=seller, calls=[CallInput(person=p) for p in people])

    with CaptureQueriesContext(connection) as queries:
        deliveries_flush(SALESFORCE)

    reads = [query["sql"] for query in queries.captured_queries
             if 'FROM "activities_call"' in query["sql"]]
    assert len(reads) == 1
    assert not any('FROM "people_person"' in query["sql"] and "activities_call" not in
                   query["sql"] for query in queries.captured_queries)
    tasks = sandbox_records(salesforce_connected)
    assert sorted(task["WhoId"] for task in tasks) == sorted(
        p.sfdc_contact_id or p.sfdc_lead_id for p in people)


def test_a_dropped_connection_after_apply_makes_no_duplicate(seller, seed_people,
                                                             salesforce_connected):
    people = seed_people("contact_account", 3)
    # Two identical calls to one person: reconciling must pair them with two Tasks.
    calls = [log(seller, person) for person in people] + [log(seller, people[0])]
    salesforce_connected.fault("drop_after_apply", path=COMPOSITE, count=1)

    deliveries_flush(SALESFORCE, max_batches=1)

    for call in calls:
        delivery = salesforce_delivery(call)
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.outcome_unknown and delivery.last_error_code == "CONNECTION_LOST"
    assert len(sandbox_records(salesforce_connected)) == 4

    deliveries_flush(SALESFORCE)

    tasks = tasks_by_id(salesforce_connected)
    assert len(tasks) == 4
    assert {salesforce_delivery(call).remote_id for call in calls} == set(tasks)
    assert endpoint_calls(salesforce_connected, COMPOSITE) == 1
    assert {d.attempt_log.first().outcome for d in Delivery.objects.filter(
        target=SALESFORCE)} == {DeliveryAttempt.Outcome.RECONCILED}


def test_reconciling_finds_only_the_lost_tasks(seller, seed_people, salesforce_connected):
    person, = seed_people("lead")
    delivered = log(seller, person)
    deliveries_flush(SALESFORCE)
    # The same call logged again; its answer is lost after Salesforce wrote it.
    again = log(seller, person)
    salesforce_connected.fault("drop_after_apply", path=COMPOSITE, count=1)
    deliveries_flush(SALESFORCE)

    assert len(sandbox_records(salesforce_connected)) == 2
    assert salesforce_delivery(again).remote_id != salesforce_delivery(delivered).remote_id


def test_a_revoked_session_logs_in_again(seller, seed_people, salesforce_connected):
    first, second = seed_people("lead", 2)
    log(seller, first)
    deliveries_flush(SALESFORCE)
    salesforce_connected.call("POST", "tokens/revoke")
    call = log(seller, second)

    deliveries_flush(SALESFORCE)

    assert salesforce_delivery(call).status == Delivery.Status.DELIVERED
    assert endpoint_calls(salesforce_connected, "oauth2/token") == 2


def test_lock_errors_are_retried(seller, seed_people, salesforce_connected):
    people = seed_people("contact_opportunity", 4)
    calls = [log(seller, person) for person in people]
    salesforce_connected.fault("UNABLE_TO_LOCK_ROW", path=COMPOSITE, records=2, count=1)

    report = deliveries_flush(SALESFORCE, max_batches=1)

    assert report.counts == {Delivery.Status.DELIVERED: 2, Delivery.Status.PENDING: 2}
    locked = Delivery.objects.filter(target=SALESFORCE, status=Delivery.Status.PENDING)
    assert {d.last_error_code for d in locked} == {"UNABLE_TO_LOCK_ROW"}
    assert not any(d.outcome_unknown for d in locked)

    deliveries_flush(SALESFORCE)

    assert {salesforce_delivery(call).status for call in calls} == {Delivery.Status.DELIVERED}
    assert len(sandbox_records(salesforce_connected)) == 4


def test_server_errors_are_survived(seller, seed_people, salesforce_connected):
    first, second = seed_people("lead", 2)
    one = log(seller, first)
    salesforce_connected.fault("http_500", path=COMPOSITE, count=1)
    deliveries_flush(SALESFORCE)  # the client itself retries a 500
    assert salesforce_delivery(one).status == Delivery.Status.DELIVERED

    two = log(seller, second)
    # More 503s in a row than the client retries: the outbox retries later.
    salesforce_connected.fault("http_503", path=COMPOSITE, count=3)
    deliveries_flush(SALESFORCE, max_batches=1)
    delivery = salesforce_delivery(two)
    assert (delivery.status, delivery.last_error_code) == (Delivery.Status.PENDING, "HTTP_503")
    assert delivery.next_attempt_at is not None

    deliveries_flush(SALESFORCE)

    assert salesforce_delivery(two).status == Delivery.Status.DELIVERED
    assert len(sandbox_records(salesforce_connected)) == 2


def test_request_limit_exceeded_pauses_and_later_resumes(seller, seed_people, admin_client,
                                                         salesforce_connected):
    people = seed_people("lead", 3)
    calls = [log(seller, person) for person in people]
    salesforce_connected.fault("REQUEST_LIMIT_EXCEEDED", path=COMPOSITE, count=1)

    report = deliveries_flush(SALESFORCE)

    assert report.paused_until is not None
    assert {salesforce_delivery(c).status for c in calls} == {Delivery.Status.PENDING}
    page = admin_client.get("/settings/").content.decode()
    assert "Deliveries to Salesforce are paused until" in page
    assert "REQUEST_LIMIT_EXCEEDED" in page
    # Paused: a flush sends nothing.
    assert deliveries_flush(SALESFORCE).batches == 0
    assert flush.delivery_targets_due() == []

    # The pause runs out: the next flush probes the limit, then delivers.
    SyncStream.objects.filter(name=SyncStream.Name.SALESFORCE_DELIVERIES).update(
        paused_until=datetime(2020, 1, 1, tzinfo=UTC))
    deliveries_flush(SALESFORCE)

    assert {salesforce_delivery(c).status for c in calls} == {Delivery.Status.DELIVERED}
    assert endpoint_calls(salesforce_connected, "/limits", "GET") == 1
    assert "paused until" not in admin_client.get("/settings/").content.decode()


def test_deliveries_pause_at_the_admins_share_of_the_daily_limit(
        seller, seed_people, salesforce_connected, monkeypatch):
    salesforce_connected.configure(daily_api_limit=10)
    SyncSettings.objects.update_or_create(pk=1, defaults={
        "salesforce_daily_api_share_percent": 30})
    monkeypatch.setitem(queue.BATCH_SIZES, SALESFORCE, 2)
    for person in seed_people("lead", 6):
        log(seller, person)

    report = deliveries_flush(SALESFORCE)

    # describe + 2 batches bring usage to 3 of 10: the third batch waits.
    assert report.counts == {Delivery.Status.DELIVERED: 4, Delivery.Status.PENDING: 2}
    stream = SyncStream.objects.get(name=SyncStream.Name.SALESFORCE_DELIVERIES)
    assert stream.paused_until is not None
    assert "3 of 10 (30%; the share set on Settings is 30%)" in stream.last_error
    assert endpoint_calls(salesforce_connected, COMPOSITE) == 2


def test_a_rejected_record_fails_with_salesforces_error(seller, salesforce_connected, db):
    # A contact id the org does not have.
    person = PersonFactory(sfdc_contact_id=sf_id("003", 999_999))
    call = log(seller, person)

    deliveries_flush(SALESFORCE)

    delivery = salesforce_delivery(call)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error_code == "INVALID_CROSS_REFERENCE_KEY"
    assert "invalid cross reference id" in delivery.last_error_message


@override_settings(OUTBOX_MAX_ATTEMPTS=2)
def test_transient_errors_give_up_after_the_last_attempt(seller, seed_people,
                                                         salesforce_connected):
    person, = seed_people("lead")
    call = log(seller, person)
    salesforce_connected.fault("UNABLE_TO_LOCK_ROW", path=COMPOSITE, count=5)

    deliveries_flush(SALESFORCE)
    deliveries_flush(SALESFORCE)
    deliveries_flush(SALESFORCE)  # nothing is due any more

    delivery = salesforce_delivery(call)
    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 2)
    assert delivery.last_error_code == "UNABLE_TO_LOCK_ROW"
