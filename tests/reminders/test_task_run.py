"""The task run ("Start tasks"): today's and overdue tasks one person at a time, the action for
each type, complete / skip / snooze and on to the next; and the snooze defects of issue 24
(a past day, an empty snooze, a banner that names the task)."""

from datetime import date, timedelta

import pytest
from factories import PersonFactory, ReminderTaskFactory, UserFactory

from campaigns.models import Campaign, CampaignMember, CampaignStep, MemberStep
from reminders.models import ReminderTask
from reminders.selectors import task_run_step

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def utc(settings):
    settings.TIME_ZONE = "UTC"


def today() -> date:
    return date.today()


def _run(client) -> str:
    return client.get("/tasks/run/").content.decode()


def test_the_run_takes_overdue_then_today_high_priority_first_and_leaves_later_ones(seller):
    later = ReminderTaskFactory(assignee=seller, due_date=today() + timedelta(days=1))
    normal = ReminderTaskFactory(assignee=seller, due_date=today())
    high = ReminderTaskFactory(assignee=seller, due_date=today(), priority="high")
    overdue = ReminderTaskFactory(assignee=seller, due_date=today() - timedelta(days=3))
    ReminderTaskFactory(due_date=today())  # another seller's

    order = []
    skipped = set()
    while (step := task_run_step(seller, skipped)).task is not None:
        order.append(step.task)
        skipped.add(step.task.pk)
    assert order == [overdue, high, normal]
    assert later not in order
    assert task_run_step(seller).left == 3


def test_start_tasks_is_on_the_tasks_page_with_the_due_count(seller_client, seller):
    ReminderTaskFactory(assignee=seller, due_date=today())
    ReminderTaskFactory(assignee=seller, due_date=today() - timedelta(days=1))

    page = seller_client.get("/tasks/").content.decode()

    assert 'href="/tasks/run/?start=1"' in page and "Start tasks" in page and "(2 due)" in page


def test_a_call_task_shows_the_number_to_dial_the_call_form_and_the_timeline(seller_client,
                                                                           seller):
    person = PersonFactory(first_name="Olivia", phone="+1 415-555-0142")
    ReminderTaskFactory(assignee=seller, person=person, type="call", name="Intro call",
                        due_date=today() - timedelta(days=1))

    page = _run(seller_client)

    assert "Intro call" in page and "Overdue" in page
    assert 'href="tel:+1%20415-555-0142"' in page
    assert 'id="call-form"' in page and 'name="part" value="form"' in page
    assert 'id="timeline"' in page and f'/people/{person.pk}/marketo-activities/' in page
    assert "1 to go" in page


def test_an_email_task_from_a_campaign_step_fills_the_composer(seller_client, seller):
    person = PersonFactory(first_name="Olivia")
    task = ReminderTaskFactory(assignee=seller, person=person, type="email", name="Email")
    campaign = Campaign.objects.create(name="Q2", owner=seller)
    step = CampaignStep.objects.create(campaign=campaign, position=0, type="email",
                                       subject="Hello {{first_name}}", body="About Q2 pricing")
    member = CampaignMember.objects.create(campaign=campaign, person=person, added_by=seller,
                                           added_at=task.created_at, anchor_at=task.created_at)
    MemberStep.objects.create(member=member, step=step, position=0, type="email", task=task,
                              due_at=task.created_at, ran_at=task.created_at, result="task")

    page = _run(seller_client)

    assert 'id="email-form"' in page and 'name="part" value="compose"' in page
    assert 'value="Hello {{first_name}}"' in page and "About Q2 pricing</textarea>" in page
    assert "Filled from the campaign step" in page
    assert "Insert merge field" in page


def test_an_email_task_without_a_campaign_starts_from_its_name(seller_client, seller):
    ReminderTaskFactory(assignee=seller, type="email", name="Send the deck",
                        details="Attach nothing, link it.")

    page = _run(seller_client)

    assert 'value="Send the deck"' in page and "Attach nothing, link it.</textarea>" in page


