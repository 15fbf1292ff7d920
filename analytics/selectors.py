"""Reads of the team analytics: what each seller did (activity) and how their emails did (email
performance), over a date range counted in the viewer's time zone.

Every report is a few aggregate queries whatever the data size: the database sums, Python only
labels the groups. They sum the rollups (``analytics.models``: per UTC hour and day × seller ×
template × campaign step, kept in the transaction of what they count by ``analytics.rollups``):
the whole UTC days of a period from the day rows, its edges from the hour rows. A zone whose
days do not begin on a whole UTC hour (offsets of :30 or :45) is counted from the raw rows.
Email outcomes come from each email's first open, click, reply and bounce
(``SalesEmail.opened_at`` …, kept by ``emails.events`` as events are recorded), so an email
counts once per outcome however often it was opened or clicked; emails are counted in the
hour they were sent (a reply next week still counts for this week's emails).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.models import User
from activities.models import Call
from analytics.models import ActivityRollup, EmailRollup, OpenTaskRollup
from campaigns.models import CampaignStep
from emails.models import EmailTemplate, SalesEmail
from reminders.models import ReminderTask

EMAIL_GROUPS = ("template", "campaign_step", "sender", "day")
ACTIVITY_GROUPS = ("seller", "day", "week")
EMAIL_COUNTS = ("sent", "delivered", "opened", "clicked", "replied", "bounced", "unsubscribed")
EMAIL_RATES = ("open_rate", "click_rate", "reply_rate", "bounce_rate")
ACTIVITY_COUNTS = ("calls", "emails_sent", "emails_replied", "tasks_completed", "tasks_overdue")
#: The longest period one report covers.
MAX_DAYS = 366
#: The outcome columns each count reads.
_OUTCOMES = {"opened": "opened_at", "clicked": "clicked_at", "replied": "replied_at",
             "bounced": "bounced_at"}


@dataclass(frozen=True)
class Period:
    """From ``start`` to ``end`` (both included), whole days in ``zone``."""

    start: date
    end: date
    zone: ZoneInfo

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=self.zone)

    @property
    def until(self) -> datetime:
        """The first moment after the period (midnight after ``end``, in ``zone``)."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=self.zone)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def week_of(day: date) -> date:
    """The Monday of ``day``'s week (ISO weeks)."""
    return day - timedelta(days=day.weekday())


@dataclass
class Row:
    key: object
    label: str
    counts: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, **self.counts}


@dataclass
class Report:
    """A report's rows and totals, in the API's shape (``as_dict``); ``columns`` names the
    figures of each row in order (the table and the CSV)."""

    group_by: str
    period: Period
    columns: list[str]
    rows: list[Row]
    totals: dict

    def as_dict(self) -> dict:
        return {"group_by": self.group_by, "from": self.period.start, "to": self.period.end,
                "results": [row.as_dict() for row in self.rows], "totals": self.totals}


