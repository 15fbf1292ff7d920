"""A scheduler batch's automatic emails are queued together (one insert of emails, one of
events, one send enqueued), each member's outcome its own; a failure of the batch insert
falls back to one member at a time; and a full batch enqueues its helper before its steps
run, so idle workers take the next batches meanwhile."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import PersonFactory

from campaigns import scheduler
from campaigns.models import CampaignMember, MemberStep
from campaigns.scheduler import campaign_steps_run
from campaigns.services import members_add
from emails.models import EmailEvent, SalesEmail

pytestmark = pytest.mark.django_db

AUTO = {"type": "email", "day_offset": 0, "auto_send": True,
        "subject": "{{first_name}}, about {{sales_campaign_name}}",
        "body": "Hi {{first_name}},\n\n{{sender_name}}"}


@pytest.fixture(autouse=True)
def no_marketo_check(db):
    from syncing.models import SyncSettings

    SyncSettings.objects.update_or_create(pk=1, defaults={"marketo_unsubscribe_check": False})


def test_a_batch_queues_its_emails_together_each_member_with_its_own(
        seller, make_campaign, django_capture_on_commit_callbacks):
    from emails.sending import emails_send_soon

    campaign = make_campaign(seller, [AUTO], name="Q2 Renewals")
    people = PersonFactory.create_batch(30)
    # An address the email cannot go to: this member's email is refused, the others go.
    refused = PersonFactory(email="no-at-sign.example.com")
    members_add(campaign, [p.pk for p in [*people, refused]], by=seller)

    with (CaptureQueriesContext(connection) as queries,
          django_capture_on_commit_callbacks() as after_commit):
        report = campaign_steps_run()

    assert report.results == {"queued": 30, "refused": 1}
    emails = {email.person_id: email for email in SalesEmail.objects.all()}
    assert set(emails) == {p.pk for p in people}
    for person in people:
        assert emails[person.pk].subject == f"{person.first_name}, about Q2 Renewals"
    assert EmailEvent.objects.filter(kind="queued").count() == 30
    steps = {step.member.person_id: step for step in
             MemberStep.objects.select_related("member")}
    assert all(steps[p.pk].email == emails[p.pk] and steps[p.pk].result == "queued"
               for p in people)
    assert steps[refused.pk].result == "refused" and steps[refused.pk].email is None
    assert "no email address" in steps[refused.pk].detail
    assert set(CampaignMember.objects.values_list("end_reason", flat=True)) == {"completed"}
    assert set(CampaignMember.objects.values_list("status", "next_position")) == {("ended", 1)}
    # The members were claimed locked and live: each ends in one write (its new position
    # with it), without a second locked read; no separate move to the end first.
    member_writes = [q["sql"] for q in queries.captured_queries
                     if q["sql"].startswith('UPDATE "campaigns_campaignmember"')]
    assert len(member_writes) == 1
    assert not [q for q in queries.captured_queries  # locked reads: the claims only
                if "FOR UPDATE" in q["sql"] and "SKIP LOCKED" not in q["sql"]]
    inserts = [q["sql"] for q in queries.captured_queries
               if q["sql"].startswith('INSERT INTO "emails_salesemail"')]
    assert len(inserts) == 1
    # One send enqueued for the batch, not one attempt per email.
    assert after_commit.count(emails_send_soon) == 1


def test_a_failed_batch_insert_queues_them_one_by_one(seller, make_campaign, monkeypatch):
    def broken(drafts, **_options):
        SalesEmail.objects.bulk_create([])
        raise RuntimeError("the batch insert failed")

    monkeypatch.setattr(scheduler, "queue_emails", broken)
    campaign = make_campaign(seller, [AUTO])
    people = PersonFactory.create_batch(5)
    members_add(campaign, [p.pk for p in people], by=seller)

    report = campaign_steps_run()

    assert report.results == {"queued": 5}
    assert SalesEmail.objects.count() == 5
    assert MemberStep.objects.filter(result="queued", email__isnull=False).count() == 5


def test_a_full_batch_enqueues_its_helper_before_its_steps_run(seller, make_campaign,
                                                               monkeypatch):
    campaign = make_campaign(seller, [AUTO])
    members_add(campaign, [p.pk for p in PersonFactory.create_batch(7)], by=seller)
    steps_run_when_enqueued = []
    monkeypatch.setattr(scheduler, "backlog_helper_enqueue", lambda name, **kwargs: (
        steps_run_when_enqueued.append((name, MemberStep.objects.count()))))

    report = campaign_steps_run(batch_size=3)

    assert report.claimed == 7 and report.batches == 3
    # Two full batches, each enqueueing its helper before any of its steps ran; the last
    # batch (1 member) enqueues none.
    assert steps_run_when_enqueued == [(scheduler.STEPS_TASK, 0), (scheduler.STEPS_TASK, 3)]


def test_a_pass_enqueues_helpers_for_the_backlog_it_finds_at_once(seller, make_campaign,
                                                                   monkeypatch):
    """Beat's pass (``fan_out``) enqueues, at its first full batch, a helper for each further
    batch due (up to HELPERS_AT_ONCE), where one helper per claim brought the fourth worker
    in three claims late; helpers themselves (and later batches) enqueue one each."""
    campaign = make_campaign(seller, [AUTO])
    members_add(campaign, [p.pk for p in PersonFactory.create_batch(13)], by=seller)
    enqueued = []
    monkeypatch.setattr(scheduler, "backlog_helper_enqueue", lambda name, **kwargs: (
        enqueued.append((kwargs, MemberStep.objects.count()))))

    report = campaign_steps_run(batch_size=3, fan_out=True)

    assert report.claimed == 13 and report.batches == 5
    helper = {"helper": True}
    # 10 due beside the first batch of 3: 4 batches, 3 helpers (the most) before any step ran;
    # then one per later full batch.
    assert enqueued == [(helper, 0)] * 3 + [(helper, 3), (helper, 6), (helper, 9)]


def test_beats_pass_fans_out_and_a_helper_does_not(seller, make_campaign, monkeypatch):
    from campaigns import tasks

    campaign = make_campaign(seller, [AUTO])
    members_add(campaign, [PersonFactory().pk], by=seller)
    passes = []
    monkeypatch.setattr(tasks, "campaign_steps_run", lambda **kwargs: (
        passes.append(kwargs), scheduler.SchedulerReport())[1])

    tasks.campaign_steps_task.apply()
    tasks.campaign_steps_task.apply(kwargs={"helper": True})

    assert passes == [{"fan_out": True}, {"fan_out": False}]


def test_a_claimed_end_leaves_an_end_written_since_the_claim(seller, make_campaign):
    """Without row locks (SQLite) a seller's removal can land between a batch's claim and its
    end of the same member: the removal stands, the batch does not overwrite it."""
    from campaigns import clock
    from campaigns.services import _members_end, members_end

    campaign = make_campaign(seller, [AUTO])
    members_add(campaign, [PersonFactory().pk], by=seller)
    claimed = list(CampaignMember.objects.all())  # read live, as the claim read it
    members_end(CampaignMember.objects.all(), "removed")

    _members_end(claimed, "completed", clock.now(), claimed=True)

    assert list(CampaignMember.objects.values_list("status", "end_reason")) == [
        ("ended", "removed")]
