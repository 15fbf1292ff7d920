"""Writes of sales campaigns: campaigns and their steps, status changes (pause, resume,
archive), members (add one or many, remove, end), and the review queue's send / skip.

Rules chosen here (the pages and README say them too):
- Day offsets count from the moment a person is added (step at offset 0: due at once).
- Pausing holds every member's due step; resuming shifts each member's schedule by the length
  of the pause, so late steps run from now keeping their spacing (no burst of late sends).
- Archiving ends every live membership ("Campaign archived"); nothing runs any more.
- An email step without ``auto_send`` waits in the seller's review queue; the member waits
  with it, and the next step is due at its own day offset or at once when that is past.

Every membership added or ended queues an "Add to" / "Removed from Sales Campaign" activity
for Marketo in the same transaction (the outbox, ``syncing/campaigns/``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Upper
from django.utils.formats import number_format
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext

from accounts.models import User
from analytics.rollups import rollups_fold
from emails.merge import CAMPAIGN_FIELDS, merge_problem
from people.models import Person
from syncing.campaigns.senders import ADDED_KIND, REMOVED_KIND
from syncing.models import Delivery
from syncing.outbox.queue import deliveries_build, deliveries_save
from syncing.settings.selectors import marketo_connection_get, sync_settings_get
from unsubscribes.selectors import addresses_suppressed

from . import clock
from .models import Campaign, CampaignMember, CampaignStep, MemberStep

NAME_MAX = 255
MAX_STEPS = 50
#: A cadence longer than a year is not a cadence: day offsets run from 0 to 365.
MAX_DAY_OFFSET = 365
#: A message translated when it is shown, filled with ``values`` (for module-level messages
#: that hold a number: ``gettext_lazy(...) % values`` would translate at import).
_translated_with = lazy(lambda message, values: _(message) % values, str)
DAY_RANGE = _translated_with(gettext_noop("Day must be between 0 and %(max)d."),
                             {"max": MAX_DAY_OFFSET})
WINDOW_START_RANGE = gettext_lazy("The sending window opens at an hour from 0 to 23.")
WINDOW_END_RANGE = gettext_lazy("The sending window closes at an hour from 1 to 24.")
BODY_MAX = 100_000
DETAILS_MAX = 32_000
STEP_FIELDS = ("type", "day_offset", "subject", "body", "auto_send", "name", "details")
# Skip reasons are stored on the delivery (and the API returns them): not translated.
SKIP_MARKETO_OFF = "Logging sales activities to Marketo is switched off."
SKIP_MARKETO_NOT_CONNECTED = "Marketo is not connected."
LIVE = (CampaignMember.Status.ACTIVE, CampaignMember.Status.REVIEW)
#: Merge fields a step may use (in an email's subject and body, a task's name and details):
#: sales email's, and the campaign's name.
MERGE_FIELDS = CAMPAIGN_FIELDS


# ------------------------------------------------------------------------------ campaigns


def can_change(user: User, campaign: Campaign) -> bool:
    return user.is_admin or campaign.owner_id == user.pk


def can_use(user: User, campaign: Campaign) -> bool:
    """Whether ``user`` may see the campaign and add people to it."""
    return user.is_admin or campaign.owner_id == user.pk or campaign.shared


def _invalid(errors: dict) -> ValidationError:
    """A ValidationError whose ``detail`` keeps the errors' shape (``steps``: one dict of
    field errors per step, empty for a good one) for the API's 400 answer."""
    error = ValidationError({name: [str(message) for message in (
        value if name != "steps" else [m for step in value if isinstance(step, dict)
                                       for ms in step.values() for m in ms] or value)]
        for name, value in errors.items()})
    error.detail = errors
    return error