def rates(counts: dict) -> dict:
    """Open, click and reply rates over delivered emails; the bounce rate over sent ones (so
    it stays within 0–1 when everything bounced). Fractions, four decimals."""
    delivered, sent = counts["delivered"], counts["sent"]

    def share(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 0.0

    return {"open_rate": share(counts["opened"], delivered),
            "click_rate": share(counts["clicked"], delivered),
            "reply_rate": share(counts["replied"], delivered),
            "bounce_rate": share(counts["bounced"], sent)}


def report_get(kind: str, period: Period, group_by: str, *, senders: list[int] | None = None,
               campaign: int | None = None) -> Report:
    """The ``kind`` report (``emails`` or ``activity``), from the cache when the same report
    (period, zone, grouping, senders, campaign) was counted within
    ``ANALYTICS_CACHE_SECONDS``: many viewers opening the page at once count it once. Figures
    are at most that old; nothing invalidates them sooner."""
    if kind == "emails":
        def count() -> Report:
            return email_report(period, group_by, senders=senders, campaign=campaign)
    else:
        def count() -> Report:
            return activity_report(period, group_by, senders=senders)
    seconds = settings.ANALYTICS_CACHE_SECONDS
    if seconds <= 0:
        return count()
    # The labels are in the viewer's language: one entry per language.
    key = ":".join(["analytics", kind, group_by, period.start.isoformat(),
                    period.end.isoformat(), period.zone.key,
                    ",".join(map(str, senders)) if senders is not None else "all",
                    str(campaign or ""), datetime.now(period.zone).date().isoformat(),
                    get_language() or ""])
    report = cache.get(key)
    if report is None:
        report = count()
        cache.set(key, report, seconds)
    return report


# --------------------------------------------------------------------------- email performance


def emails_sent_in(period: Period, *, senders: list[int] | None = None,
                   campaign: int | None = None) -> QuerySet[SalesEmail]:
    emails = SalesEmail.objects.filter(sent_at__gte=period.since, sent_at__lt=period.until)
    if senders is not None:
        emails = emails.filter(sender_id__in=senders)
    if campaign is not None:
        emails = emails.filter(campaign_runs__member__campaign_id=campaign)
    return emails.order_by()


def email_report(period: Period, group_by: str, *, senders: list[int] | None = None,
                 campaign: int | None = None) -> Report:
    """Per template, campaign step, sender or day (``group_by``): emails sent in ``period``
    and how many of them were delivered, opened, clicked, replied to, bounced and caused an
    unsubscribe, with the rates. ``senders`` narrows to those users (None: everyone's),
    ``campaign`` to one campaign's emails. One aggregate query over the rollups (two over the
    emails in a zone the rollups cannot serve) plus the labels."""
    pieces = rollup_pieces(period, by_day=group_by == "day")
    if pieces is None:
        counted = _email_counts_raw(period, group_by, senders=senders, campaign=campaign)
    else:
        counted = _email_counts_rolled_up(period, pieces, group_by, senders=senders,
                                          campaign=campaign)

    keys = list(counted)
    if group_by == "day":
        keys = period.days()
    labels = _email_labels(group_by, keys)
    rows = []
    for each in keys:
        found = counted.get(each, {})
        counts = {name: found.get(name) or 0 for name in ("sent", *_OUTCOMES, "unsubscribed")}
        counts["delivered"] = counts["sent"] - counts["bounced"]
        counts = {name: counts[name] for name in EMAIL_COUNTS}
        rows.append(Row(_key(each), labels.get(each, str(each)), counts | rates(counts)))
    if group_by != "day":
        rows.sort(key=lambda row: (-row.counts["sent"], row.label.lower()))
    totals = {name: sum(row.counts[name] for row in rows) for name in EMAIL_COUNTS}
    return Report(group_by, period, [*EMAIL_COUNTS, *EMAIL_RATES], rows,
                  totals | rates(totals))


#: Rollup rows of ``hours`` (1 or 24) starting from ``since`` up to ``until`` (UTC).
Piece = tuple[int, datetime, datetime]


def rollup_pieces(period: Period, *, by_day: bool) -> list[Piece] | None:
    """Which rollup rows (``analytics.models``) add up to ``period``: the UTC days wholly
    inside it from the day rows, the hours at its edges from the hour rows — or, counted per
    day (``by_day``) in a zone whose days are not UTC days, every hour from the hour rows
    (each one then falls in one of the viewer's days). None when a day of the period does not
    begin on a whole UTC hour (zones offset by :30 or :45): the raw rows serve those."""
    midnights = [datetime.combine(day, time.min, tzinfo=period.zone)
                 for day in [*period.days(), period.end + timedelta(days=1)]]
    offsets = [moment.utcoffset().total_seconds() for moment in midnights]
    if any(offset % 3600 for offset in offsets):
        return None
    since, until = period.since.astimezone(UTC), period.until.astimezone(UTC)
    first_day = (since + timedelta(hours=23)).replace(hour=0)
    last_day = until.replace(hour=0)
    if (by_day and any(offsets)) or first_day >= last_day:
        return [(1, since, until)]
    return [piece for piece in ((24, first_day, last_day), (1, since, first_day),
                                (1, last_day, until)) if piece[1] < piece[2]]


def _rollup_sums(model, pieces: list[Piece], group: list[str], sums: list[str],
                 where: list[tuple[str, object]] = ()) -> list[tuple]:
    """``SELECT <group>, SUM(<each of sums>) FROM <model's table>`` over the rows of
    ``pieces``, narrowed by ``where`` (``(condition with one %s, value)``), grouped by
    ``group``: one aggregate query, written out because the ORM spent longer compiling it
    than PostgreSQL running it (a page asks for a dozen). Column names come from this
    module, never from a request."""
    quote = connection.ops.quote_name
    conditions, params = [], []
    for hours, since, until in pieces:
        conditions.append("(hours = %s AND start >= %s AND start < %s)")
        params += [hours, since, until]
    sql = (f"SELECT {', '.join(map(quote, group))}, "
           f"{', '.join(f'SUM({quote(name)})' for name in sums)} "
           f"FROM {quote(model._meta.db_table)} WHERE ({' OR '.join(conditions)})")
    for condition, value in where:
        sql += f" AND {condition}"
        params.append(value)
    sql += f" GROUP BY {', '.join(str(n + 1) for n in range(len(group)))}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _email_counts_rolled_up(period: Period, pieces: list[Piece], group_by: str, *,
                            senders: list[int] | None, campaign: int | None) -> dict:
    where = []
    if senders is not None:
        where.append(("sender_id = ANY(%s)", list(senders)))
    if campaign is not None:
        where.append(("campaign_id = %s", campaign))
    if group_by == "campaign_step":
        where.append(("step_id <> %s", 0))
    column = {"template": "template_id", "sender": "sender_id", "campaign_step": "step_id",
              "day": "start"}[group_by]
    names = ("sent", *_OUTCOMES, "unsubscribed")
    counted: dict = {}
    days: dict = {}  # each hour or day start once to the viewer's date
    for key, *figures in _rollup_sums(EmailRollup, pieces, [column], list(names), where):
        if group_by == "day":
            day = days.get(key)
            if day is None:
                day = days[key] = key.astimezone(period.zone).date()
            key = day
        elif group_by == "template" and not key:
            key = None
        counts = counted.get(key)
        if counts is None:
            counted[key] = dict(zip(names, figures, strict=True))
        else:
            for name, n in zip(names, figures, strict=True):
                counts[name] += n
    return counted


