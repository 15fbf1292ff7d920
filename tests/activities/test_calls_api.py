"""``/api/v1/calls/`` (SPEC section 10): log a call (or a list of them) with token auth, read
calls with their delivery states (a seller their own, an admin everyone's), and 400s that name
the bad fields."""

from datetime import timedelta

import pytest
from django.utils import timezone
from factories import AdminFactory, CallFactory, PersonFactory, UserFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from activities.api import CallOutputSerializer, DeliveryOutputSerializer
from activities.models import Call, CallSettings, CallStatus
from activities.services import call_outcome_create, call_reason_create
from syncing.models import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(seller):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=seller).key}")
    return client


@pytest.fixture
def person():
    return PersonFactory(phone="+1 415-555-0199", sfdc_lead_id="00Q000000000001AAA")


def test_log_a_call(api, seller, person):
    call_outcome_create(name="Meeting booked")
    call_reason_create(name="Follow-up")

    response = api.post("/api/v1/calls/", {
        "person": person.pk, "outcome": "meeting booked", "reason": "Follow-up",
        "notes": "Demo on Tuesday", "duration_seconds": 312,
        "called_at": "2025-05-02T09:30:00Z"}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    call = Call.objects.get(pk=body["id"])
    assert (call.person, call.logged_by, call.outcome, call.reason, call.duration_seconds) == (
        person, seller, "Meeting booked", "Follow-up", 312)
    assert body["phone_number"] == "+1 415-555-0199"  # prefilled from the person
    assert body["called_at"] == "2025-05-02T09:30:00Z"
    # The documented (OpenAPI) fields, exactly.
    assert list(body) == list(CallOutputSerializer().fields)
    assert list(body["deliveries"][0]) == list(DeliveryOutputSerializer().fields)
    # Neither system is connected in this test: both deliveries say so.
    assert {(d["target"], d["status"], d["skip_reason"]) for d in body["deliveries"]} == {
        ("salesforce", "skipped", "Salesforce is not connected."),
        ("marketo", "skipped", "Marketo is not connected.")}


def test_log_a_list_of_calls_all_or_nothing(api, person):
    other = PersonFactory()
    good = {"person": person.pk, "duration_seconds": 30}

    bad = api.post("/api/v1/calls/", [good, {"person": other.pk, "duration_seconds": -1},
                                      {"person": 999_999}], format="json")

    assert bad.status_code == 400
    assert bad.json()[0] == {}
    assert "duration_seconds" in bad.json()[1]
    assert bad.json()[2] == {"person": ["No such person in the workspace."]}
    assert not Call.objects.exists()

    created = api.post("/api/v1/calls/", [good, {"person": other.pk}], format="json")

    assert created.status_code == 201
    assert [c["person"] for c in created.json()] == [person.pk, other.pk]
    assert Delivery.objects.count() == 4


@pytest.mark.parametrize("payload,field,message", [
    ({"person": None}, "person", "This field may not be null."),
    ({"person": "x"}, "person", "A valid integer is required."),
    ({"duration_seconds": 90_000}, "duration_seconds",
     "Ensure this value is less than or equal to 86400."),
    ({"outcome": "Sold"}, "outcome",
     "Unknown outcome 'Sold'; choose one of the outcomes on Settings."),
    ({"reason": "Because"}, "reason", "Unknown reason 'Because'."),
    ({"called_at": "tomorrow"}, "called_at", None),
])
def test_bad_input_is_a_400_naming_the_field(api, person, payload, field, message):
    response = api.post("/api/v1/calls/", {"person": person.pk} | payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    if message:
        assert response.json()[field] == [message]
    assert not Call.objects.exists()


def test_a_call_in_the_future_is_refused(api, person):
    response = api.post("/api/v1/calls/", {
        "person": person.pk, "called_at": (timezone.now() + timedelta(hours=1)).isoformat()},
        format="json")

    assert response.status_code == 400
    assert response.json() == {"called_at": ["A call cannot be in the future."]}


def test_a_person_outside_the_workspace_is_refused(api):
    gone = PersonFactory(in_workspace=False, removed_reason="deleted")

    response = api.post("/api/v1/calls/", {"person": gone.pk}, format="json")

    assert response.json() == {"person": ["No such person in the workspace."]}


def test_outcome_settings_apply(api, person):
    call_outcome_create(name="Busy", call_status=CallStatus.FAILED)
    CallSettings(outcome_mode=CallSettings.OutcomeMode.REQUIRED).save()

    missing = api.post("/api/v1/calls/", {"person": person.pk}, format="json")
    given = api.post("/api/v1/calls/", {"person": person.pk, "outcome": "Busy"}, format="json")
    CallSettings(outcome_mode=CallSettings.OutcomeMode.OFF).save()
    refused = api.post("/api/v1/calls/", {"person": person.pk, "outcome": "Busy"},
                       format="json")

    assert missing.json() == {"outcome": ["Choose the call's outcome."]}
    assert given.status_code == 201 and given.json()["status"] == "failed"
    assert refused.json() == {"outcome": ["Call outcomes are switched off."]}


def test_list_and_detail_show_only_your_own_calls(api, person):
    mine = api.post("/api/v1/calls/", {"person": person.pk}, format="json").json()
    someone_else = UserFactory()
    other = APIClient()
    other.force_authenticate(someone_else)
    theirs = other.post("/api/v1/calls/", {"person": person.pk}, format="json").json()

    listing = api.get("/api/v1/calls/").json()

    assert [c["id"] for c in listing["results"]] == [mine["id"]]
    assert api.get(f"/api/v1/calls/{mine['id']}/").json()["deliveries"] == mine["deliveries"]
    assert api.get(f"/api/v1/calls/{theirs['id']}/").status_code == 404


def test_an_admin_sees_everyones_calls_and_narrows_by_who_logged_them(person):
    ava, ben = UserFactory(), UserFactory()
    avas = CallFactory(person=person, logged_by=ava)
    bens = CallFactory(person=person, logged_by=ben)
    admin = APIClient()
    admin.force_authenticate(AdminFactory())

    everyone = admin.get("/api/v1/calls/").json()["results"]
    only_ben = admin.get(f"/api/v1/calls/?logged_by={ben.pk}").json()["results"]

    assert {c["id"] for c in everyone} == {avas.pk, bens.pk}
    assert [(c["id"], c["logged_by"]) for c in only_ben] == [(bens.pk, ben.username)]
    assert admin.get(f"/api/v1/calls/{avas.pk}/").json()["logged_by"] == ava.username


def test_a_seller_filtering_by_another_seller_sees_nothing(api, seller, person):
    CallFactory(person=person, logged_by=seller)
    theirs = CallFactory(person=person)

    assert api.get(f"/api/v1/calls/?logged_by={theirs.logged_by_id}").json()["results"] == []


def test_anonymous_requests_are_refused(person):
    assert APIClient().post("/api/v1/calls/", {"person": person.pk},
                            format="json").status_code == 401