def _step_errors(steps: list[dict]) -> dict:
    errors: dict[str, list] = {}
    if len(steps) > MAX_STEPS:
        return {"steps": [ngettext("A campaign has at most %(count)d step.",
                                   "A campaign has at most %(count)d steps.",
                                   MAX_STEPS) % {"count": MAX_STEPS}]}
    step_errors = []
    previous_day = None
    for number, step in enumerate(steps, start=1):
        mine: dict[str, list[str]] = {}
        kind = step.get("type")
        if kind not in CampaignStep.Type.values:
            mine["type"] = [_("Choose the step's type: email, call, InMail or custom.")]
        offset = step.get("day_offset", 0)
        if not isinstance(offset, int) or isinstance(offset, bool) or not (
                0 <= offset <= MAX_DAY_OFFSET):
            mine["day_offset"] = [DAY_RANGE]
        elif previous_day is not None and offset < previous_day:
            mine["day_offset"] = [_(
                "Day %(day)d comes before day %(previous_day)d of step %(previous)d, the step "
                "above it: steps run in order, so give this step day %(previous_day)d or "
                "later, or move it.") % {"day": offset, "previous_day": previous_day,
                                         "previous": number - 1}]
        if "day_offset" not in mine:
            previous_day = offset
        texts = ("subject", "body") if kind == CampaignStep.Type.EMAIL else ("name", "details")
        if kind == CampaignStep.Type.EMAIL:
            for text, needed in (("subject", _("An email step needs a subject.")),
                                 ("body", _("An email step needs a body."))):
                if not (step.get(text) or "").strip():
                    mine[text] = [needed]
        elif kind in CampaignStep.Type.values and not (step.get("name") or "").strip():
            mine["name"] = [_("Give the task a name.")]
        for text in texts:
            if text not in mine and (problem := merge_problem(step.get(text), MERGE_FIELDS)):
                mine[text] = [problem]
        for text, most in (("subject", NAME_MAX), ("name", NAME_MAX), ("body", BODY_MAX),
                           ("details", DETAILS_MAX)):
            if len(step.get(text) or "") > most:
                mine.setdefault(text, []).append(_too_long(text, most))
        step_errors.append(mine)
    if any(step_errors):
        errors["steps"] = step_errors
    return errors


def _too_long(text: str, most: int) -> str:
    """The message for a step's ``text`` field longer than ``most`` characters."""
    messages = {
        "subject": ngettext("The subject has at most %(count)s character.",
                            "The subject has at most %(count)s characters.", most),
        "name": ngettext("The task name has at most %(count)s character.",
                         "The task name has at most %(count)s characters.", most),
        "body": ngettext("The body has at most %(count)s character.",
                         "The body has at most %(count)s characters.", most),
        "details": ngettext("The details have at most %(count)s character.",
                            "The details have at most %(count)s characters.", most),
    }
    return messages[text] % {"count": number_format(most, force_grouping=True)}


def _status_choices() -> str:
    return _("Use one of: %(statuses)s.") % {"statuses": ", ".join(Campaign.Status.values)}


def _campaign_errors(values: dict) -> dict:
    errors: dict[str, list] = {}
    if "name" in values:
        name = (values["name"] or "").strip()
        if not name:
            errors["name"] = [_("Give the campaign a name.")]
        elif len(name) > NAME_MAX:
            errors["name"] = [ngettext("The name has at most %(count)d character.",
                                        "The name has at most %(count)d characters.",
                                        NAME_MAX) % {"count": NAME_MAX}]
    if "window_days" in values:
        days = values["window_days"] or ""
        if not days or any(day not in "0123456" for day in days) or len(set(days)) != len(days):
            errors["window_days"] = [_("Choose at least one weekday for the sending window.")]
    start = values.get("window_start_hour", 9)
    end = values.get("window_end_hour", 17)
    if not 0 <= start <= 23:
        errors["window_start_hour"] = [WINDOW_START_RANGE]
    if not 1 <= end <= 24:
        errors["window_end_hour"] = [WINDOW_END_RANGE]
    elif start >= end and "window_start_hour" not in errors:
        errors["window_end_hour"] = [_("The sending window must open before it closes.")]
    if "status" in values and values["status"] not in Campaign.Status.values:
        errors["status"] = [_status_choices()]
    if "steps" in values:
        errors.update(_step_errors(values["steps"]))
    return errors


def _steps_save(campaign: Campaign, steps: list[dict]) -> None:
    """Replace the campaign's steps by ``steps`` (in order). A step given with the ``id`` of
    one of its steps keeps that step (and its history), changed; the others are new; steps
    left out are deleted (their history stays, without the link)."""
    existing = {step.pk: step for step in campaign.steps.all()}
    kept = set()
    for position, values in enumerate(steps):
        data = {name: values[name] for name in STEP_FIELDS if name in values}
        for text in ("subject", "name"):
            if text in data:
                data[text] = (data[text] or "").strip()
        step = existing.get(values.get("id")) if values.get("id") else None
        if step is None:
            step = CampaignStep(campaign=campaign)
        for name, value in data.items():
            setattr(step, name, value)
        step.position = position
        step.save()
        kept.add(step.pk)
    removed = campaign.steps.exclude(pk__in=kept)
    rollups_fold("step_id", removed.values_list("pk", flat=True))  # their emails: no step
    removed.delete()
    members_reschedule(campaign)


