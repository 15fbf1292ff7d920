"""The unsubscribes API (SPEC section 10): record (one in force per person), list with filters,
read, and removal by an admin with a reason; suppression by address in the people API."""

import pytest
from django.core.cache import cache
from django.test import Client
from factories import AdminFactory, PersonFactory, UnsubscribeFactory, UserFactory
from rest_framework.authtoken.models import Token

from unsubscribes.models import Unsubscribe
from unsubscribes.selectors import is_suppressed
from unsubscribes.send_check import person_send_verdicts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "unsubscribes-api"}}
    cache.clear()


def token_client(user):
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
    return client


@pytest.fixture
def ava():
    return UserFactory(username="ava")


@pytest.fixture
def api(ava):
    """A seller's token client."""
    return token_client(ava)


@pytest.fixture
def admin_api():
    return token_client(AdminFactory(username="root"))


def record(api, person):
    return api.post("/api/v1/unsubscribes/", {"person": person.pk},
                    content_type="application/json")


def test_recording_answers_201_then_200_with_the_same_record(api):
    person = PersonFactory(email="Olivia.Smith@example.com")

    first = record(api, person)
    again = record(api, person)

    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert first.json() | {"id": None, "created_at": None} == {
        "id": None, "person": person.pk, "email": "Olivia.Smith@example.com", "source": "manual",
        "in_force": True, "created_at": None, "created_by": "ava", "removed_at": None,
        "removed_by": None, "removed_reason": "", "salesforce_push": "pending",
        "salesforce_error": ""}
    assert Unsubscribe.objects.count() == 1


@pytest.mark.parametrize("body, field", [
    ({}, "person"), ({"person": "abc"}, "person"), ({"person": 2**64}, "person"),
    ({"person": "5"}, "person"), ({"person": True}, "person"),
    ({"person": 0}, "person"), ({"person": 999_999}, "person"),
])
def test_bad_input_is_a_400_field_error_and_saves_nothing(api, body, field):
    response = api.post("/api/v1/unsubscribes/", body, content_type="application/json")

    assert response.status_code == 400 and field in response.json()
    assert not Unsubscribe.objects.exists()


def test_a_person_outside_the_workspace_cannot_be_recorded(api):
    person = PersonFactory(in_workspace=False)

    response = api.post("/api/v1/unsubscribes/", {"person": person.pk},
                        content_type="application/json")

    assert response.status_code == 400 and "person" in response.json()


def test_sellers_list_everyones_unsubscribes_with_filters(api):
    mine, theirs = PersonFactory(), PersonFactory(owner_email="ben@example.com")
    manual = UnsubscribeFactory(person=mine)
    synced = UnsubscribeFactory(person=theirs, source="salesforce")
    removed = UnsubscribeFactory(person=theirs, removed_at="2026-01-01T00:00Z",
                                 removed_reason="asked again")

    def ids(query=""):
        response = api.get(f"/api/v1/unsubscribes/{query}")
        assert response.status_code == 200
        return [row["id"] for row in response.json()["results"]]

    assert set(ids()) == {manual.pk, synced.pk, removed.pk}
    assert set(ids(f"?person={theirs.pk}")) == {synced.pk, removed.pk}
    assert ids("?source=salesforce") == [synced.pk]
    assert set(ids("?in_force=true")) == {manual.pk, synced.pk}
    assert ids("?in_force=false") == [removed.pk]
    assert ids(f"?person={theirs.pk}&in_force=true") == [synced.pk]


@pytest.mark.parametrize("query, field", [
    ("source=email", "source"), ("in_force=maybe", "in_force"), ("person=x", "person"),
    (f"person={2**64}", "person"), ("page=0", "page"), ("page=abc", "page"),
    ("in_force=", "in_force"), ("source=", "source"),
])
def test_bad_filters_are_400(api, query, field):
    response = api.get(f"/api/v1/unsubscribes/?{query}")

    assert response.status_code == 400 and field in response.json()


