"""The campaign scheduler: runs due steps (SPEC section 9).

One indexed query finds due members (``next_step_due_at <= now`` over the partial index
``campaign_member_due``), earliest first, and claims a batch of them with
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent schedulers (beat's task on
several workers, ``manage.py sync``) take disjoint batches. SQLite has no row locks: its
IMMEDIATE transactions already let one writer at a time claim and run a batch. Each batch is
one transaction: the steps' effects (reminder tasks, queued emails), their history rows and
the members' next due times commit together, and ``MemberStep``'s unique (member, step) makes
a second run of a step impossible even then.

Per member: suppression is checked first (an unsubscribed address ends the membership);
call / InMail / custom steps become reminder tasks for the seller who added the person (their
name and details with the merge fields filled, as an email's are); email
steps with ``auto_send`` are queued through sales email (``emails.services.queue_email``,
with the campaign's name), the others wait in that seller's review queue. Email steps respect
the campaign's sending window (weekdays and hours in the seller's time zone): outside it the
step moves to the window's next opening.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from emails.merge import MergeFieldError, merge_values, merge_with
from emails.models import SalesEmail
from emails.services import EmailDraft, EmailRefused, queue_email, queue_emails
from reminders.services import task_create
from salesactions.bulk_insert import bulk_insert
from syncing.queueing import backlog_helper_enqueue
from syncing.streams import stream_pass_record
from unsubscribes.selectors import addresses_suppressed
from unsubscribes.send_check import SendVerdict, person_send_verdicts_begin

from . import clock
from .models import Campaign, CampaignMember, CampaignStep, MemberStep
from .services import _members_end

#: Sync health's name for the scheduler's passes.
PASS_LOG = "campaign_steps"

log = logging.getLogger(__name__)

BATCH = 200
#: The Celery task running a pass (``campaigns/tasks.py``), enqueued by name.
STEPS_TASK = "campaigns.tasks.campaign_steps_task"
RETRY_AFTER = timedelta(minutes=5)
TASK_NAME_MAX = 255
#: Helpers a pass enqueues at once for the backlog it finds (``campaign_steps_run``):
#: enough for a few workers at once; more workers join through the helpers' own helpers.
HELPERS_AT_ONCE = 3
#: Above this many distinct changes in a batch, members are saved with ``bulk_update``.
MOVED_UPDATES_MAX = 10
#: What a step reads of the person: the address (and the unsubscribe check), whether they are
#: in the workspace, the merge fields (``emails.merge.merge_values``). Any other field read
#: would be loaded on first use, a query per person.
PERSON_FIELDS = ("email", "in_workspace", "first_name", "last_name", "company", "title")


@dataclass
class SchedulerReport:
    batches: int = 0
    claimed: int = 0
    results: dict[str, int] = field(default_factory=dict)
    ended: dict[str, int] = field(default_factory=dict)
    deferred: int = 0  # outside the sending window
    last_failure: str = ""  # the last failed step's error, for Sync health

    def count(self, bucket: dict, key: str) -> None:
        bucket[key] = bucket.get(key, 0) + 1

    def merge(self, other: SchedulerReport) -> None:
        self.batches += other.batches
        self.claimed += other.claimed
        self.last_failure = other.last_failure or self.last_failure
        self.deferred += other.deferred
        for mine, theirs in ((self.results, other.results), (self.ended, other.ended)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value

    def __str__(self) -> str:
        results = ", ".join(f"{value} {key}" for key, value in sorted(self.results.items()))
        ended = ", ".join(f"{value} {key}" for key, value in sorted(self.ended.items()))
        return (f"campaign steps: {self.claimed} due members in {self.batches} batches"
                f"{'; ' + results if results else ''}{'; ended ' + ended if ended else ''}"
                f"{f'; {self.deferred} waiting for the sending window' if self.deferred else ''}")


def due_members(now: datetime):
    """The scheduler's query: due members of active campaigns, earliest first."""
    return (CampaignMember.objects
            .filter(status=CampaignMember.Status.ACTIVE, next_step_due_at__lte=now,
                    campaign__status=Campaign.Status.ACTIVE)
            .order_by("next_step_due_at"))


def campaign_steps_due(now: datetime | None = None) -> bool:
    return due_members(now or clock.now()).exists()