@transaction.atomic
def campaign_create(*, owner: User, name: str, shared: bool = False,
                    status: str = Campaign.Status.DRAFT, steps: Iterable[dict] = (),
                    **window) -> Campaign:
    steps = list(steps)
    values = {"name": name, "status": status, "steps": steps, **window}
    errors = _campaign_errors(values)
    if errors:
        raise _invalid(errors)
    campaign = Campaign.objects.create(owner=owner, name=name.strip(), shared=shared,
                                       status=status, **window)
    _steps_save(campaign, steps)
    return campaign


@transaction.atomic
def campaign_update(campaign: Campaign, *, by: User, **changes) -> Campaign:
    """Change a campaign's fields and, with ``steps``, its whole list of steps."""
    if not can_change(by, campaign):
        raise PermissionDenied(_("Only the campaign's owner (or an admin) changes it."))
    errors = _campaign_errors({**{name: getattr(campaign, name) for name in (
        "window_start_hour", "window_end_hour")}, **changes})
    if errors:
        raise _invalid(errors)
    status = changes.pop("status", None)
    steps = changes.pop("steps", None)
    for name, value in changes.items():
        setattr(campaign, name, value.strip() if name == "name" else value)
    campaign.save()
    if steps is not None:
        _steps_save(campaign, steps)
    if status is not None and status != campaign.status:
        campaign_status_set(campaign, status, by=by)
    return campaign


def campaign_status_set(campaign: Campaign, status: str, *, by: User) -> Campaign:
    """Draft → active; active ⇄ paused; anything → archived (ends the live memberships)."""
    if not can_change(by, campaign):
        raise PermissionDenied(_("Only the campaign's owner (or an admin) changes it."))
    if status not in Campaign.Status.values:
        raise ValidationError({"status": [_status_choices()]})
    now = clock.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        current = campaign.status
        if status == current:
            return campaign
        if current == Campaign.Status.ARCHIVED:
            raise ValidationError({"status": [_("An archived campaign stays archived.")]})
        if status == Campaign.Status.DRAFT:
            raise ValidationError({"status": [_("A campaign that ran cannot go back to draft.")]})
        if status == Campaign.Status.ACTIVE and not campaign.steps.exists():
            raise ValidationError({"status": [_("Add a step before starting the campaign.")]})
        if status == Campaign.Status.ACTIVE and current == Campaign.Status.DRAFT:
            # Members added while it was a draft start now.
            campaign.members.filter(status=CampaignMember.Status.ACTIVE,
                                    held_due_at__isnull=False).update(
                next_step_due_at=F("held_due_at"), held_due_at=None)
        if status == Campaign.Status.PAUSED:
            campaign.members.filter(status=CampaignMember.Status.ACTIVE).update(
                held_due_at=F("next_step_due_at"), next_step_due_at=None)
            campaign.paused_at = now
        elif status == Campaign.Status.ACTIVE and current == Campaign.Status.PAUSED:
            # Resume: shift every live schedule by the pause's length (late steps run from
            # now, keeping their spacing).
            pause = max(now - (campaign.paused_at or now), timedelta(0))
            campaign.members.filter(status__in=LIVE).update(anchor_at=F("anchor_at") + pause)
            campaign.members.filter(status=CampaignMember.Status.ACTIVE,
                                    held_due_at__isnull=False).update(
                next_step_due_at=F("held_due_at") + pause, held_due_at=None)
            campaign.paused_at = None
        elif status == Campaign.Status.ARCHIVED:
            members = list(campaign.members.filter(status__in=LIVE)
                           .select_related("person"))
            _members_end(members, CampaignMember.EndReason.ARCHIVED, now)
        campaign.status = status
        campaign.save(update_fields=["status", "paused_at", "updated_at"])
    return campaign


def campaign_delete(campaign: Campaign, *, by: User) -> None:
    """Delete a campaign nobody was ever added to (one with history is archived instead)."""
    if not can_change(by, campaign):
        raise PermissionDenied(_("Only the campaign's owner (or an admin) deletes it."))
    if campaign.members.exists():
        raise ValidationError(_("People were added to this campaign: archive it instead, so "
                                "its history stays."))
    campaign.delete()


