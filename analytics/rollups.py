"""Keeping the analytics' rollups (``analytics.models``) as things are recorded.

Whatever records something the reports count — an email sent, an open, click, reply, bounce
or unsubscribe of one, a call logged, a task completed, reopened or deleted — names the
*slices* it touched (a UTC hour × a seller) to ``rollups_recount`` in its own transaction,
which recounts those slices' rows from the raw rows, then the UTC days around them from their
hours. A recount rather than ``+1``: a late event, a reply earlier than the stored one, a task
reopened or a second unsubscribe of one email all come out exact without each writer knowing
what it changed. Writers of one seller's slices take turns (a lock on the seller's row), so
two transactions never recount the same slice from each other's uncommitted rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Trunc

from accounts.models import User
from activities.models import Call
from campaigns.models import MemberStep
from emails.models import SalesEmail
from reminders.models import ReminderTask
from unsubscribes.models import Unsubscribe

from .models import ActivityRollup, EmailRollup, OpenTaskRollup

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
EMAIL_FIGURES = ("sent", "opened", "clicked", "replied", "bounced", "unsubscribed")
Measure = ActivityRollup.Measure

Slice = tuple[datetime, int]  # (the UTC hour, the seller's id)


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return hour_of(moment).replace(hour=0)


def slices(pairs: Iterable[tuple[datetime | None, int | None]]) -> set[Slice]:
    """The slices of (moment, seller) pairs, skipping those without either."""
    return {(hour_of(at), user) for at, user in pairs if at is not None and user is not None}


def task_slices(tasks: Iterable[ReminderTask]) -> set[tuple]:
    """Where ``tasks`` count, as they are in memory: ``("completed", hour, seller)`` for a
    completed one, ``("open", due date, seller)`` for an open one; a deleted one nowhere.
    Taken before and after a change, both go to ``rollups_recount(tasks=…)``."""
    found = set()
    for task in tasks:
        if task.deleted_at is not None or task.assignee_id is None:
            continue
        if task.status == ReminderTask.Status.COMPLETE and task.completed_at is not None:
            found.add(("completed", hour_of(task.completed_at), task.assignee_id))
        elif task.status == ReminderTask.Status.OPEN:
            found.add(("open", task.due_date, task.assignee_id))
    return found


def rollups_recount(*, emails: Iterable[Slice] = (), activity: Iterable[Slice] = (),
                    tasks: Iterable[tuple] = ()) -> None:
    """Recount the email rollups of the ``emails`` slices, the activity rollups of the
    ``activity`` slices, and the UTC days they fall in, and the tasks' (``task_slices``), in
    the caller's transaction."""
    emails, activity, tasks = set(emails), set(activity), set(tasks)
    activity |= {(hour, user) for kind, hour, user in tasks if kind == "completed"}
    open_days = {(due, user) for kind, due, user in tasks if kind == "open"}
    if not (emails or activity or open_days):
        return
    with transaction.atomic(savepoint=False):
        users = sorted({user for _, user in emails | activity | open_days})
        # No key update: rows naming the seller (a new email, call or task) may still be
        # written meanwhile; only other rollup writers wait.
        list(User.objects.select_for_update(no_key=True).filter(pk__in=users).order_by("pk")
             .values_list("pk", flat=True))
        days = {(day_of(hour), user) for hour, user in emails}
        if emails:
            EmailRollup.objects.filter(hours=1).filter(
                _within(emails, "sender_id", "start")).delete()
            EmailRollup.objects.bulk_create(email_rollup_rows(SalesEmail.objects.filter(
                _within(emails, "sender_id", "sent_at", HOUR))))
            EmailRollup.objects.filter(hours=24).filter(
                _within(days, "sender_id", "start")).delete()
            EmailRollup.objects.bulk_create(email_day_rows(EmailRollup.objects.filter(
                _within(days, "sender_id", "start", DAY), hours=1)))
        days = {(day_of(hour), user) for hour, user in activity}
        if activity:
            ActivityRollup.objects.filter(hours=1).filter(
                _within(activity, "user_id", "start")).delete()
            ActivityRollup.objects.bulk_create(activity_rollup_rows(
                lambda user_field, moment: _within(activity, user_field, moment, HOUR)))
            ActivityRollup.objects.filter(hours=24).filter(
                _within(days, "user_id", "start")).delete()
            ActivityRollup.objects.bulk_create(activity_day_rows(ActivityRollup.objects.filter(
                _within(days, "user_id", "start", DAY), hours=1)))
        if open_days:
            OpenTaskRollup.objects.filter(_within(open_days, "user_id", "due_date")).delete()
            OpenTaskRollup.objects.bulk_create(open_task_rows(ReminderTask.live.filter(
                _within(open_days, "assignee_id", "due_date"))))


