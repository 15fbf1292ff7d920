"""Reads of sales campaigns: what a user may see, summaries, members with their current step,
per-step results, a person's memberships, and the bulk-add preview."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import (
    Case,
    CharField,
    Count,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import User
from emails.models import EmailEvent
from people.models import Person

from .models import Campaign, CampaignMember, CampaignStep, MemberStep
from .services import LIVE, members_plan

#: Email outcomes counted per step (from the sales email each run queued).
EMAIL_RESULTS = ("sent", "opened", "clicked", "replied", "bounced")


def campaign_list_for_user(user: User) -> QuerySet[Campaign]:
    """Campaigns ``user`` may see: their own and shared ones (an admin: all)."""
    campaigns = Campaign.objects.select_related("owner")
    if user.is_admin:
        return campaigns
    return campaigns.filter(Q(owner=user) | Q(shared=True))


def campaigns_to_add_to(user: User) -> QuerySet[Campaign]:
    return campaign_list_for_user(user).exclude(status=Campaign.Status.ARCHIVED)


def campaign_summaries(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    live = CampaignMember.objects.filter(campaign=OuterRef("pk"), status__in=LIVE).order_by()
    total = CampaignMember.objects.filter(campaign=OuterRef("pk")).order_by()
    steps = CampaignStep.objects.filter(campaign=OuterRef("pk")).order_by()

    def counted(query):
        return Coalesce(Subquery(query.values("campaign").annotate(n=Count("pk")).values("n"),
                                 output_field=IntegerField()), 0)

    return campaigns.annotate(members_live=counted(live), members_total=counted(total),
                              steps_count=counted(steps))


def _step_title():
    return Case(When(type=CampaignStep.Type.EMAIL, then="subject"), default="name",
                output_field=CharField())


def campaign_members(campaign: Campaign) -> QuerySet[CampaignMember]:
    """Members (live first, then ended), with the title of their next step and how many
    steps ran for them."""
    title = CampaignStep.objects.filter(campaign=OuterRef("campaign"),
                                        position=OuterRef("next_position")).annotate(
        title=_step_title()).values("title")[:1]
    ran = MemberStep.objects.filter(member=OuterRef("pk")).order_by().values("member").annotate(
        n=Count("pk")).values("n")
    return (campaign.members.select_related("person", "added_by")
            .annotate(current_step_title=Subquery(title, output_field=CharField()),
                      steps_run=Coalesce(Subquery(ran, output_field=IntegerField()), 0),
                      ended=Case(When(status=CampaignMember.Status.ENDED, then=Value(1)),
                                 default=Value(0), output_field=IntegerField()))
            .order_by("ended", "-added_at", "id"))


@dataclass
class StepResults:
    step: CampaignStep
    counts: dict[str, int] = field(default_factory=dict)

    def get(self, key: str) -> int:
        return self.counts.get(key, 0)

    @property
    def rates(self) -> dict[str, str]:
        """Open, click and reply rates over the step's delivered emails (sent − bounced), the
        bounce rate over sent ones, as the Analytics page gives them ("" before any sent)."""
        sent = self.get("sent")
        delivered = sent - self.get("bounced")
        shares = {kind: (self.get(kind), delivered) for kind in ("opened", "clicked", "replied")}
        shares["bounced"] = (self.get("bounced"), sent)
        return {kind: f"{part / whole:.0%}" if whole else ""
                for kind, (part, whole) in shares.items()}

    @property
    def ran(self) -> int:
        """How many times the step ran (any result)."""
        return sum(self.counts.get(result, 0) for result in MemberStep.Result.values)


def campaign_step_results(campaign: Campaign) -> list[StepResults]:
    """Per step: how its runs went (tasks, queued, review, skipped, refused), the emails'
    outcomes (sent, opened, clicked, replied, bounced), and the memberships that ended
    (unsubscribed, replied, bounced) after it was their last step run."""
    return campaigns_step_results([campaign])[campaign.pk]


def campaigns_step_results(campaigns: list[Campaign]) -> dict[int, list[StepResults]]:
    """:func:`campaign_step_results` for several campaigns in four queries."""
    ids = [campaign.pk for campaign in campaigns]
    steps = list(CampaignStep.objects.filter(campaign__in=ids).order_by(
        "campaign_id", "position", "id"))
    by_id = {step.pk: StepResults(step) for step in steps}
    by_position = {(step.campaign_id, step.position): by_id[step.pk] for step in steps}
    runs = MemberStep.objects.filter(member__campaign__in=ids, step__isnull=False)
    for row in runs.values("step_id", "result").annotate(n=Count("pk")).order_by():
        results = by_id.get(row["step_id"])
        if results:
            results.counts[row["result"]] = row["n"]
    for key, counts in _email_counts(runs).items():
        results = by_id.get(key)
        if results:
            results.counts.update(counts)
    ended = (CampaignMember.objects.filter(campaign__in=ids, status=CampaignMember.Status.ENDED,
                                           end_reason__in=["unsubscribed", "replied", "bounced"])
             .annotate(last=Max("history__position"))
             .values("campaign_id", "end_reason", "last").annotate(n=Count("pk")).order_by())
    for row in ended:
        results = by_position.get((row["campaign_id"], row["last"]))
        if results:
            key = f"ended_{row['end_reason']}"
            results.counts[key] = results.counts.get(key, 0) + row["n"]
    grouped: dict[int, list[StepResults]] = {pk: [] for pk in ids}
    for step in steps:
        grouped[step.campaign_id].append(by_id[step.pk])
    return grouped


def _email_counts(runs: QuerySet[MemberStep]) -> dict[int, dict[str, int]]:
    """Email outcomes by step id: how many of the step's emails were sent, opened, clicked,
    replied to, bounced (each email once per kind of event)."""
    counts: dict[int, dict[str, int]] = {}
    events = (EmailEvent.objects.filter(email__campaign_runs__in=runs.values("pk"),
                                        kind__in=EMAIL_RESULTS)
              .values("email__campaign_runs__step_id", "kind")
              .annotate(n=Count("email", distinct=True)).order_by())
    for row in events:
        counts.setdefault(row["email__campaign_runs__step_id"], {})[row["kind"]] = row["n"]
    return counts


def person_memberships(person: Person, user: User) -> list[CampaignMember]:
    """A person's memberships (live first) in campaigns ``user`` may see."""
    visible = campaign_list_for_user(user).values("pk")
    title = CampaignStep.objects.filter(campaign=OuterRef("campaign"),
                                        position=OuterRef("next_position")).annotate(
        title=_step_title()).values("title")[:1]
    return list(person.campaign_memberships.filter(campaign__in=visible)
                .select_related("campaign", "added_by")
                .annotate(current_step_title=Subquery(title, output_field=CharField()))
                .order_by("-added_at"))


#: The most people one bulk add takes (the preview says when more match).
BULK_ADD_LIMIT = 100_000


@dataclass
class AddPreview:
    matching: int
    will_add: int
    skipped: dict[str, int]
    people_ids: list[int]
    limited: bool = False  # more than BULK_ADD_LIMIT matched: only that many are taken


def bulk_add_preview(campaign: Campaign, people: QuerySet[Person],
                     limit: int = BULK_ADD_LIMIT) -> AddPreview:
    """For a filtered people list (all that match, not one page): how many would be added,
    and how many are skipped and why."""
    ids = list(people.order_by("pk").values_list("pk", flat=True)[:limit + 1])
    limited = len(ids) > limit
    ids = ids[:limit]
    keep, report = members_plan(campaign, ids)
    return AddPreview(matching=len(ids), will_add=len(keep), skipped=report.skipped,
                      people_ids=keep, limited=limited)