def _email_counts_raw(period: Period, group_by: str, *, senders: list[int] | None,
                      campaign: int | None) -> dict:
    """The same figures counted from the emails (two aggregate queries)."""
    emails = emails_sent_in(period, senders=senders, campaign=campaign)
    key = {"template": F("template_id"), "sender": F("sender_id"),
           "campaign_step": F("campaign_runs__step_id"),
           "day": TruncDate("sent_at", tzinfo=period.zone)}[group_by]
    if group_by == "campaign_step":
        emails = emails.filter(campaign_runs__step__isnull=False)
    figures = {"sent": Count("pk")} | {
        name: Count("pk", filter=Q(**{f"{column}__isnull": False}))
        for name, column in _OUTCOMES.items()}
    counted = {row["key"]: row for row in emails.values(key=key).annotate(**figures)}
    for each, n in (emails.filter(unsubscribes__isnull=False).values(key=key)
                    .annotate(n=Count("pk", distinct=True)).values_list("key", "n")):
        counted.setdefault(each, {})["unsubscribed"] = n
    return counted


def _key(value):
    return value.isoformat() if isinstance(value, date) else value


def _email_labels(group_by: str, keys: list) -> dict:
    if group_by == "template":
        names = dict(EmailTemplate.objects.filter(pk__in=[k for k in keys if k])
                     .values_list("pk", "name"))
        return {k: names.get(k, _("Template %(id)s (deleted)") % {"id": k}) if k
                else _("No template") for k in keys}
    if group_by == "sender":
        return _user_labels(keys)
    if group_by == "campaign_step":
        steps = CampaignStep.objects.select_related("campaign").in_bulk(keys)
        # Translators: a campaign step in a report, e.g. "Spring launch · step 2: Checking in".
        return {pk: _("%(campaign)s · step %(position)s: %(subject)s") % {
                    "campaign": step.campaign.name, "position": step.position + 1,
                    "subject": step.subject or step.get_type_display()}
                for pk, step in steps.items()}
    return {day: day.isoformat() for day in keys}


