"""The task queue page and the person page's task panel: sections with counts in the seller's
time zone, one-click complete, snooze, edit, delete, filters, the navigation's due count, and
seller isolation (another seller's task is a 404)."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import AdminFactory, PersonFactory, ReminderTaskFactory, UserFactory

from reminders.models import ReminderTask
from reminders.selectors import task_due_count

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def utc(settings):
    settings.TIME_ZONE = "UTC"


def today() -> date:
    return date.today()


def section_count(html: str, key: str) -> int:
    marker = f'id="heading-{key}"'
    start = html.index(marker)
    count = html.index('<span class="count">', start) + len('<span class="count">')
    return int(html[count:html.index("</span>", count)])


def test_queue_sections_and_counts(seller_client, seller):
    for days, status in [(-2, "open"), (-1, "open"), (0, "open"), (1, "open"), (5, "open"),
                         (30, "open"), (-1, "complete")]:
        ReminderTaskFactory(assignee=seller, due_date=today() + timedelta(days=days),
                            status=status, name=f"Task {days} {status}")
    ReminderTaskFactory(due_date=today())  # someone else's

    response = seller_client.get("/tasks/")
    html = response.content.decode()
    assert response.status_code == 200
    assert [section_count(html, key) for key in
            ("overdue", "today", "tomorrow", "upcoming", "completed")] == [2, 1, 1, 2, 1]
    # The navigation shows overdue + today.
    assert '<span class="badge" title="Overdue or due today">3<' in html
    assert html.index("Task -2 open") < html.index("Task -1 open") < html.index("Task 0 open")


def test_complete_with_one_click(seller_client, seller):
    task = ReminderTaskFactory(assignee=seller)
    response = seller_client.post(f"/tasks/{task.pk}/complete/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.status == "complete" and task.completed_at
    html = response.content.decode()
    assert section_count(html, "today") == 0 and section_count(html, "completed") == 1
    assert 'id="nav-tasks-due" class="nav-count" hx-swap-oob="true"></span>' in html


def test_snooze_to_another_day(seller_client, seller):
    task = ReminderTaskFactory(assignee=seller, due_date=today() - timedelta(days=1))
    later = today() + timedelta(days=7)
    response = seller_client.post(f"/tasks/{task.pk}/snooze/", {"due_date": later.isoformat()})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.due_date == later
    assert task_due_count(seller) == 0


def test_snooze_needs_a_date(seller_client, seller):
    task = ReminderTaskFactory(assignee=seller)
    response = seller_client.post(f"/tasks/{task.pk}/snooze/", {"due_date": "soon"},
                                  HTTP_HX_REQUEST="true")
    assert "Not snoozed" in response.content.decode()
    task.refresh_from_db()
    assert task.due_date == today()


def test_edit_a_task(seller_client, seller):
    task = ReminderTaskFactory(assignee=seller, name="Old")
    page = seller_client.get(f"/tasks/{task.pk}/edit/")
    assert page.status_code == 200 and 'value="Old"' in page.content.decode()
    response = seller_client.post(f"/tasks/{task.pk}/edit/", {
        "name": "New name", "type": "inmail", "due_date": "2027-02-03", "priority": "high",
        "details": "Say hi"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.name, task.type, task.due_date, task.priority, task.details) == (
        "New name", "inmail", date(2027, 2, 3), "high", "Say hi")


def test_delete_asks_first(seller_client, seller):
    task = ReminderTaskFactory(assignee=seller, name="Doomed")
    confirm = seller_client.get(f"/tasks/{task.pk}/delete/")
    assert "Delete the task “Doomed”?" in confirm.content.decode()
    assert ReminderTask.live.filter(pk=task.pk).exists()
    seller_client.post(f"/tasks/{task.pk}/delete/")
    assert not ReminderTask.live.filter(pk=task.pk).exists()


@pytest.mark.parametrize("action", ["complete", "reopen", "snooze", "delete", "edit"])
def test_another_sellers_task_is_a_404(seller_client, action):
    theirs = ReminderTaskFactory(name="Theirs")
    response = seller_client.post(f"/tasks/{theirs.pk}/{action}/",
                                  {"due_date": "2030-01-01", "name": "Mine now", "type": "call",
                                   "priority": "normal"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.status, theirs.due_date, theirs.deleted_at) == (
        "Theirs", "open", today(), None)
    assert "Theirs" not in seller_client.get("/tasks/").content.decode()


def test_filter_by_type(seller_client, seller):
    ReminderTaskFactory(assignee=seller, type="email", name="An email")
    ReminderTaskFactory(assignee=seller, type="call", name="A call")
    html = seller_client.get("/tasks/", {"type": "email"}).content.decode()
    assert "An email" in html and "A call" not in html


def test_admin_sees_everyone_and_filters_by_assignee(client):
    ava, ben = UserFactory(first_name="Ava"), UserFactory(first_name="Ben")
    ReminderTaskFactory(assignee=ava, name="Task for Ava")
    ReminderTaskFactory(assignee=ben, name="Task for Ben")
    client.force_login(AdminFactory())
    html = client.get("/tasks/").content.decode()
    assert "Task for Ava" in html and "Task for Ben" in html
    html = client.get("/tasks/", {"assignee": ben.pk}).content.decode()
    assert "Task for Ben" in html and "Task for Ava" not in html


def test_show_all_lists_a_whole_section(seller_client, seller):
    for n in range(55):
        ReminderTaskFactory(assignee=seller, due_date=today() + timedelta(days=3 + n),
                            name=f"Later {n:02d}")
    html = seller_client.get("/tasks/").content.decode()
    assert "Later 24" in html and "Later 25" not in html and "Show all 55" in html
    assert "Later 54" in seller_client.get("/tasks/", {"show": "upcoming"}).content.decode()


def test_queue_today_follows_the_users_time_zone(seller_client, seller):
    seller.time_zone = "Pacific/Kiritimati"
    seller.save()
    response = seller_client.get("/tasks/")
    assert "Pacific/Kiritimati" in response.content.decode()


def test_set_your_time_zone(seller_client, seller):
    response = seller_client.post("/account/", {"time_zone": "Europe/Paris"})
    assert response.status_code == 302
    seller.refresh_from_db()
    assert seller.time_zone == "Europe/Paris"
    assert seller_client.post("/account/", {"time_zone": "Mars/Olympus"}).status_code == 400
    seller.refresh_from_db()
    assert seller.time_zone == "Europe/Paris"


def test_person_page_lists_open_tasks_and_adds_one(seller_client, seller):
    person = PersonFactory()
    ReminderTaskFactory(assignee=seller, person=person, name="Open one")
    ReminderTaskFactory(assignee=seller, person=person, name="Done one", status="complete")
    ReminderTaskFactory(person=person, name="Not yours")

    panel = seller_client.get(f"/people/{person.pk}/tasks/", HTTP_HX_REQUEST="true")
    html = panel.content.decode()
    assert "Open one" in html and "Done one" not in html and "Not yours" not in html

    response = seller_client.post(f"/people/{person.pk}/tasks/", {
        "name": "Send deck", "type": "email", "due_date": "2027-01-01", "priority": "normal",
        "details": ""}, HTTP_HX_REQUEST="true")
    assert "Send deck" in response.content.decode()
    task = ReminderTask.objects.get(name="Send deck")
    assert (task.person, task.assignee, task.type) == (person, seller, "email")

    # Completing it from the panel updates the navigation's count too.
    overdue = ReminderTaskFactory(assignee=seller, person=person, name="Late one",
                                  due_date=today() - timedelta(days=1))
    response = seller_client.post(f"/tasks/{overdue.pk}/complete/", {"panel": "person"},
                                  HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="person-tasks"' in html and "Late one" not in html
    assert 'id="nav-tasks-due" class="nav-count" hx-swap-oob="true">' in html


def test_add_task_without_a_name_shows_the_error(seller_client):
    person = PersonFactory()
    response = seller_client.post(f"/people/{person.pk}/tasks/", {
        "name": "", "type": "call", "due_date": "2027-01-01", "priority": "normal"})
    assert response.status_code == 400
    assert not ReminderTask.objects.exists()


def test_the_navigation_count_costs_one_query(seller_client, seller):
    ReminderTaskFactory(assignee=seller, due_date=today() - timedelta(days=1))
    with CaptureQueriesContext(connection) as queries:
        html = seller_client.get("/account/").content.decode()
    assert '<span class="badge" title="Overdue or due today">1<' in html
    assert sum("reminders_remindertask" in q["sql"] for q in queries.captured_queries) == 1


def test_names_render_as_text(seller_client, seller):
    person = PersonFactory(first_name="<b>Bold</b>", company="AT&T <Labs>")
    ReminderTaskFactory(assignee=seller, person=person, name="<script>alert('x')</script>")
    html = seller_client.get("/tasks/").content.decode()
    assert "<script>alert" not in html and "<b>Bold</b>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "AT&amp;T &lt;Labs&gt;" in html
