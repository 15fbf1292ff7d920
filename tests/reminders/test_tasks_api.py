"""``/api/v1/tasks/`` (SPEC section 10): create, list with filters, read, PATCH and DELETE
reminder tasks; sellers see only their own (others' answer 404), admins everyone's; bad input
is a 400 with field errors and saves nothing."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from factories import AdminFactory, PersonFactory, ReminderTaskFactory, UserFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from reminders.api import TaskOutputSerializer
from reminders.models import ReminderTask

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def api(seller):
    return client_for(seller)


@pytest.fixture
def person():
    return PersonFactory()


def test_create_a_task_assigned_to_yourself(api, seller, person):
    response = api.post("/api/v1/tasks/", {
        "person": person.pk, "name": "  Send the pricing email ", "type": "email",
        "priority": "high", "due_date": "2026-03-31", "details": "Mention the discount"},
        format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert list(body) == list(TaskOutputSerializer().fields)
    assert body | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0, "person": person.pk, "name": "Send the pricing email", "type": "email",
        "status": "open", "priority": "high", "due_date": "2026-03-31",
        "details": "Mention the discount", "assignee": seller.pk,
        "assignee_username": seller.username, "origin": "app",
        "salesforce_id": "", "created_at": "", "updated_at": "", "completed_at": None}
    task = ReminderTask.objects.get(pk=body["id"])
    assert (task.assignee, task.created_by, task.person) == (seller, seller, person)


def test_defaults_are_custom_open_normal(api, person):
    body = api.post("/api/v1/tasks/", {"person": person.pk, "name": "Ping",
                                       "due_date": "2026-01-02"}, format="json").json()
    assert (body["type"], body["status"], body["priority"], body["details"]) == (
        "custom", "open", "normal", "")


@pytest.mark.parametrize(("change", "field"), [
    ({"priority": "low"}, "priority"),
    ({"type": "meeting"}, "type"),
    ({"status": "in_progress"}, "status"),
    ({"due_date": "next tuesday"}, "due_date"),
    ({"due_date": "2026-02-30"}, "due_date"),
    ({"due_date": "0001-01-01"}, "due_date"),
    ({"name": ""}, "name"),
    ({"name": "x" * 256}, "name"),
    ({"person": 10**9}, "person"),
    ({"person": 2**64}, "person"),
    ({"person": "abc"}, "person"),
    ({"assignee": "nobody-here"}, "assignee"),
    ({"assignee": 10**9}, "assignee"),
    ({"assignee": True}, "assignee"),
    ({"person": "1"}, "person"),
])
def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(api, person, change, field):
    data = {"person": person.pk, "name": "Call back", "due_date": "2026-01-02"} | change
    response = api.post("/api/v1/tasks/", data, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ReminderTask.objects.exists()


def test_a_person_outside_the_workspace_is_not_visible(api):
    gone = PersonFactory(in_workspace=False, removed_reason="deleted")
    response = api.post("/api/v1/tasks/", {"person": gone.pk, "name": "Call",
                                           "due_date": "2026-01-02"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"person": ["No such person in the workspace."]}


def test_a_seller_cannot_assign_a_task_to_someone_else(api, person):
    other = UserFactory()
    response = api.post("/api/v1/tasks/", {"person": person.pk, "name": "Call",
                                           "due_date": "2026-01-02",
                                           "assignee": other.username}, format="json")
    assert response.status_code == 400
    assert "assignee" in response.json()
    assert not ReminderTask.objects.exists()


@pytest.mark.parametrize("by", ["id", "username"])
def test_an_admin_assigns_to_a_seller_by_id_or_username(person, by):
    admin, seller = AdminFactory(), UserFactory()
    response = client_for(admin).post("/api/v1/tasks/", {
        "person": person.pk, "name": "Call", "due_date": "2026-01-02",
        "assignee": seller.pk if by == "id" else seller.username}, format="json")
    assert response.status_code == 201
    assert response.json()["assignee"] == seller.pk
    assert ReminderTask.objects.get().assignee == seller


def test_another_sellers_task_answers_404_for_every_method(api):
    theirs = ReminderTaskFactory()
    url = f"/api/v1/tasks/{theirs.pk}/"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"status": "complete"}, format="json").status_code == 404
    assert api.delete(url).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.status, theirs.deleted_at) == ("open", None)
    assert api.get("/api/v1/tasks/").json()["results"] == []


def test_an_id_beyond_64_bits_is_a_404(api):
    assert api.get(f"/api/v1/tasks/{2**64}/").status_code == 404


def test_admins_see_every_task_and_filter_by_assignee(person):
    ava, ben = UserFactory(), UserFactory()
    ava_task = ReminderTaskFactory(assignee=ava)
    ben_task = ReminderTaskFactory(assignee=ben)
    admin = client_for(AdminFactory())

    everyone = admin.get("/api/v1/tasks/").json()
    assert {t["id"] for t in everyone["results"]} == {ava_task.pk, ben_task.pk}
    only_ben = admin.get("/api/v1/tasks/", {"assignee": ben.pk}).json()
    assert [t["id"] for t in only_ben["results"]] == [ben_task.pk]
    assert admin.patch(f"/api/v1/tasks/{ava_task.pk}/", {"name": "Renamed"},
                       format="json").status_code == 200


def test_list_filters_status_person_and_due(api, seller, settings):
    settings.TIME_ZONE = "UTC"
    today = date.today()
    someone, other = PersonFactory(), PersonFactory()
    overdue = ReminderTaskFactory(assignee=seller, person=someone,
                                  due_date=today - timedelta(days=3))
    due_today = ReminderTaskFactory(assignee=seller, person=other, due_date=today)
    tomorrow = ReminderTaskFactory(assignee=seller, person=other,
                                   due_date=today + timedelta(days=1))
    later = ReminderTaskFactory(assignee=seller, person=someone,
                                due_date=today + timedelta(days=9))
    done = ReminderTaskFactory(assignee=seller, person=someone, status="complete",
                               due_date=today - timedelta(days=1))

    def ids(**params):
        response = api.get("/api/v1/tasks/", params)
        assert response.status_code == 200, response.json()
        return [task["id"] for task in response.json()["results"]]

    assert ids() == [overdue.pk, done.pk, due_today.pk, tomorrow.pk, later.pk]
    assert ids(status="complete") == [done.pk]
    assert ids(person=someone.pk) == [overdue.pk, done.pk, later.pk]
    assert ids(due="overdue") == [overdue.pk]
    assert ids(due="today") == [due_today.pk]
    assert ids(due="tomorrow") == [tomorrow.pk]
    assert ids(due="upcoming") == [later.pk]
    assert ids(due="overdue", person=other.pk) == []


@pytest.mark.parametrize("params", [{"status": "done"}, {"due": "yesterday"},
                                    {"person": "x"}, {"person": str(2**64)},
                                    {"type": "fax"}, {"assignee": "ava"}, {"due": ""}])
def test_bad_filters_are_400s(api, params):
    response = api.get("/api/v1/tasks/", params)
    assert response.status_code == 400
    assert set(params) <= set(response.json())


def test_today_follows_the_sellers_time_zone(api, seller, settings):
    settings.TIME_ZONE = "UTC"
    # Kiritimati (UTC+14) is always exactly one day ahead of Honolulu (UTC-10, no daylight
    # saving), whatever the hour. (Pago Pago, UTC-11, was two days behind from 10:00 to
    # 11:00 UTC, and "tomorrow" there was not Kiritimati's today.)
    now = datetime.now(ZoneInfo("UTC"))
    kiritimati = now.astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    honolulu = now.astimezone(ZoneInfo("Pacific/Honolulu")).date()
    assert kiritimati == honolulu + timedelta(days=1)
    task = ReminderTaskFactory(assignee=seller, due_date=kiritimati)

    seller.time_zone = "Pacific/Kiritimati"
    seller.save()
    assert [t["id"] for t in api.get("/api/v1/tasks/", {"due": "today"}).json()["results"]] == [
        task.pk]
    seller.time_zone = "Pacific/Honolulu"
    seller.save()
    assert api.get("/api/v1/tasks/", {"due": "today"}).json()["results"] == []
    assert [t["id"] for t in api.get("/api/v1/tasks/",
                                     {"due": "tomorrow"}).json()["results"]] == [task.pk]


def test_patch_completes_and_reopens(api, seller):
    task = ReminderTaskFactory(assignee=seller)
    body = api.patch(f"/api/v1/tasks/{task.pk}/", {"status": "complete"}, format="json").json()
    assert body["status"] == "complete" and body["completed_at"]
    body = api.patch(f"/api/v1/tasks/{task.pk}/", {"status": "open", "due_date": "2027-01-05",
                                                  "priority": "high"}, format="json").json()
    assert (body["status"], body["completed_at"], body["due_date"], body["priority"]) == (
        "open", None, "2027-01-05", "high")
    task.refresh_from_db()
    assert {"status", "due_date", "priority"} <= set(task.field_changed_at)


def test_bad_patch_changes_nothing(api, seller):
    task = ReminderTaskFactory(assignee=seller, name="Keep me")
    response = api.patch(f"/api/v1/tasks/{task.pk}/", {"name": "New", "priority": "low"},
                         format="json")
    assert response.status_code == 400
    assert "priority" in response.json()
    task.refresh_from_db()
    assert task.name == "Keep me"


def test_delete_removes_it_from_the_api_and_keeps_a_tombstone(api, seller):
    task = ReminderTaskFactory(assignee=seller)
    assert api.delete(f"/api/v1/tasks/{task.pk}/").status_code == 204
    assert api.get(f"/api/v1/tasks/{task.pk}/").status_code == 404
    task.refresh_from_db()
    assert task.deleted_at is not None


def test_unauthenticated_requests_are_refused():
    assert APIClient().get("/api/v1/tasks/").status_code in (401, 403)