@pytest.mark.parametrize("kind", ["inmail", "custom"])
def test_inmail_and_custom_tasks_are_marked_done(seller_client, seller, kind):
    task = ReminderTaskFactory(assignee=seller, type=kind)

    page = _run(seller_client)
    assert "Mark done and go on" in page and 'id="call-form"' not in page

    response = seller_client.post(f"/tasks/{task.pk}/complete/", {"next": "/tasks/run/"})
    assert response.status_code == 302 and response["Location"] == "/tasks/run/"
    task.refresh_from_db()
    assert task.status == "complete"


def test_complete_skip_and_snooze_walk_through_the_run(seller_client, seller):
    first = ReminderTaskFactory(assignee=seller, name="First", due_date=today() - timedelta(2))
    second = ReminderTaskFactory(assignee=seller, name="Second", due_date=today() - timedelta(1))
    third = ReminderTaskFactory(assignee=seller, name="Third", due_date=today())

    assert f'data-task="{first.pk}"' in _run(seller_client)
    seller_client.post(f"/tasks/{first.pk}/complete/", {"next": "/tasks/run/"})
    page = seller_client.get("/tasks/run/").content.decode()
    assert f'data-task="{second.pk}"' in page and "Completed “First”" in page

    assert seller_client.post(f"/tasks/run/{second.pk}/skip/")["Location"] == "/tasks/run/"
    page = _run(seller_client)
    assert f'data-task="{third.pk}"' in page and "1 skipped" in page

    next_week = today() + timedelta(days=7)
    assert f'value="{next_week.isoformat()}"' in page  # the "Next week" preset
    seller_client.post(f"/tasks/{third.pk}/snooze/",
                       {"due_date": next_week.isoformat(), "next": "/tasks/run/"})
    third.refresh_from_db()
    assert third.due_date == next_week
    page = _run(seller_client)
    assert "You are through your tasks due today, except the 1 you skipped" in page

    # "Start tasks" again brings the skipped one back; it is still due.
    seller_client.get("/tasks/run/?start=1")
    assert f'data-task="{second.pk}"' in _run(seller_client)
    second.refresh_from_db()
    assert second.status == ReminderTask.Status.OPEN and second.due_date < today()


def test_a_seller_cannot_skip_another_sellers_task(seller_client):
    other = ReminderTaskFactory(assignee=UserFactory())
    assert seller_client.post(f"/tasks/run/{other.pk}/skip/").status_code == 404


def test_snooze_refuses_a_day_in_the_past_and_names_the_task(seller_client, seller):
    task = ReminderTaskFactory(assignee=seller, name="Chase the contract")
    yesterday = today() - timedelta(days=1)

    response = seller_client.post(f"/tasks/{task.pk}/snooze/",
                                  {"due_date": yesterday.isoformat()}, follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == "/tasks/"
    assert "Not snoozed “Chase the contract”" in page and "is past" in page
    task.refresh_from_db()
    assert task.due_date == today()


def test_an_empty_snooze_goes_back_to_where_it_came_from(seller_client, seller):
    task = ReminderTaskFactory(assignee=seller, name="Chase the contract")

    response = seller_client.post(f"/tasks/{task.pk}/snooze/",
                                  {"due_date": "", "next": "/tasks/run/"})

    assert response.status_code == 302 and response["Location"] == "/tasks/run/"
    page = seller_client.get("/tasks/run/").content.decode()
    assert "Not snoozed “Chase the contract”: Pick the day to snooze it to." in page


def test_snoozing_to_today_is_fine(seller_client, seller):
    task = ReminderTaskFactory(assignee=seller, due_date=today() - timedelta(days=4))

    seller_client.post(f"/tasks/{task.pk}/snooze/", {"due_date": today().isoformat()})

    task.refresh_from_db()
    assert task.due_date == today()