def _within(keys: set, user_field: str, moment: str, width: timedelta | None = None) -> Q:
    """Rows of the (moment, seller) ``keys``: at that moment exactly, or (``width``) from it
    for that long. One OR of them all: a batch of events recounts in a few statements."""
    found = Q(pk__in=[])
    for at, user in keys:
        found |= (Q(**{user_field: user, moment: at}) if width is None else
                  Q(**{user_field: user, f"{moment}__gte": at, f"{moment}__lt": at + width}))
    return found


def email_rollup_rows(emails) -> list[EmailRollup]:
    """Hour rollups of the ``emails`` queryset (sent ones): one aggregate query."""
    runs = MemberStep.objects.filter(email=OuterRef("pk")).order_by("pk")
    unsubscribed = Exists(Unsubscribe.objects.filter(sales_email=OuterRef("pk")))
    grouped = (emails.filter(sent_at__isnull=False).order_by()
               .annotate(unsub=unsubscribed,
                         run_step=Coalesce(Subquery(runs.values("step_id")[:1]), Value(0),
                                           output_field=IntegerField()),
                         run_campaign=Coalesce(Subquery(runs.values("member__campaign_id")[:1]),
                                               Value(0), output_field=IntegerField()))
               .values("sender_id", "run_step", "run_campaign",
                       hour=Trunc("sent_at", "hour", tzinfo=UTC),
                       template_key=Coalesce("template_id", Value(0)))
               .annotate(sent=Count("pk"),
                         opened=Count("pk", filter=Q(opened_at__isnull=False)),
                         clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
                         replied=Count("pk", filter=Q(replied_at__isnull=False)),
                         bounced=Count("pk", filter=Q(bounced_at__isnull=False)),
                         unsubscribed=Count("pk", filter=Q(unsub=True))))
    return [EmailRollup(hours=1, start=row["hour"], sender_id=row["sender_id"],
                        template_id=row["template_key"], campaign_id=row["run_campaign"],
                        step_id=row["run_step"], **{name: row[name] for name in EMAIL_FIGURES})
            for row in grouped]


def email_day_rows(hours) -> list[EmailRollup]:
    """Day rollups summing the hour rollups ``hours`` (a queryset of ``hours=1`` rows)."""
    grouped = (hours.order_by().values("sender_id", "template_id", "campaign_id", "step_id",
                                       day=Trunc("start", "day", tzinfo=UTC))
               .annotate(**{name: Sum(name) for name in EMAIL_FIGURES}))
    return [EmailRollup(hours=24, start=row.pop("day"), **row) for row in grouped]


def activity_rollup_rows(where) -> list[ActivityRollup]:
    """Hour rollups of the calls, replies and completed tasks that ``where(user_field,
    moment_field)`` (a Q) picks: three aggregate queries."""
    def grouped(queryset, user_field: str, moment: str, measure: str, outcome=None):
        queryset = queryset.filter(where(user_field, moment))
        rows = (queryset.order_by()
                .values(user=F(user_field), hour=Trunc(moment, "hour", tzinfo=UTC),
                        kind=F(outcome) if outcome else Value(""))
                .annotate(n=Count("pk")))
        return [ActivityRollup(hours=1, start=row["hour"], user_id=row["user"],
                               measure=measure, outcome=row["kind"], n=row["n"])
                for row in rows]

    return [*grouped(Call.objects.all(), "logged_by_id", "called_at", Measure.CALL,
                     outcome="outcome"),
            *grouped(SalesEmail.objects.all(), "sender_id", "replied_at", Measure.REPLIED),
            *grouped(ReminderTask.live.filter(status=ReminderTask.Status.COMPLETE),
                     "assignee_id", "completed_at", Measure.COMPLETED)]


def open_task_rows(tasks) -> list[OpenTaskRollup]:
    """Open-task rollups of the ``tasks`` queryset (live ones)."""
    grouped = (tasks.filter(status=ReminderTask.Status.OPEN).order_by()
               .values("due_date", "assignee_id").annotate(n=Count("pk")))
    return [OpenTaskRollup(due_date=row["due_date"], user_id=row["assignee_id"], n=row["n"])
            for row in grouped]