def test_admin_removes_with_a_reason_and_the_history_keeps_it(admin_api, api):
    person = PersonFactory()
    recorded = api.post("/api/v1/unsubscribes/", {"person": person.pk},
                        content_type="application/json").json()

    removed = admin_api.delete(f"/api/v1/unsubscribes/{recorded['id']}/",
                               {"reason": "Signed up again at the fair"},
                               content_type="application/json")
    again = api.post("/api/v1/unsubscribes/", {"person": person.pk},
                     content_type="application/json")

    assert removed.status_code == 200
    assert removed.json()["in_force"] is False and removed.json()["removed_by"] == "root"
    assert removed.json()["removed_reason"] == "Signed up again at the fair"
    assert api.get(f"/api/v1/unsubscribes/{recorded['id']}/").json()["removed_at"]
    assert again.status_code == 201 and again.json()["id"] != recorded["id"]
    assert Unsubscribe.objects.filter(person=person).count() == 2


def test_a_seller_may_not_remove_one(api):
    unsubscribe = UnsubscribeFactory()

    response = api.delete(f"/api/v1/unsubscribes/{unsubscribe.pk}/", {"reason": "please"},
                          content_type="application/json")

    assert response.status_code == 403
    unsubscribe.refresh_from_db()
    assert unsubscribe.in_force


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 1001}])
def test_removal_needs_a_reason(admin_api, body):
    unsubscribe = UnsubscribeFactory()

    response = admin_api.delete(f"/api/v1/unsubscribes/{unsubscribe.pk}/", body,
                                content_type="application/json")

    assert response.status_code == 400 and "reason" in response.json()
    unsubscribe.refresh_from_db()
    assert unsubscribe.in_force


def test_removing_twice_is_a_400_and_keeps_the_first_reason(admin_api):
    unsubscribe = UnsubscribeFactory()
    url = f"/api/v1/unsubscribes/{unsubscribe.pk}/"
    admin_api.delete(url, {"reason": "first"}, content_type="application/json")

    response = admin_api.delete(url, {"reason": "second"}, content_type="application/json")

    assert response.status_code == 400
    unsubscribe.refresh_from_db()
    assert unsubscribe.removed_reason == "first"


def test_unknown_ids_and_pages_are_404(api):
    assert api.get("/api/v1/unsubscribes/?page=99").status_code == 404
    assert api.get("/api/v1/unsubscribes/999999/").status_code == 404
    assert api.get(f"/api/v1/unsubscribes/{2**64}/").status_code == 404


def test_duplicates_by_email_share_suppression_ignoring_case(api):
    olivia = PersonFactory(email="Olivia@Example.com")
    twin = PersonFactory(email="olivia@example.COM")
    other = PersonFactory(email="someone@example.com")

    api.post("/api/v1/unsubscribes/", {"person": olivia.pk}, content_type="application/json")

    unsubscribed = {row["id"] for row in
                    api.get("/api/v1/people/?unsubscribed=true").json()["results"]}
    assert unsubscribed == {olivia.pk, twin.pk}
    assert api.get(f"/api/v1/people/{twin.pk}/").json()["unsubscribed"] is True
    assert api.get(f"/api/v1/people/{other.pk}/").json()["unsubscribed"] is False
    assert other.pk in {row["id"] for row in
                        api.get("/api/v1/people/?unsubscribed=false").json()["results"]}
    assert is_suppressed("OLIVIA@example.com") and not is_suppressed("someone@example.com")


def test_the_person_and_the_old_address_stay_suppressed_when_marketo_changes_it(api):
    person = PersonFactory(email="old@example.com")
    UnsubscribeFactory(person=person)

    person.email = "new@example.com"
    person.save()

    assert is_suppressed("old@example.com")
    assert api.get(f"/api/v1/people/{person.pk}/").json()["unsubscribed"] is True
    assert person_send_verdicts([person])[person.pk].status == "blocked"


def test_a_removed_unsubscribe_suppresses_nothing(api):
    person = PersonFactory(email="back@example.com")
    UnsubscribeFactory(person=person, removed_at="2026-01-01T00:00Z", removed_reason="x")

    assert not is_suppressed("back@example.com")
    assert api.get(f"/api/v1/people/{person.pk}/").json()["unsubscribed"] is False


def test_the_schema_describes_the_endpoints(api):
    schema = api.get("/api/schema/?format=json").json()
    listing = schema["paths"]["/api/v1/unsubscribes/"]
    detail = schema["paths"]["/api/v1/unsubscribes/{id}/"]

    assert {p["name"] for p in listing["get"]["parameters"]} >= {"person", "source", "in_force"}
    assert {"200", "201", "400"} <= set(listing["post"]["responses"])
    assert {"200", "400", "403", "404"} <= set(detail["delete"]["responses"])