def _user_labels(ids) -> dict:
    users = User.objects.filter(pk__in=[pk for pk in ids if pk]).values_list(
        "pk", "first_name", "last_name", "username")
    return {pk: f"{first} {last}".strip() or username for pk, first, last, username in users}


# --------------------------------------------------------------------------- activity


def activity_report(period: Period, group_by: str, *, senders: list[int] | None = None,
                    today: date | None = None) -> Report:
    """Per seller, day or week (``group_by``): calls (and by outcome), emails sent, replies
    received, tasks completed in ``period`` (two aggregate queries over the rollups, or four
    over the raw rows in a zone the rollups cannot serve), and tasks overdue now (open, due
    before ``today`` in the viewer's zone) that fell due in ``period``: a live figure, the sum
    of the open tasks per due date kept as tasks change (``OpenTaskRollup``). By seller, one
    more query names the sellers."""
    today = today or datetime.now(period.zone).date()
    by_day = group_by != "seller"
    pieces = rollup_pieces(period, by_day=by_day)
    if pieces is None:
        counted = _activity_counts_raw(period, by_day, senders)
    else:
        counted = _activity_counts_rolled_up(period, pieces, by_day, senders)
    # Open tasks per due date as they are now (``OpenTaskRollup``, kept by the task writes).
    overdue = OpenTaskRollup.objects.filter(due_date__lt=today, due_date__gte=period.start,
                                            due_date__lte=period.end)
    if senders is not None:
        overdue = overdue.filter(user_id__in=senders)
    column = "due_date" if by_day else "user_id"
    counted += [(key, "tasks_overdue", "", n) for key, n in
                overdue.order_by().values(column).annotate(n=Sum("n")).values_list(column, "n")]

    # Each key's figures in ACTIVITY_COUNTS order, and its calls by outcome.
    position = {name: index for index, name in enumerate(ACTIVITY_COUNTS)}
    figures: dict = {}
    outcomes: dict = {}
    fold = week_of if group_by == "week" else None
    for key, name, outcome, n in counted:
        if fold is not None:
            key = fold(key)
        counts = figures.get(key)
        if counts is None:
            counts = figures[key] = [0] * len(ACTIVITY_COUNTS)
            outcomes[key] = {}
        counts[position[name]] += n
        if name == "calls":
            outcome = outcome or "No outcome"
            outcomes[key][outcome] = outcomes[key].get(outcome, 0) + n

    if by_day:
        keys = sorted({fold(day) for day in period.days()} if fold else period.days())
        # Translators: a row of a report by week; the date is the week's Monday.
        labels = {key: (_("Week of %(date)s") % {"date": key.isoformat()} if fold
                        else key.isoformat()) for key in keys}
    else:
        labels = _seller_labels(set(figures), senders)
        keys = sorted(set(figures) | set(labels))
    outcome_names = sorted({name for counts in outcomes.values() for name in counts})
    none = [0] * len(ACTIVITY_COUNTS)
    rows = []
    for key in keys:
        by_outcome = outcomes.get(key, {})
        rows.append(Row(_key(key), labels.get(key, str(key)),
                        dict(zip(ACTIVITY_COUNTS, figures.get(key, none), strict=True))
                        | {"calls_by_outcome": {name: by_outcome[name] for name in outcome_names
                                                if by_outcome.get(name)}}))
    if not by_day:
        rows.sort(key=lambda row: row.label.lower())
    totals = {name: sum(row.counts[name] for row in rows) for name in ACTIVITY_COUNTS}
    totals["calls_by_outcome"] = {
        name: sum(counts.get(name, 0) for counts in outcomes.values()) for name in outcome_names}
    return Report(group_by, period, list(ACTIVITY_COUNTS), rows, totals)