def campaign_steps_run(*, batch_size: int = BATCH, max_batches: int | None = None,
                       fan_out: bool = False) -> SchedulerReport:
    """Run due steps batch by batch until none is due (or ``max_batches``). A pass that ran
    steps, or failed, is logged for Sync health (``syncing/campaigns/health.py``).

    Each full batch claimed enqueues a helper for an idle worker (``_helper_enqueue``). With
    ``fan_out`` (beat's pass, not a helper), the first full batch enqueues one for each
    further batch due, up to ``HELPERS_AT_ONCE``: one helper per claim brought the fourth
    of four workers in three claims (~0.1 s) late, a sixth of a backlog of 8 batches."""
    report = SchedulerReport()
    started = timezone.now()
    try:
        while max_batches is None or report.batches < max_batches:
            helpers = None
            if max_batches is None:
                helpers = (functools.partial(_helpers_for_backlog, batch_size)
                           if fan_out and not report.batches else _helper_enqueue)
            batch = campaign_steps_run_batch(batch_size, on_full_batch=helpers)
            if not batch.claimed:
                break
            report.merge(batch)
    except Exception as error:
        stream_pass_record(PASS_LOG, started, rows=report.claimed,
                           error=f"{type(error).__name__}: {error}")
        raise
    failed = report.results.get(MemberStep.Result.FAILED, 0)
    if report.claimed:
        stream_pass_record(PASS_LOG, started, rows=report.claimed,
                           error=f"{failed} steps failed; the last: {report.last_failure}"
                           if failed else "")
    return report


def _claim(now: datetime, batch_size: int) -> list[CampaignMember]:
    """The batch's members, each with its person (the fields a step reads only), campaign and
    seller. A batch's members share one campaign or a few and their sellers: each is read
    once and shared, where a join built a campaign and a seller for every member, with every
    column of its person (Salesforce ids, owner, Marketo times: unused, and their times the
    dearest to parse). The claim costs a batch about half the CPU it did."""
    query = due_members(now)
    if connection.features.has_select_for_update_skip_locked:
        query = query.select_for_update(skip_locked=True, of=("self",))
    members = list(query.select_related("person").only(
        *(member_field.name for member_field in CampaignMember._meta.concrete_fields),
        *(f"person__{name}" for name in PERSON_FIELDS))[:batch_size])
    campaigns = Campaign.objects.in_bulk({member.campaign_id for member in members})
    sellers = User.objects.in_bulk({member.added_by_id for member in members})
    for member in members:
        member.campaign = campaigns[member.campaign_id]
        member.added_by = sellers[member.added_by_id]
    return members


def _helper_enqueue() -> None:
    backlog_helper_enqueue(STEPS_TASK, helper=True)


