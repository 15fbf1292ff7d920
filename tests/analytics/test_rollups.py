"""The rollups the reports read follow what happens to what they count: a deleted template's
or campaign step's emails move to "no template" / "no step" in them as in the raw rows."""

from datetime import UTC, datetime, timedelta

import pytest
from factories import EmailTemplateFactory, SalesEmailFactory, UserFactory
from test_rebuild import _rollups

from analytics.params import Period
from analytics.rollups import rollups_rebuild, rollups_recount, slices
from analytics.selectors import EMAIL_GROUPS, email_report
from campaigns.models import Campaign, CampaignMember, MemberStep
from campaigns.services import campaign_create, step_delete
from emails.services import template_delete

pytestmark = pytest.mark.django_db
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERIOD = Period(AT.date(), AT.date() + timedelta(days=2), UTC)


def _reports() -> dict:
    return {group: email_report(PERIOD, group).as_dict() for group in EMAIL_GROUPS}


def test_a_deleted_template_and_step_fold_into_none(monkeypatch):
    ava = UserFactory()
    gone, kept = EmailTemplateFactory(owner=ava), EmailTemplateFactory(owner=ava)
    campaign = campaign_create(owner=ava, name="Spring", status=Campaign.Status.ACTIVE, steps=[
        {"type": "email", "day_offset": 0, "subject": "Hello", "body": "Hi"},
        {"type": "email", "day_offset": 3, "subject": "Nudge", "body": "Hi again"}])
    first, second = campaign.steps.order_by("position")
    emails = [SalesEmailFactory(sender=ava, sent_at=AT + timedelta(minutes=n),
                                template=[gone, kept, None][n % 3],
                                opened_at=AT + timedelta(hours=1) if n % 2 else None)
              for n in range(9)]
    for email, step in zip(emails[:6], [first, second] * 3, strict=True):
        member = CampaignMember.objects.create(campaign=campaign, person=email.person,
                                               added_by=ava, added_at=AT, anchor_at=AT)
        MemberStep.objects.create(member=member, step=step, position=step.position,
                                  type=step.type, due_at=AT, ran_at=AT,
                                  result=MemberStep.Result.QUEUED, email=email)
    # Linked after they were sent (the scheduler links them while queued): count again.
    rollups_recount(emails=slices([(AT, ava.pk)]))
    before = _reports()
    assert before["template"]["totals"]["sent"] == 9
    assert {row["key"] for row in before["campaign_step"]["results"]} == {first.pk, second.pk}

    template_delete(user=ava, template=gone)
    step_delete(campaign, first, by=ava)

    folded = _reports()
    assert {row["key"]: row["sent"] for row in folded["template"]["results"]} == {
        None: 6, kept.pk: 3}
    assert {row["key"]: row["sent"] for row in folded["campaign_step"]["results"]} == {
        second.pk: 3}
    monkeypatch.setattr("analytics.selectors.rollup_pieces", lambda period, by_day: None)
    assert _reports() == folded  # as the raw rows say
    kept_rows = _rollups()
    rollups_rebuild()
    assert _rollups() == kept_rows
