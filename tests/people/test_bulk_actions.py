"""Bulk actions from the people list: on the rows ticked, or on everyone matching the filters
("all N matching") — add to a campaign, add a reminder task to each, export (admins)."""

import csv
import io
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import AdminFactory, PersonFactory, UserFactory

from campaigns.models import CampaignMember
from campaigns.services import campaign_create
from reminders import services as reminder_services
from reminders.models import ReminderTask
from syncing.models import Delivery, SyncSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def ava(client):
    user = UserFactory(username="ava", email="ava.stone@example.com")
    client.force_login(user)
    return user


TASK = {"name": "Send the case study", "type": "email", "due_date": "2030-03-02",
        "priority": "high", "details": "The retail one."}


def test_a_task_for_each_ticked_person_assigned_to_the_caller(client, ava):
    ticked = PersonFactory.create_batch(3, company="Initech")
    PersonFactory(company="Initech")  # not ticked

    form = client.get("/tasks/add-for-people/", {
        "owner": "all", "company": "Initech", "person": [p.pk for p in ticked]})
    assert "Add a task for 3 people" in form.content.decode()

    response = client.post("/tasks/add-for-people/", {
        **TASK, "owner": "all", "company": "Initech", "person": [p.pk for p in ticked]})

    assert response.status_code == 302
    assert response["Location"] == "/people/?owner=all&company=Initech"
    tasks = ReminderTask.objects.order_by("person_id")
    assert [t.person_id for t in tasks] == sorted(p.pk for p in ticked)
    assert {(t.assignee_id, t.created_by_id, t.name, t.type, t.priority, t.due_date,
             t.details, t.status) for t in tasks} == {
        (ava.pk, ava.pk, "Send the case study", "email", "high", date(2030, 3, 2),
         "The retail one.", "open")}


def test_all_matching_takes_everyone_the_filters_match_not_only_the_page(client, ava):
    initech = PersonFactory.create_batch(60, company="Initech")
    PersonFactory.create_batch(3, company="Globex")

    client.post("/tasks/add-for-people/", {**TASK, "owner": "all", "company": "Initech",
                                           "all": "1", "person": [initech[0].pk]})

    assert set(ReminderTask.objects.values_list("person_id", flat=True)) == {
        p.pk for p in initech}


def test_bulk_tasks_cost_the_same_queries_for_4_or_40_people(client, ava):
    SyncSettings.objects.update_or_create(pk=1, defaults={
        "log_reminder_tasks_to_salesforce": True})
    few, many = PersonFactory.create_batch(4), PersonFactory.create_batch(40)

    def queries(people) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.post("/tasks/add-for-people/", {
                **TASK, "owner": "all", "person": [p.pk for p in people]})
        assert response.status_code == 302
        return len(captured)

    assert queries(few) == queries(many) <= 20
    assert ReminderTask.objects.count() == 44
    # Each one goes to Salesforce through the outbox, as a task added alone would.
    assert Delivery.objects.filter(kind="reminder_task", target="salesforce").count() == 44


def test_bad_input_keeps_what_was_typed_and_adds_nothing(client, ava):
    person = PersonFactory()

    response = client.post("/tasks/add-for-people/", {
        **TASK, "due_date": "3020-01-01", "person": [person.pk]})

    assert response.status_code == 400
    page = response.content.decode()
    assert 'value="Send the case study"' in page and "The retail one." in page
    assert "A date from 1900-01-01 to 2999-12-31." in page
    assert not ReminderTask.objects.exists()


def test_more_people_than_the_limit_are_refused(client, ava, monkeypatch):
    monkeypatch.setattr(reminder_services, "BULK_TASK_LIMIT", 5)
    import reminders.views
    monkeypatch.setattr(reminders.views, "BULK_TASK_LIMIT", 5)
    PersonFactory.create_batch(6, company="Initech")

    page = client.get("/tasks/add-for-people/", {"owner": "all", "company": "Initech"})
    assert "more than 5 people" in page.content.decode()
    response = client.post("/tasks/add-for-people/", {**TASK, "owner": "all",
                                                      "company": "Initech"})
    assert response.status_code == 400
    assert not ReminderTask.objects.exists()


def test_admins_export_the_ticked_people(client, ava):
    people = PersonFactory.create_batch(3)
    client.force_login(AdminFactory())

    response = client.get("/people/export.csv", {"owner": "all",
                                                 "person": [people[0].pk, people[2].pk]})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(row["id"]) for row in rows] == [people[0].pk, people[2].pk]
    assert rows[0]["email"] == people[0].email


def test_admins_export_everyone_matching(client, ava):
    PersonFactory.create_batch(2, company="Initech")
    PersonFactory(company="Globex")
    client.force_login(AdminFactory())

    response = client.get("/people/export.csv", {"owner": "all", "company": "initech",
                                                 "all": "1"})

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row["company"] for row in rows} == {"Initech"} and len(rows) == 2


def test_sellers_cannot_export(client, ava):
    PersonFactory()
    assert client.get("/people/export.csv", {"owner": "all"}).status_code == 403
    page = client.get("/people/", {"owner": "all"}).content.decode()
    assert "Export CSV" not in page


def test_a_campaign_add_from_ticked_rows_takes_only_them(client, ava):
    campaign = campaign_create(owner=ava, name="Spring", status="active",
                               steps=[{"type": "call", "day_offset": 0, "name": "Intro"}])
    people = PersonFactory.create_batch(5, company="Initech")
    ticked = [people[1].pk, people[3].pk]

    preview = client.get("/campaigns/add-people/", {
        "owner": "all", "company": "Initech", "person": ticked, "campaign": campaign.pk})
    page = preview.content.decode()
    assert "The 2 people you ticked" in page
    assert "<strong>2</strong> people match" in page

    client.post("/campaigns/add-people/", {"owner": "all", "company": "Initech",
                                           "person": ticked, "campaign": campaign.pk})

    assert sorted(CampaignMember.objects.values_list("person_id", flat=True)) == ticked


def test_the_list_offers_the_bulk_actions_with_its_filters(client, ava):
    person = PersonFactory(company="Initech")

    page = client.get("/people/", {"owner": "all", "company": "Initech"}).content.decode()

    assert f'<input type="checkbox" name="person" value="{person.pk}"' in page
    assert '<input type="checkbox" name="all" value="1" data-select-all> All 1 person matching' \
        in page
    assert 'formaction="/tasks/add-for-people/"' in page
    assert '<input type="hidden" name="company" value="Initech">' in page