def _steps_now(campaign: Campaign) -> list[dict]:
    return [{"id": step.pk, **{name: getattr(step, name) for name in STEP_FIELDS}}
            for step in campaign.steps.all()]


def _one_step_invalid(error: ValidationError, index: int) -> ValidationError:
    """``campaign_update``'s errors as one step's form errors: that step's by field; the
    others' (and the campaign's) as sentences naming their step."""
    mine: dict[str, list[str]] = {}
    others: list[str] = []
    for name, value in (getattr(error, "detail", None) or error.message_dict).items():
        if name != "steps":
            others.extend(value)
            continue
        for number, step_errors in enumerate(value):
            if isinstance(step_errors, str):
                others.append(step_errors)
                continue
            for field_name, problems in step_errors.items():
                if number == index:
                    mine.setdefault(field_name, []).extend(problems)
                else:
                    others.extend(_("Step %(number)d: %(problem)s") % {
                        "number": number + 1, "problem": problem} for problem in problems)
    if others:
        mine[NON_FIELD_ERRORS] = others
    return ValidationError(mine)


def step_insert(campaign: Campaign, values: dict, *, by: User) -> None:
    """Add a step in its day's place: after every step on the same or an earlier day.
    ValidationError holds the new step's errors by field."""
    steps = _steps_now(campaign)
    day = values.get("day_offset", 0)
    at = sum(1 for step in steps if isinstance(day, int) and step["day_offset"] <= day)
    try:
        campaign_update(campaign, by=by, steps=[*steps[:at], values, *steps[at:]])
    except ValidationError as error:
        raise _one_step_invalid(error, at) from error


def step_change(campaign: Campaign, step: CampaignStep, values: dict, *, by: User) -> None:
    """Change one step in place. ValidationError holds its errors by field."""
    steps = _steps_now(campaign)
    index = next(i for i, each in enumerate(steps) if each["id"] == step.pk)
    steps[index] = {**steps[index], **values}
    try:
        campaign_update(campaign, by=by, steps=steps)
    except ValidationError as error:
        raise _one_step_invalid(error, index) from error


def step_move(campaign: Campaign, step: CampaignStep, *, by: User, up: bool) -> None:
    """Swap a step with the one before (``up``) or after it, among steps on the same day
    (ValidationError across days: the order follows the days)."""
    if not can_change(by, campaign):
        raise PermissionDenied(_("Only the campaign's owner (or an admin) changes it."))
    steps = list(campaign.steps.all())
    index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(steps):
        return
    if steps[index].day_offset != steps[other].day_offset:
        # Steps run in order of their days: a move across another day would contradict it.
        first, second = sorted((index, other))
        raise ValidationError(_(
            "Step %(second)d is on day %(second_day)d and step %(first)d on day "
            "%(first_day)d: steps run in the order of their days, so change a step's day to "
            "change the order.") % {"second": second + 1, "second_day": steps[second].day_offset,
                                    "first": first + 1, "first_day": steps[first].day_offset})
    steps[index], steps[other] = steps[other], steps[index]
    with transaction.atomic():
        for position, each in enumerate(steps):
            if each.position != position:
                CampaignStep.objects.filter(pk=each.pk).update(position=position)
        members_reschedule(campaign)


def step_delete(campaign: Campaign, step: CampaignStep, *, by: User) -> None:
    if not can_change(by, campaign):
        raise PermissionDenied(_("Only the campaign's owner (or an admin) changes it."))
    with transaction.atomic():
        rollups_fold("step_id", [step.pk])  # its emails now have no step
        step.delete()
        for position, each in enumerate(campaign.steps.all()):
            if each.position != position:
                CampaignStep.objects.filter(pk=each.pk).update(position=position)
        members_reschedule(campaign)


def members_reschedule(campaign: Campaign) -> None:
    """After the steps changed: each active member's next step is due at its day offset from
    the member's anchor (members past the last step end at the next scheduler pass)."""
    held = campaign.status == Campaign.Status.PAUSED
    target = "held_due_at" if held else "next_step_due_at"
    active = campaign.members.filter(status=CampaignMember.Status.ACTIVE)
    steps = list(campaign.steps.all())
    for position, step in enumerate(steps):
        active.filter(next_position=position).update(
            **{target: F("anchor_at") + timedelta(days=step.day_offset)})
    # Past the end: due now, so the scheduler ends the membership ("last step done").
    active.filter(next_position__gte=len(steps)).update(**{target: clock.now()})


