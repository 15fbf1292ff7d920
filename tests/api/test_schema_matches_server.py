"""The schema and the server agree on what a write may hold: for each kind of mismatch the
hardening review found, a body the schema refuses is refused by the server (400), and one it
allows gets past validation. The fuzz stage checks the same at random; these pin each kind."""

import jsonschema
import pytest
from django.core.cache import cache
from factories import AdminFactory, PersonFactory, UnsubscribeFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from activities.models import MAX_CALL_NOTES, Call, CallReason
from campaigns.models import Campaign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "schema-matches-server"}}
    cache.clear()


@pytest.fixture
def admin_api():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=AdminFactory()).key}")
    return client


def body_schema(client, path: str, method: str) -> dict:
    schema = client.get("/api/schema/?format=json").json()
    body = schema["paths"][path][method]["requestBody"]
    return {**body["content"]["application/json"]["schema"], "components": schema["components"]}


def schema_allows(client, path: str, method: str, body) -> bool:
    return jsonschema.Draft4Validator(body_schema(client, path, method),
                                      format_checker=jsonschema.FormatChecker()).is_valid(body)


def field_errors(response) -> set[str]:
    body = response.json()
    return set(body) if isinstance(body, dict) else set()


@pytest.mark.parametrize("field, value", [("subject", "   "), ("body", "\t\n"), ("subject", "")])
def test_email_subject_and_body_must_hold_text(admin_api, field, value):
    body = {"person": PersonFactory().pk, "subject": "Hello", "body": "Hi", field: value}
    assert not schema_allows(admin_api, "/api/v1/emails/", "post", body)
    response = admin_api.post("/api/v1/emails/", body, format="json")
    assert response.status_code == 400
    assert field in field_errors(response)


def test_a_campaign_name_must_hold_text(admin_api):
    assert not schema_allows(admin_api, "/api/v1/campaigns/", "post", {"name": "  "})
    response = admin_api.post("/api/v1/campaigns/", {"name": "  "}, format="json")
    assert response.status_code == 400 and "name" in field_errors(response)


def test_a_task_name_must_hold_text(admin_api):
    body = {"person": PersonFactory().pk, "name": " ", "due_date": "2027-01-05"}
    assert not schema_allows(admin_api, "/api/v1/tasks/", "post", body)
    response = admin_api.post("/api/v1/tasks/", body, format="json")
    assert response.status_code == 400 and "name" in field_errors(response)


def test_an_event_needs_a_message_id_and_the_list_an_event(admin_api):
    assert not schema_allows(admin_api, "/api/v1/emails/events/", "post", [])
    assert admin_api.post("/api/v1/emails/events/", [], format="json").status_code == 400
    blank = [{"event_type": "delivered", "message_id": " "}]
    assert not schema_allows(admin_api, "/api/v1/emails/events/", "post", blank)
    assert admin_api.post("/api/v1/emails/events/", blank, format="json").status_code == 400


def test_the_task_subject_template_must_hold_text(admin_api):
    assert not schema_allows(admin_api, "/api/v1/sync/settings/", "patch",
                             {"task_subject_template": "  "})
    response = admin_api.patch("/api/v1/sync/settings/", {"task_subject_template": "  "},
                               format="json")
    assert response.status_code == 400 and "task_subject_template" in field_errors(response)


def test_call_reasons_are_the_configured_ones(admin_api):
    CallReason.objects.create(name="Follow-up", position=0)
    person = PersonFactory()
    assert schema_allows(admin_api, "/api/v1/calls/", "post",
                         {"person": person.pk, "reason": "Follow-up"})
    assert not schema_allows(admin_api, "/api/v1/calls/", "post",
                             {"person": person.pk, "reason": "Made up"})
    response = admin_api.post("/api/v1/calls/", {"person": person.pk, "reason": "Made up"},
                              format="json")
    assert response.status_code == 400 and "reason" in field_errors(response)


def test_removing_an_unsubscribe_declares_its_reason_body(admin_api):
    schema = admin_api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/unsubscribes/{id}/"]["delete"]
    assert operation["requestBody"]["required"] is True
    assert not schema_allows(admin_api, "/api/v1/unsubscribes/{id}/", "delete", {})
    unsubscribe = UnsubscribeFactory()
    assert admin_api.delete(f"/api/v1/unsubscribes/{unsubscribe.pk}/", {},
                            format="json").status_code == 400
    assert schema_allows(admin_api, "/api/v1/unsubscribes/{id}/", "delete", {"reason": "Asked"})


@pytest.mark.parametrize("body", [{}, {"person": 1, "people": [1]}])
def test_campaign_members_take_a_person_or_people(admin_api, body):
    campaign = Campaign.objects.create(owner=AdminFactory(), name="Q1")
    path = "/api/v1/campaigns/{id}/members/"
    assert not schema_allows(admin_api, path, "post", body)
    assert admin_api.post(f"/api/v1/campaigns/{campaign.pk}/members/", body,
                          format="json").status_code == 400
    assert schema_allows(admin_api, path, "post", {"people": [1, 2]})


@pytest.mark.parametrize("days, allowed", [("0123", True), ("0", True), ("11", False),
                                           ("0120", False), ("7", False)])
def test_window_days_are_weekdays_each_once(admin_api, days, allowed):
    body = {"name": "Q1", "window_days": days}
    assert schema_allows(admin_api, "/api/v1/campaigns/", "post", body) is allowed
    response = admin_api.post("/api/v1/campaigns/", body, format="json")
    assert (response.status_code == 201) is allowed


@pytest.mark.parametrize("step, allowed", [
    ({"type": "email", "subject": "Hi", "body": "Hello"}, True),
    ({"type": "email", "subject": "Hi"}, False),
    ({"type": "email", "subject": " ", "body": "Hello"}, False),
    ({"type": "call", "name": "Call them"}, True),
    ({"type": "call", "subject": "Hi", "body": "Hello"}, False),
    ({"type": "inmail", "name": "  "}, False),
])
def test_step_fields_follow_the_step_type(admin_api, step, allowed):
    body = {"name": "Q1", "steps": [step]}
    assert schema_allows(admin_api, "/api/v1/campaigns/", "post", body) is allowed
    response = admin_api.post("/api/v1/campaigns/", body, format="json")
    assert (response.status_code == 201) is allowed, response.json()


@pytest.mark.parametrize("due, allowed", [("1900-01-01", True), ("2999-12-31", True),
                                          ("1899-12-31", False), ("3000-01-01", False)])
def test_due_dates_are_within_1900_to_2999(admin_api, due, allowed):
    body = {"person": PersonFactory().pk, "name": "Call back", "due_date": due}
    assert schema_allows(admin_api, "/api/v1/tasks/", "post", body) is allowed
    response = admin_api.post("/api/v1/tasks/", body, format="json")
    assert (response.status_code == 201) is allowed


def test_call_notes_are_capped_in_the_schema_and_the_server(admin_api):
    person = PersonFactory()
    longest = {"person": person.pk, "notes": "n" * MAX_CALL_NOTES}
    too_long = {"person": person.pk, "notes": "n" * (MAX_CALL_NOTES + 1)}
    assert schema_allows(admin_api, "/api/v1/calls/", "post", longest)
    assert not schema_allows(admin_api, "/api/v1/calls/", "post", too_long)
    response = admin_api.post("/api/v1/calls/", too_long, format="json")
    assert response.status_code == 400 and "notes" in field_errors(response)
    assert not Call.objects.exists()
    assert admin_api.post("/api/v1/calls/", longest, format="json").status_code == 201
    assert len(Call.objects.get().notes) == MAX_CALL_NOTES
