"""Adding people, due times on a controllable clock, task steps, pausing and resuming,
the end of a campaign."""

from datetime import timedelta

import pytest
from campaign_helpers import CALL, CUSTOM, INMAIL, START
from factories import PersonFactory, UnsubscribeFactory

from campaigns import clock
from campaigns.models import CampaignMember, MemberStep
from campaigns.scheduler import campaign_steps_run, due_members, window_opening
from campaigns.services import campaign_status_set, member_remove, members_add
from reminders.models import ReminderTask

pytestmark = pytest.mark.django_db


def test_adding_makes_the_first_step_due_at_its_offset(seller, make_campaign):
    campaign = make_campaign(seller, [dict(INMAIL, day_offset=2), CUSTOM])
    person = PersonFactory()
    report = members_add(campaign, [person.pk], by=seller)
    assert len(report.added) == 1
    member = CampaignMember.objects.get()
    assert member.next_step_due_at == START + timedelta(days=2)
    assert campaign_steps_run().claimed == 0
    clock.advance(timedelta(days=2) - timedelta(seconds=1))
    assert campaign_steps_run().claimed == 0
    clock.advance(timedelta(seconds=1))
    report = campaign_steps_run()
    assert report.claimed == 1 and report.results == {"task": 1}
    task = ReminderTask.objects.get()
    assert task.assignee == seller and task.type == "inmail" and task.person == person
    assert "Spring outreach" in task.name
    member.refresh_from_db()
    assert member.next_position == 1
    assert member.next_step_due_at == START + timedelta(days=5)


def test_steps_run_in_order_and_the_last_one_ends_the_membership(seller, make_campaign):
    campaign = make_campaign(seller, [CALL, INMAIL, CUSTOM])
    members_add(campaign, [PersonFactory().pk], by=seller)
    assert campaign_steps_run().results == {"task": 1}
    clock.advance(timedelta(days=10))
    report = campaign_steps_run()
    assert report.results == {"task": 2} and report.ended == {"completed": 1}
    member = CampaignMember.objects.get()
    assert member.status == "ended" and member.end_reason == "completed"
    assert [item.title for item in member.history.all()] == [
        "Intro call", "InMail follow-up", "Send a gift"]
    assert ReminderTask.objects.count() == 3


def test_the_same_person_is_not_added_twice(seller, make_campaign):
    campaign = make_campaign(seller, [CALL])
    person = PersonFactory()
    members_add(campaign, [person.pk], by=seller)
    report = members_add(campaign, [person.pk], by=seller)
    assert report.added == [] and report.skipped == {"already_in_campaign": 1}
    member_remove(campaign, person, by=seller)
    assert len(members_add(campaign, [person.pk], by=seller).added) == 1
    assert CampaignMember.objects.filter(person=person).count() == 2


def test_suppressed_people_are_skipped_and_ended(seller, make_campaign):
    campaign = make_campaign(seller, [dict(CALL, day_offset=1)])
    unsubscribed, later = PersonFactory(), PersonFactory()
    UnsubscribeFactory(person=unsubscribed)
    report = members_add(campaign, [unsubscribed.pk, later.pk], by=seller)
    assert len(report.added) == 1 and report.skipped == {"suppressed": 1}
    UnsubscribeFactory(person=later)  # without the signal: checked before the step
    clock.advance(timedelta(days=1))
    report = campaign_steps_run()
    assert report.ended == {"unsubscribed": 1} and not ReminderTask.objects.exists()


def test_pause_holds_and_resume_keeps_the_spacing(seller, make_campaign):
    campaign = make_campaign(seller, [dict(CALL, day_offset=1), dict(INMAIL, day_offset=3)])
    members_add(campaign, [PersonFactory().pk], by=seller)
    campaign_status_set(campaign, "paused", by=seller)
    clock.advance(timedelta(days=4))
    assert campaign_steps_run().claimed == 0
    campaign_status_set(campaign, "active", by=seller)
    member = CampaignMember.objects.get()
    # Four days of pause: the first step, due a day after adding, is due a day from now.
    assert member.next_step_due_at == START + timedelta(days=5)
    clock.advance(timedelta(days=1))
    assert campaign_steps_run().results == {"task": 1}
    member.refresh_from_db()
    assert member.next_step_due_at == START + timedelta(days=7)


def test_removal_ends_and_keeps_history(seller, make_campaign):
    campaign = make_campaign(seller, [CALL, INMAIL])
    person = PersonFactory()
    members_add(campaign, [person.pk], by=seller)
    campaign_steps_run()
    member_remove(campaign, person, by=seller)
    member = CampaignMember.objects.get()
    assert member.status == "ended" and member.end_reason == "removed"
    assert MemberStep.objects.filter(member=member).count() == 1
    clock.advance(timedelta(days=5))
    assert campaign_steps_run().claimed == 0


def test_unsubscribe_signal_ends_memberships(seller, make_campaign,
                                             django_capture_on_commit_callbacks):
    from unsubscribes.services import unsubscribe_record

    campaign = make_campaign(seller, [dict(CALL, day_offset=3)])
    person = PersonFactory()
    duplicate = PersonFactory(email=person.email.upper())
    members_add(campaign, [person.pk, duplicate.pk], by=seller)
    with django_capture_on_commit_callbacks(execute=True):
        unsubscribe_record(person, "manual", by=seller)
    assert set(CampaignMember.objects.values_list("end_reason", flat=True)) == {"unsubscribed"}


def test_sending_window_in_the_sellers_time_zone(seller, make_campaign):
    seller.time_zone = "America/New_York"
    campaign = make_campaign(seller, [CALL], window_enabled=True, window_days="01234",
                             window_start_hour=9, window_end_hour=17)
    # START is Monday 08:00 UTC = 03:00 in New York: opens at 09:00 there (14:00 UTC, EST).
    assert window_opening(campaign, seller.zone, START) == START + timedelta(hours=6)
    friday_evening = START + timedelta(days=4, hours=15)  # Fri 23:00 UTC = 18:00 NY
    assert window_opening(campaign, seller.zone, friday_evening) == START + timedelta(
        days=7, hours=6)


def test_due_query_uses_the_partial_index(seller, make_campaign):
    plan = due_members(START).explain()
    assert "campaign_member_due" in plan


def test_the_beat_task_runs_due_steps(seller, make_campaign, settings):
    from campaigns.tasks import campaign_steps_task

    assert "campaigns.tasks.campaign_steps_task" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    campaign = make_campaign(seller, [CALL])
    members_add(campaign, [PersonFactory().pk], by=seller)
    campaign_steps_task.apply()
    assert ReminderTask.objects.count() == 1