# ------------------------------------------------------------------------------ members


@dataclass
class AddReport:
    """What adding people did: how many were added and, by reason, how many were not."""

    added: list[CampaignMember] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    SKIP_REASONS = {"already_in_campaign": gettext_lazy("already in this campaign"),
                    "suppressed": gettext_lazy("address unsubscribed"),
                    "no_email": gettext_lazy("no email address"),
                    "not_found": gettext_lazy("not in the workspace")}

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        parts = [ngettext("%(count)d added", "%(count)d added", len(self.added))
                 % {"count": len(self.added)}]
        parts += [ngettext("%(count)d skipped: %(reason)s", "%(count)d skipped: %(reason)s", count)
                  % {"count": count, "reason": self.SKIP_REASONS.get(reason, reason)}
                  for reason, count in self.skipped.items()]
        return ", ".join(parts)


def _marketo_skip() -> str:
    if not sync_settings_get().log_activities_to_marketo:
        return SKIP_MARKETO_OFF
    if not marketo_connection_get().is_configured:
        return SKIP_MARKETO_NOT_CONNECTED
    return ""


def _log_to_marketo(members: list[CampaignMember], kind: str) -> None:
    reason = _marketo_skip()
    skipped = {Delivery.Target.MARKETO: reason} if reason else {}
    deliveries_save([delivery for member in members
                     for delivery in deliveries_build(kind=kind, record=member, skipped=skipped,
                                                      targets=[Delivery.Target.MARKETO])],
                     gather=True)


def add_check(user: User, campaign: Campaign) -> None:
    if not can_use(user, campaign):
        raise PermissionDenied(_("This campaign is not yours to add people to."))
    if campaign.status not in (Campaign.Status.ACTIVE, Campaign.Status.PAUSED,
                               Campaign.Status.DRAFT):
        raise ValidationError({"campaign": [_("People cannot be added to an archived campaign.")]})


def members_plan(campaign: Campaign, people_ids: Iterable[int]) -> tuple[list[int], AddReport]:
    """Which of ``people_ids`` would be added (the rest by reason), without writing."""
    report = AddReport()
    wanted = list(dict.fromkeys(people_ids))
    addresses: dict[int, str] = {}
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        addresses.update(Person.workspace.filter(pk__in=chunk).values_list("pk", "email"))
    report.skip("not_found", len(wanted) - len(addresses))
    live: set[int] = set()
    ids = list(addresses)
    for start in range(0, len(ids), 5000):
        live.update(campaign.members.filter(status__in=LIVE, person_id__in=ids[start:start + 5000])
                    .values_list("person_id", flat=True))
    report.skip("already_in_campaign", len(live))
    candidates = [email for pk, email in addresses.items() if pk not in live and email]
    suppressed: set[str] = set()
    for start in range(0, len(candidates), 5000):  # SQLite bounds a query's parameters
        suppressed |= addresses_suppressed(candidates[start:start + 5000])
    keep = []
    for pk, email in addresses.items():
        if pk in live:
            continue
        if not email:
            report.skip("no_email")
        elif email.lower() in suppressed or email in suppressed:
            report.skip("suppressed")
        else:
            keep.append(pk)
    return keep, report


def members_add(campaign: Campaign, people_ids: Iterable[int], *, by: User) -> AddReport:
    """Add people to a campaign: skips those already in it, without an address and with a
    suppressed address; the first step is due at its day offset from now. One transaction
    per 1,000 people; a person added meanwhile by someone else is skipped, not doubled."""
    add_check(by, campaign)
    keep, report = members_plan(campaign, people_ids)
    steps = list(campaign.steps.all())
    first_offset = timedelta(days=steps[0].day_offset) if steps else None
    for start in range(0, len(keep), 1000):
        chunk = keep[start:start + 1000]
        now = clock.now()
        due = now + first_offset if first_offset is not None else now
        held = (Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).get()
                != Campaign.Status.ACTIVE)
        members = [CampaignMember(campaign=campaign, person_id=pk, added_by=by, added_at=now,
                                  anchor_at=now, next_position=0,
                                  next_step_due_at=None if held else due,
                                  held_due_at=due if held else None)
                   for pk in chunk]
        try:
            with transaction.atomic():
                created = CampaignMember.objects.bulk_create(members)
                _log_to_marketo(created, ADDED_KIND)
        except IntegrityError:
            created = []
            for member in members:  # someone added some of them meanwhile: one by one
                try:
                    with transaction.atomic():
                        member.save()
                        _log_to_marketo([member], ADDED_KIND)
                    created.append(member)
                except IntegrityError:
                    report.skip("already_in_campaign")
        report.added.extend(created)
    return report