def _seller_labels(keys: set, senders: list[int] | None) -> dict:
    """Names of the users in ``keys`` and of every active seller (of ``senders``, when
    given): the rows of a report by seller, in one query."""
    sellers = Q(is_active=True, role=User.Role.SELLER)
    if senders is not None:
        sellers &= Q(pk__in=senders)
    users = (User.objects.filter(sellers | Q(pk__in=[key for key in keys if key]))
             .order_by().values_list("pk", "first_name", "last_name", "username"))
    # As User.get_full_name(), without building a model per user.
    return {pk: f"{first} {last}".strip() or username for pk, first, last, username in users}


#: The activity figure each rollup measure counts.
_ACTIVITY_MEASURES = {ActivityRollup.Measure.CALL: "calls",
                      ActivityRollup.Measure.REPLIED: "emails_replied",
                      ActivityRollup.Measure.COMPLETED: "tasks_completed"}


def _activity_counts_rolled_up(period: Period, pieces: list[Piece], by_day: bool,
                               senders: list[int] | None) -> list[tuple]:
    """Calls, emails sent, replies and tasks completed as ``(key, figure, outcome, n)``
    (``key``: the viewer's day or the seller; ``outcome``: the call's), summed from the
    rollups in two queries."""
    activity_where, email_where = [], []
    if senders is not None:
        activity_where.append(("user_id = ANY(%s)", list(senders)))
        email_where.append(("sender_id = ANY(%s)", list(senders)))
    activity = _rollup_sums(ActivityRollup, pieces,
                            ["start" if by_day else "user_id", "measure", "outcome"], ["n"],
                            activity_where)
    emails = _rollup_sums(EmailRollup, pieces, ["start" if by_day else "sender_id"], ["sent"],
                          email_where)
    counted = [(key, _ACTIVITY_MEASURES[measure], outcome, n)
               for key, measure, outcome, n in activity]
    counted += [(key, "emails_sent", "", n) for key, n in emails]
    if by_day:
        days: dict = {}  # each hour or day start once to the viewer's date
        zone = period.zone
        for index, (start, *rest) in enumerate(counted):
            day = days.get(start)
            if day is None:
                day = days[start] = start.astimezone(zone).date()
            counted[index] = (day, *rest)
    return counted


def _activity_counts_raw(period: Period, by_day: bool, senders: list[int] | None) -> list:
    """The same tuples counted from the calls, emails and tasks (four queries)."""
    def grouped(queryset, user_field: str, moment: str, name: str, outcome: str | None = None):
        key = TruncDate(moment, tzinfo=period.zone) if by_day else F(user_field)
        if senders is not None:
            queryset = queryset.filter(**{f"{user_field}__in": senders})
        extra = [outcome] if outcome else []
        rows = (queryset.order_by().values(*extra, key=key).annotate(n=Count("pk"))
                .values_list("key", *extra, "n"))
        if outcome:
            return [(key, name, each, n) for key, each, n in rows]
        return [(key, name, "", n) for key, n in rows]

    since, until = period.since, period.until
    return [
        *grouped(Call.objects.filter(called_at__gte=since, called_at__lt=until),
                 "logged_by_id", "called_at", "calls", "outcome"),
        *grouped(SalesEmail.objects.filter(sent_at__gte=since, sent_at__lt=until),
                 "sender_id", "sent_at", "emails_sent"),
        *grouped(SalesEmail.objects.filter(replied_at__gte=since, replied_at__lt=until),
                 "sender_id", "replied_at", "emails_replied"),
        *grouped(ReminderTask.live.filter(status=ReminderTask.Status.COMPLETE,
                                          completed_at__gte=since, completed_at__lt=until),
                 "assignee_id", "completed_at", "tasks_completed")]
