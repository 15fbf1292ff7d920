"""Calls become Marketo "Received Sales Call" custom activities (SPEC section 4), over real
HTTP to the Marketo sandbox: type registration (idempotent, a full instance), the activity and
its attributes, batches of 300, and no duplicate after a lost answer."""

from datetime import UTC, datetime

import pytest
from outbox_helpers import endpoint_calls, marketo_call_activities

from activities.models import CallStatus
from activities.services import CallInput, call_log, call_outcome_create, calls_log
from syncing.models import Delivery, MarketoConnection
from syncing.outbox.flush import deliveries_flush
from syncing.outbox.marketo_activities import (
    ACTIVITY_TYPES,
    RECEIVED_SALES_CALL,
    activity_types_register,
    marketo_activity_types_ensure,
)
from syncing.outbox.queue import deliveries_retry
from syncing.settings.services import marketo_client_for

pytestmark = pytest.mark.django_db
MARKETO = Delivery.Target.MARKETO
EXTERNAL = "/rest/v1/activities/external.json"
CALLED_AT = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)


@pytest.fixture
def marketo_api(marketo_connected):
    return marketo_client_for(MarketoConnection.load())


def log(seller, person, **fields):
    fields = {"duration_seconds": 95, "called_at": CALLED_AT} | fields
    return call_log(logged_by=seller, person=person, **fields)


def marketo_delivery(call) -> Delivery:
    return call.deliveries.get(target=MARKETO)


def test_a_call_becomes_a_received_sales_call_activity(seller, seed_people, marketo_connected,
                                                       marketo_api):
    call_outcome_create(name="No answer", call_status=CallStatus.NO_ANSWER)
    person, = seed_people("lead")
    call = log(seller, person, outcome="No answer", phone_number="+1 415-555-0100")

    report = deliveries_flush(MARKETO)

    assert report.counts == {Delivery.Status.DELIVERED: 1}
    types = {item["apiName"]: item for item in marketo_api.custom_activity_types()}
    assert {t.api_name for t in ACTIVITY_TYPES} <= set(types)
    assert {types[t.api_name]["status"] for t in ACTIVITY_TYPES} == {"approved"}
    received = types[RECEIVED_SALES_CALL]
    assert received["name"] == "Received Sales Call"
    activity, = marketo_call_activities(marketo_connected, person.marketo_id)
    assert activity["activityTypeId"] == received["id"]
    assert activity["primaryAttributeValue"] == "No answer"
    assert activity["activityDate"].startswith("2025-03-14T15:09:26")
    assert {a["name"]: a["value"] for a in activity["attributes"]} == {
        "Sales Call Made By": seller.email, "Sales Call Status": "no answer",
        "Sales Phone Number Called": "+1 415-555-0100", "Sales Call Duration": 95,
        "Source": "Sales Actions"}
    assert str(activity["marketoGUID"]) == marketo_delivery(call).remote_id


def test_registering_twice_creates_nothing_new(marketo_connected, marketo_api):
    first = activity_types_register(marketo_api)
    marketo_connected.reset_counters()

    second = activity_types_register(marketo_api)

    assert second.type_ids == first.type_ids and len(first.type_ids) == 8
    assert marketo_connected.counters()["by_endpoint"] == {
        "GET /rest/v1/activities/external/types.json": 1}


def test_a_half_registered_type_is_completed(marketo_connected, marketo_api):
    received = ACTIVITY_TYPES[0]
    marketo_api.create_custom_activity_type(received.definition())
    marketo_api.create_custom_activity_type_attributes(received.api_name,
                                                  received.attribute_definitions()[:2])

    registration = activity_types_register(marketo_api)

    assert not registration.missing
    live = marketo_api._call("GET", f"/rest/v1/activities/external/type/{received.api_name}"
                               "/describe.json")["result"][0]
    assert live["status"] == "approved"
    assert [a["apiName"] for a in live["attributes"]] == [
        api_name for api_name, _, _ in received.attributes]


def test_a_full_instance_says_so_and_delivers_once_room_is_made(
        seller, seed_people, marketo_connected, marketo_api, admin_client):
    fillers = [f"filler{n}" for n in range(10)]
    for name in fillers:
        marketo_api.create_custom_activity_type({
            "apiName": name, "name": f"Filler {name}", "triggerName": f"Fills {name}",
            "filterName": f"Filled {name}",
            "primaryAttribute": {"apiName": "what", "name": "What", "dataType": "string"}})
    person, = seed_people("lead")
    call = log(seller, person)

    deliveries_flush(MARKETO)

    delivery = marketo_delivery(call)
    assert (delivery.status, delivery.last_error_code) == (
        Delivery.Status.FAILED, "CUSTOM_ACTIVITY_TYPES_FULL")
    assert "at most 10 custom activity types" in delivery.last_error_message
    page = admin_client.get("/settings/").content.decode()
    assert "The Marketo instance is full: it allows at most 10 custom activity types" in page

    # An admin deletes two types in Marketo, then retries from Diagnostics.
    for name in fillers[:2]:
        marketo_api._call("POST", f"/rest/v1/activities/external/type/{name}/delete.json")
    assert deliveries_retry(Delivery.objects.filter(pk=delivery.pk)) == 1
    deliveries_flush(MARKETO)

    assert marketo_delivery(call).status == Delivery.Status.DELIVERED
    assert len(marketo_call_activities(marketo_connected, person.marketo_id)) == 1
    state = marketo_activity_types_ensure()
    assert RECEIVED_SALES_CALL in state["type_ids"] and state["full"]


def test_batches_of_up_to_300_per_call(seller, seed_people, marketo_connected):
    people = seed_people("lead", 320)
    calls_log(logged_by=seller, calls=[CallInput(person=p, called_at=CALLED_AT) for p in people])

    report = deliveries_flush(MARKETO)

    assert report.counts == {Delivery.Status.DELIVERED: 320}
    assert endpoint_calls(marketo_connected, EXTERNAL) == 2


def test_a_lost_answer_makes_no_duplicate_activity(seller, seed_people, marketo_connected):
    people = seed_people("contact_account", 3)
    calls = [log(seller, person) for person in people] + [log(seller, people[0])]
    marketo_activity_types_ensure()
    marketo_connected.fault("drop_after_apply", path=EXTERNAL, count=1)

    deliveries_flush(MARKETO, max_batches=1)

    assert {marketo_delivery(c).status for c in calls} == {Delivery.Status.PENDING}
    assert all(marketo_delivery(c).outcome_unknown for c in calls)

    deliveries_flush(MARKETO)

    assert {marketo_delivery(c).status for c in calls} == {Delivery.Status.DELIVERED}
    logged = [a for person in people
              for a in marketo_call_activities(marketo_connected, person.marketo_id)]
    assert len(logged) == 4
    assert {str(a["marketoGUID"]) for a in logged} == {
        marketo_delivery(c).remote_id for c in calls}
    assert endpoint_calls(marketo_connected, EXTERNAL) == 1


def test_a_lead_marketo_does_not_have_fails_with_marketos_reason(seller, marketo_connected):
    from factories import PersonFactory

    person = PersonFactory(marketo_id=9_999_999)
    call = log(seller, person)

    deliveries_flush(MARKETO)

    delivery = marketo_delivery(call)
    assert (delivery.status, delivery.last_error_code) == (Delivery.Status.FAILED, "1004")
    assert delivery.last_error_message == "Lead not found"