def _helpers_for_backlog(batch_size: int) -> None:
    """Helpers for the batches due beside the one just claimed (still counted as due until
    its transaction commits), one at least, ``HELPERS_AT_ONCE`` at most."""
    left = due_members(clock.now()).count() - batch_size
    for _ in range(max(1, min(HELPERS_AT_ONCE, -(-left // batch_size)))):
        _helper_enqueue()


def campaign_steps_run_batch(batch_size: int = BATCH, *,
                             on_full_batch: Callable[[], None] | None = None
                             ) -> SchedulerReport:
    """Claim and run one batch. ``on_full_batch`` is called as soon as a full batch is
    claimed, before its steps run: the helper it enqueues claims the next batch (SKIP LOCKED)
    while this one runs, and its own helper the one after, so a backlog spreads over the
    idle workers at once. Enqueued only after a batch ran, the first batch ran alone and the
    helpers started a batch's time apart (with 3 batches, 4 workers ran 2 rounds where 1
    ran 3)."""
    report = SchedulerReport()
    with transaction.atomic():
        now = clock.now()
        members = _claim(now, batch_size)
        if not members:
            return report
        report.batches, report.claimed = 1, len(members)
        if len(members) == batch_size and on_full_batch is not None:
            on_full_batch()
        _run(members, now, report)
    return report


def _run(members: list[CampaignMember], now: datetime, report: SchedulerReport) -> None:
    campaign_ids = {member.campaign_id for member in members}
    steps: dict[int, list[CampaignStep]] = {pk: [] for pk in campaign_ids}
    for step in CampaignStep.objects.filter(campaign_id__in=campaign_ids).order_by(
            "campaign_id", "position", "id"):
        steps[step.campaign_id].append(step)
    ran = set(MemberStep.objects.filter(member__in=[m.pk for m in members],
                                        step__isnull=False).values_list("member_id", "step_id"))
    # Read once: the unsubscribe check below is given it rather than reading it again.
    suppressed_as_given = addresses_suppressed(m.person.email for m in members
                                               if m.person.email)
    suppressed = {address.lower() for address in suppressed_as_given}

    def next_position(member: CampaignMember) -> int:
        position, campaign_steps = member.next_position, steps[member.campaign_id]
        while position < len(campaign_steps) and (member.pk, campaign_steps[position].pk) in ran:
            position += 1  # already ran (the steps were reordered): never twice
        return position

    def sends_now(member: CampaignMember) -> bool:
        email = (member.person.email or "").lower()
        position, campaign_steps = next_position(member), steps[member.campaign_id]
        return bool(email) and email not in suppressed and position < len(campaign_steps) \
            and campaign_steps[position].type == CampaignStep.Type.EMAIL \
            and campaign_steps[position].auto_send
    # The unsubscribe check for every email this batch sends, asked at once (Marketo takes
    # 300 addresses a call) rather than one call per member, and in the background: what
    # does not depend on its answer (the history, the members' moves and ends, merging the
    # emails) is done while Marketo answers.
    verdicts = person_send_verdicts_begin([m.person for m in members if sends_now(m)],
                                          suppressed=suppressed_as_given, background=True)

    history: list[MemberStep] = []
    sending: list[tuple[CampaignMember, MemberStep]] = []
    moved: list[CampaignMember] = []
    ending: dict[str, list[CampaignMember]] = {}
    for member in members:
        campaign_steps = steps[member.campaign_id]
        email = (member.person.email or "").lower()
        if not email or email in suppressed:
            ending.setdefault(CampaignMember.EndReason.UNSUBSCRIBED, []).append(member)
            continue
        position = next_position(member)
        if position >= len(campaign_steps):
            ending.setdefault(CampaignMember.EndReason.COMPLETED, []).append(member)
            continue
        step = campaign_steps[position]
        member.next_position = position
        if step.type == CampaignStep.Type.EMAIL and member.campaign.window_enabled:
            opening = window_opening(member.campaign, member.added_by.zone, now)
            if opening > now:
                member.next_step_due_at = opening
                moved.append(member)
                report.deferred += 1
                continue
        item = MemberStep(member=member, step=step, position=position, type=step.type,
                          title=step.title[:255], due_at=member.next_step_due_at or now,
                          ran_at=now)
        if step.type == CampaignStep.Type.EMAIL and step.auto_send:
            # Queued with the batch's other emails below; its result is one of the email's.
            item.subject, item.body = step.subject, step.body
            sending.append((member, item))
        else:
            _step_run_alone(member, step, item, report)
        history.append(item)
        if item.result == MemberStep.Result.REVIEW:
            member.status = CampaignMember.Status.REVIEW
            member.next_step_due_at = None
        else:
            _advance(member, campaign_steps, position + 1, now)
            if member.status == CampaignMember.Status.ENDED:
                member.status = CampaignMember.Status.ACTIVE  # ended below, logged once
                # Its new position is written with its end (``_members_end``, claimed).
                ending.setdefault(CampaignMember.EndReason.COMPLETED, []).append(member)
                continue
        moved.append(member)
    # Moves and ends first, while Marketo answers: neither depends on an email's outcome (a
    # member whose step is sent moves on whether it was queued, held or refused), and no
    # member ending here has a step waiting for review (``_members_end`` skips those).
    _members_moved_save(moved)
    for reason, ended in ending.items():
        # Claimed live and locked by this batch: ended as they are, in one write each.
        for _member in _members_end(ended, reason, now, claimed=True):
            report.count(report.ended, reason)
    _email_steps_send(sending, verdicts, report)
    bulk_insert(history)


def _step_run_alone(member: CampaignMember, step: CampaignStep, item: MemberStep,
                    report: SchedulerReport, verdict: SendVerdict | None = None) -> None:
    """Run one member's step in a savepoint: its failure is recorded on ``item`` and does
    not stop the others."""
    try:
        with transaction.atomic():
            _run_step(member, step, item, verdict)
    except Exception as error:
        log.exception("campaign step %s for member %s failed", step.pk, member.pk)
        item.result, item.detail = MemberStep.Result.FAILED, str(error)[:1000]
        report.last_failure = f"{type(error).__name__}: {error}"
    report.count(report.results, item.result)


def _email_steps_send(sending: list[tuple[CampaignMember, MemberStep]],
                      verdicts: Callable[[], dict[int, SendVerdict]],
                      report: SchedulerReport) -> None:
    """Queue the batch's automatic emails together (``queue_emails``: one insert of emails
    and one of events, where one ``queue_email`` each cost most of a step's CPU), with the
    unsubscribe check under way (``verdicts``: waited for once the emails are merged). Should
    that fail (a database error), they go one by one, each in its savepoint as before, so
    one member's failure does not stop the others; a failed check fails the batch, as it
    did when it was asked first."""
    if not sending:
        verdicts()  # a check that failed fails the batch whether or not it sends
        return
    try:
        with transaction.atomic():
            outcomes = queue_emails([
                EmailDraft(person=member.person, sender=member.added_by, subject=item.subject,
                           body=item.body, sales_campaign_name=member.campaign.name)
                for member, item in sending], verdicts=verdicts)
    except Exception:
        answers = verdicts()  # raises here if the check itself failed
        log.exception("queueing %d campaign emails together failed; one by one", len(sending))
        for member, item in sending:
            _step_run_alone(member, item.step, item, report, answers.get(member.person_id))
        return
    for (_member, item), outcome in zip(sending, outcomes, strict=True):
        _email_outcome(item, outcome)
        report.count(report.results, item.result)


def _members_moved_save(moved: list[CampaignMember]) -> None:
    """Save the members' new status, position and due time. Members of one campaign added
    together move alike: one ``UPDATE`` per distinct change (``bulk_update``'s per-row
    ``CASE`` cost a batch as much CPU as its emails); many distinct changes, ``bulk_update``."""
    fields = ("status", "next_position", "next_step_due_at")
    alike: dict[tuple, list[int]] = {}
    for member in moved:
        alike.setdefault(tuple(getattr(member, name) for name in fields), []).append(member.pk)
    if len(alike) > MOVED_UPDATES_MAX:
        CampaignMember.objects.bulk_update(moved, fields, batch_size=500)
        return
    for values, ids in alike.items():
        CampaignMember.objects.filter(pk__in=ids).update(**dict(zip(fields, values,
                                                                    strict=True)))


def _advance(member: CampaignMember, steps: list[CampaignStep], position: int,
             now: datetime) -> None:
    """Point the member at ``position``: due at its day offset, or ended past the end."""
    member.next_position = position
    if position >= len(steps):
        member.status = CampaignMember.Status.ENDED
        member.next_step_due_at = None
        return
    member.status = CampaignMember.Status.ACTIVE
    member.next_step_due_at = max(member.anchor_at + timedelta(days=steps[position].day_offset),
                                  now)


def _run_step(member: CampaignMember, step: CampaignStep, item: MemberStep,
              verdict: SendVerdict | None = None) -> None:
    campaign = member.campaign
    if step.type != CampaignStep.Type.EMAIL:
        values = merge_values(person=member.person, sender=member.added_by,
                              extra={"sales_campaign_name": campaign.name})
        name = f"{_merged(step.name, values)} ({campaign.name})"[:TASK_NAME_MAX]
        details = "\n\n".join(text for text in (
            _merged(step.details, values), f"Sales campaign: {campaign.name}") if text)
        task = task_create(created_by=member.added_by, person=member.person, name=name,
                           type=step.type, details=details,
                           due_date=timezone.localtime(item.ran_at, member.added_by.zone).date())
        item.task = task
        item.result = MemberStep.Result.TASK
        return
    item.subject, item.body = step.subject, step.body
    if not step.auto_send:
        item.result = MemberStep.Result.REVIEW
        return
    email_step_send(member, item, subject=step.subject, body=step.body, verdict=verdict)


def _merged(text: str, values: dict[str, str]) -> str:
    """A task step's text filled for the person. A step saved before merge fields were
    checked there may not merge: a person reads the task, so it is made as written."""
    try:
        return merge_with(text, values)
    except MergeFieldError:
        return text


def email_step_send(member: CampaignMember, item: MemberStep, *, subject: str,
                    body: str, verdict: SendVerdict | None = None) -> None:
    """Queue a campaign email through sales email; the result goes on ``item``. ``verdict``:
    the unsubscribe check already made for the person (else queueing makes it)."""
    try:
        email = queue_email(person=member.person, sender=member.added_by, subject=subject,
                            body=body, sales_campaign_name=member.campaign.name,
                            verdict=verdict)
    except EmailRefused as refused:
        _email_outcome(item, refused)
        return
    _email_outcome(item, email)


def _email_outcome(item: MemberStep, outcome: SalesEmail | EmailRefused) -> None:
    if isinstance(outcome, EmailRefused):
        item.result, item.detail = MemberStep.Result.REFUSED, str(outcome)[:1000]
        return
    item.email = outcome
    item.result = (MemberStep.Result.HELD if outcome.status == SalesEmail.Status.HELD
                   else MemberStep.Result.QUEUED)


def window_opening(campaign: Campaign, zone, now: datetime) -> datetime:
    """``now`` when it is inside the campaign's sending window (in ``zone``), else the
    window's next opening."""
    days = {int(day) for day in campaign.window_days}
    local = now.astimezone(zone)
    for ahead in range(8):
        day = (local + timedelta(days=ahead)).date()
        if day.weekday() not in days:
            continue
        start = datetime(day.year, day.month, day.day, campaign.window_start_hour, tzinfo=zone)
        end = (datetime(day.year, day.month, day.day, tzinfo=zone)
               + timedelta(hours=campaign.window_end_hour))
        if ahead == 0 and start <= local < end:
            return now
        if local < start:
            return start
    return now  # no weekday at all: never blocks