def _members_end(members: list[CampaignMember], reason: str, now, *,
                 claimed: bool = False) -> list[CampaignMember]:
    """End live memberships (inside the caller's transaction): conditional, so a membership
    ended twice at once is ended (and logged to Marketo) once.

    ``claimed``: the caller's transaction read these members live with their rows locked
    (the scheduler's claim, ``FOR UPDATE``), so no other ender can have ended them since:
    they end without a second locked read, and each one's ``next_position`` (a completed
    member's, moved past its last step) is written with the end, one UPDATE per distinct
    value, so a batch writes its completed members once instead of twice."""
    fields = {"status": CampaignMember.Status.ENDED, "end_reason": reason, "ended_at": now,
              "next_step_due_at": None, "held_due_at": None}
    if claimed:
        ended = list({member.pk: member for member in members}.values())
        by_position: dict[int, list[int]] = {}
        for member in ended:
            by_position.setdefault(member.next_position, []).append(member.pk)
        for position, ids in by_position.items():
            # Still live, should a database without row locks (SQLite) have let another
            # ender in since the claim: its end stands.
            CampaignMember.objects.filter(pk__in=ids, status__in=LIVE).update(
                **fields, next_position=position)
    else:
        # The live ones, locked (in id order, as every ender locks them) so that an ender
        # waiting here sees the other's end once it commits: one read and one write for
        # all, where one conditional UPDATE each cost a scheduler batch 200 statements.
        live = set(CampaignMember.objects.select_for_update().filter(
            pk__in=[member.pk for member in members], status__in=LIVE)
            .order_by("pk").values_list("pk", flat=True))
        ended = list({member.pk: member for member in members if member.pk in live}.values())
        if ended:
            CampaignMember.objects.filter(pk__in=live).update(**fields)
    for member in ended:
        member.status, member.end_reason, member.ended_at = (
            CampaignMember.Status.ENDED, reason, now)
        member.next_step_due_at = member.held_due_at = None
    if ended:
        # Steps still waiting for review are dropped with the membership.
        MemberStep.objects.filter(member__in=[m.pk for m in ended],
                                  result=MemberStep.Result.REVIEW).update(
            result=MemberStep.Result.SKIPPED, detail=f"Membership ended: {reason}.")
        _log_to_marketo(ended, REMOVED_KIND)
    return ended


def members_end(members: Iterable[CampaignMember], reason: str) -> list[CampaignMember]:
    with transaction.atomic():
        return _members_end(list(members), reason, clock.now())


def member_remove(campaign: Campaign, person: Person, *, by: User) -> CampaignMember | None:
    """Take a person out of a campaign (the campaign's users, or the seller who added them)."""
    member = campaign.members.filter(person=person, status__in=LIVE).first()
    if member is None:
        return None
    if not (can_use(by, campaign) or member.added_by_id == by.pk):
        raise PermissionDenied(_("This campaign is not yours."))
    ended = members_end([member], CampaignMember.EndReason.REMOVED)
    return ended[0] if ended else None


def memberships_end_for_people(person_ids: Iterable[int], reason: str) -> list[CampaignMember]:
    """End every live membership of these people (a reply, a bounce)."""
    ids = list(person_ids)
    members = list(CampaignMember.objects.filter(person_id__in=ids, status__in=LIVE))
    return members_end(members, reason) if members else []


def memberships_end_for_addresses(emails: Iterable[str]) -> list[CampaignMember]:
    """End the live memberships of everyone at these addresses (an unsubscribe suppresses
    the address on every person who has it)."""
    keys = {email.strip().upper() for email in emails if email}
    if not keys:
        return []
    members = list(CampaignMember.objects.annotate(address=Upper("person__email"))
                   .filter(address__in=keys, status__in=LIVE))
    return members_end(members, CampaignMember.EndReason.UNSUBSCRIBED) if members else []
