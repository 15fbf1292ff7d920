"""The campaigns API: CRUD with nested steps, visibility, members (add one or many with the
reasons for skips, list with current step and state, remove)."""

import pytest
from factories import AdminFactory, PersonFactory, UnsubscribeFactory, UserFactory
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignMember

pytestmark = pytest.mark.django_db

BODY = {"name": "Spring outreach", "status": "active", "steps": [
    {"type": "email", "day_offset": 0, "subject": "Hi {{first_name}}", "body": "Hello",
     "auto_send": True},
    {"type": "call", "day_offset": 2, "name": "Intro call"},
    {"type": "inmail", "day_offset": 5, "name": "InMail"}]}


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_create_read_update_with_nested_steps(seller):
    created = api(seller).post("/api/v1/campaigns/", BODY, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert [s["type"] for s in data["steps"]] == ["email", "call", "inmail"]
    assert data["status"] == "active" and data["owner"] == seller.pk
    steps = data["steps"]
    # Reorder: the call first, keep its id (and history), drop the InMail.
    changed = api(seller).patch(f"/api/v1/campaigns/{data['id']}/", {"steps": [
        {"id": steps[1]["id"], "type": "call", "day_offset": 0, "name": "Intro call"},
        {"id": steps[0]["id"], "type": "email", "day_offset": 1, "subject": "Hi",
         "body": "Hello", "auto_send": False}]}, format="json")
    assert changed.status_code == 200, changed.content
    assert [(s["id"], s["position"]) for s in changed.json()["steps"]] == [
        (steps[1]["id"], 0), (steps[0]["id"], 1)]


def test_bad_steps_are_field_errors(seller):
    response = api(seller).post("/api/v1/campaigns/", {"name": "x", "steps": [
        {"type": "email", "day_offset": 0}]}, format="json")
    assert response.status_code == 400
    assert response.json()["steps"] == [{"subject": ["An email step needs a subject."],
                                         "body": ["An email step needs a body."]}]


def test_visibility_own_shared_and_admin(seller):
    other = UserFactory()
    private = Campaign.objects.create(owner=other, name="Private")
    shared = Campaign.objects.create(owner=other, name="Shared", shared=True)
    names = [c["name"] for c in api(seller).get("/api/v1/campaigns/").json()["results"]]
    assert names == ["Shared"]
    assert api(seller).get(f"/api/v1/campaigns/{private.pk}/").status_code == 404
    assert api(seller).patch(f"/api/v1/campaigns/{shared.pk}/", {"name": "Mine"},
                             format="json").status_code == 403
    assert api(AdminFactory()).patch(f"/api/v1/campaigns/{private.pk}/", {"name": "Renamed"},
                                     format="json").status_code == 200


def test_members_add_one_or_many_with_reasons_then_list_and_remove(seller):
    campaign_id = api(seller).post("/api/v1/campaigns/", BODY, format="json").json()["id"]
    first, second, unsubscribed, no_email = (PersonFactory(), PersonFactory(), PersonFactory(),
                                             PersonFactory(email=""))
    UnsubscribeFactory(person=unsubscribed)
    url = f"/api/v1/campaigns/{campaign_id}/members/"
    one = api(seller).post(url, {"person": first.pk}, format="json")
    assert one.status_code == 201 and one.json()["added"] == 1
    many = api(seller).post(url, {"people": [first.pk, second.pk, unsubscribed.pk,
                                             no_email.pk, 999_999]}, format="json")
    assert many.status_code == 201, many.content
    assert many.json()["added"] == 1 and many.json()["skipped"] == 4
    assert many.json()["skipped_reasons"] == {"already_in_campaign": 1, "suppressed": 1,
                                              "no_email": 1, "not_found": 1}
    listed = api(seller).get(url).json()["results"]
    assert {m["person"] for m in listed} == {first.pk, second.pk}
    assert {m["current_step_title"] for m in listed} == {"Hi {{first_name}}"}
    assert {m["status"] for m in listed} == {"active"}
    assert api(seller).delete(f"{url}{first.pk}/").status_code == 204
    assert api(seller).delete(f"{url}{first.pk}/").status_code == 404
    member = CampaignMember.objects.get(person=first)
    assert member.status == "ended" and member.end_reason == "removed"
    ended = api(seller).get(f"{url}?status=ended").json()["results"]
    assert [m["end_reason"] for m in ended] == ["removed"]


def test_either_person_or_people(seller):
    campaign_id = api(seller).post("/api/v1/campaigns/", BODY, format="json").json()["id"]
    response = api(seller).post(f"/api/v1/campaigns/{campaign_id}/members/", {},
                                format="json")
    assert response.status_code == 400


def test_delete_only_without_history(seller):
    campaign_id = api(seller).post("/api/v1/campaigns/", BODY, format="json").json()["id"]
    api(seller).post(f"/api/v1/campaigns/{campaign_id}/members/",
                     {"person": PersonFactory().pk}, format="json")
    assert api(seller).delete(f"/api/v1/campaigns/{campaign_id}/").status_code == 409
    assert api(seller).patch(f"/api/v1/campaigns/{campaign_id}/", {"status": "archived"},
                             format="json").json()["status"] == "archived"
    assert CampaignMember.objects.get().end_reason == "archived"