def activity_day_rows(hours) -> list[ActivityRollup]:
    grouped = (hours.order_by().values("user_id", "measure", "outcome",
                                       day=Trunc("start", "day", tzinfo=UTC))
               .annotate(total=Sum("n")))
    return [ActivityRollup(hours=24, start=row["day"], user_id=row["user_id"],
                           measure=row["measure"], outcome=row["outcome"], n=row["total"])
            for row in grouped]


def rollups_rebuild() -> int:
    """Recount every rollup from the raw rows, one UTC day per transaction (each holding the
    sellers' locks, so a writer's recount never interleaves with it); returns the days."""
    bounds = [moment for queryset, column in (
        (SalesEmail.objects.all(), "sent_at"), (SalesEmail.objects.all(), "replied_at"),
        (Call.objects.all(), "called_at"), (ReminderTask.objects.all(), "completed_at"))
        for moment in queryset.aggregate(first=Min(column), last=Max(column)).values()
        if moment is not None]
    with transaction.atomic():
        list(User.objects.select_for_update(no_key=True).order_by("pk")
             .values_list("pk", flat=True))
        OpenTaskRollup.objects.all().delete()
        OpenTaskRollup.objects.bulk_create(open_task_rows(ReminderTask.live.all()),
                                           batch_size=5000)
        if not bounds:
            EmailRollup.objects.all().delete()
            ActivityRollup.objects.all().delete()
            return 0
        first, last = day_of(min(bounds)), day_of(max(bounds))
        EmailRollup.objects.exclude(start__gte=first, start__lt=last + DAY).delete()
        ActivityRollup.objects.exclude(start__gte=first, start__lt=last + DAY).delete()
    day, days = first, 0
    while day <= last:
        with transaction.atomic():
            list(User.objects.select_for_update(no_key=True).order_by("pk")
                 .values_list("pk", flat=True))
            EmailRollup.objects.filter(start__gte=day, start__lt=day + DAY).delete()
            ActivityRollup.objects.filter(start__gte=day, start__lt=day + DAY).delete()
            EmailRollup.objects.bulk_create(email_rollup_rows(SalesEmail.objects.filter(
                sent_at__gte=day, sent_at__lt=day + DAY)), batch_size=5000)
            EmailRollup.objects.bulk_create(email_day_rows(EmailRollup.objects.filter(
                hours=1, start__gte=day, start__lt=day + DAY)), batch_size=5000)
            ActivityRollup.objects.bulk_create(activity_rollup_rows(
                lambda user_field, moment, day=day: Q(**{f"{moment}__gte": day,
                                                         f"{moment}__lt": day + DAY})),
                batch_size=5000)
            ActivityRollup.objects.bulk_create(activity_day_rows(ActivityRollup.objects.filter(
                hours=1, start__gte=day, start__lt=day + DAY)), batch_size=5000)
        day += DAY
        days += 1
    return days


def rollups_fold(field: str, ids: Iterable[int]) -> None:
    """Fold the email rollups of deleted templates or campaign steps (``field``:
    ``template_id`` or ``step_id``) into "none" (0), as their emails now read: one
    ``INSERT … SELECT … ON CONFLICT DO UPDATE`` adding them to the rows already there, then
    a delete. In the caller's transaction, holding their sellers' locks."""
    ids = list(ids)
    if not ids:
        return
    if field not in ("template_id", "step_id"):
        raise ValueError(f"Rollups are not folded by {field}.")
    folded = EmailRollup.objects.filter(**{f"{field}__in": ids})
    with transaction.atomic(savepoint=False):
        users = sorted(set(folded.values_list("sender_id", flat=True)))
        list(User.objects.select_for_update(no_key=True).filter(pk__in=users).order_by("pk")
             .values_list("pk", flat=True))
        table = connection.ops.quote_name(EmailRollup._meta.db_table)
        keys = ["hours", "start", "sender_id", "template_id", "campaign_id", "step_id"]
        chosen = ", ".join("0" if key == field else key for key in keys)
        marks = ", ".join(["%s"] * len(ids))
        with connection.cursor() as cursor:
            # "WHERE true": SQLite's parser needs it before ON CONFLICT after a SELECT.
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(keys + list(EMAIL_FIGURES))}) "
                f"SELECT {chosen}, {', '.join(f'SUM({name})' for name in EMAIL_FIGURES)} "
                f"FROM {table} WHERE {field} IN ({marks}) AND true "
                f"GROUP BY {', '.join(key for key in keys if key != field)} "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
                + ", ".join(f"{name} = {table}.{name} + excluded.{name}"
                            for name in EMAIL_FIGURES), ids)
        folded.delete()
