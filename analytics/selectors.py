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

import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
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
from salesactions.caching import cached_built_once

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


#: One report of a page: ``(kind, group_by)``, ``kind`` being ``emails`` or ``activity``.
Ask = tuple[str, str]


def report_get(kind: str, period: Period, group_by: str, *, senders: list[int] | None = None,
               campaign: int | None = None) -> Report:
    """The ``kind`` report (``emails`` or ``activity``), from the cache when the same report
    (period, zone, grouping, senders, campaign) was counted within
    ``ANALYTICS_CACHE_SECONDS``: many viewers opening the page at once count it once. Figures
    are at most that old; nothing invalidates them sooner."""
    return reports_get(period, [(kind, group_by)], senders=senders, campaign=campaign)[0]


def reports_get(period: Period, asks: list[Ask], *, senders: list[int] | None = None,
                campaign: int | None = None) -> list[Report]:
    """Several reports of one period and senders (a page's), each from the cache as
    ``report_get`` says; those not in it are counted together (``reports_count``: each rollup
    table read once for all of them), by one request at a time: others asking for the same
    reports meanwhile wait for its count (``cached_built_once``)."""
    seconds = settings.ANALYTICS_CACHE_SECONDS
    if seconds <= 0:
        counted = reports_count(period, asks, senders=senders, campaign=campaign)
        return [counted[ask] for ask in asks]
    keys = [_cache_key(kind, group_by, period, senders, campaign) for kind, group_by in asks]
    asked = dict(zip(keys, asks, strict=True))

    def count(missing: list[str]) -> dict[str, Report]:
        counted = reports_count(period, [asked[key] for key in missing], senders=senders,
                                campaign=campaign)
        return {key: counted[asked[key]] for key in missing}

    # Viewers asking at once (a page's figures just expired) wait for one count.
    found = cached_built_once(list(asked), seconds, count)
    return [found[key] for key in keys]


def _cache_key(kind: str, group_by: str, period: Period, senders: list[int] | None,
               campaign: int | None) -> str:
    # The labels are in the viewer's language: one entry per language.
    return ":".join(["analytics", kind, group_by, period.start.isoformat(),
                     period.end.isoformat(), period.zone.key,
                     ",".join(map(str, senders)) if senders is not None else "all",
                     str(campaign or ""), datetime.now(period.zone).date().isoformat(),
                     get_language() or ""])


def email_report(period: Period, group_by: str, *, senders: list[int] | None = None,
                 campaign: int | None = None) -> Report:
    """Per template, campaign step, sender or day (``group_by``): emails sent in ``period``
    and how many of them were delivered, opened, clicked, replied to, bounced and caused an
    unsubscribe, with the rates. ``senders`` narrows to those users (None: everyone's),
    ``campaign`` to one campaign's emails. One aggregate query over the rollups (two over the
    emails in a zone the rollups cannot serve) plus the labels."""
    ask = ("emails", group_by)
    return reports_count(period, [ask], senders=senders, campaign=campaign)[ask]


def activity_report(period: Period, group_by: str, *, senders: list[int] | None = None,
                    today: date | None = None) -> Report:
    """Per seller, day or week (``group_by``): calls (and by outcome), emails sent, replies
    received, tasks completed in ``period`` (two aggregate queries over the rollups, or four
    over the raw rows in a zone the rollups cannot serve), and tasks overdue now (open, due
    before ``today`` in the viewer's zone) that fell due in ``period``: a live figure, the sum
    of the open tasks per due date kept as tasks change (``OpenTaskRollup``). By seller, one
    more query names the sellers."""
    ask = ("activity", group_by)
    return reports_count(period, [ask], senders=senders, today=today)[ask]


def reports_count(period: Period, asks: list[Ask], *, senders: list[int] | None = None,
                  campaign: int | None = None, today: date | None = None) -> dict[Ask, Report]:
    """Count ``asks`` (``campaign`` narrows the email reports only) afresh. The reports
    served by the same rollup rows share their reads: ONE aggregate statement per rollup
    table for all of them (``GROUPING SETS``: per day, template, step and seller at once),
    where a report alone would read the table once and a page of six reports eight times."""
    today = today or datetime.now(period.zone).date()
    reports: dict[Ask, Report] = {}
    together: dict[tuple, list[Ask]] = {}  # asks reading the same rollup rows
    for ask in dict.fromkeys(asks):
        kind, group_by = ask
        by_day = group_by == "day" if kind == "emails" else group_by != "seller"
        pieces = rollup_pieces(period, by_day=by_day)
        if pieces is not None:
            # The campaign narrows the email reports' sums, not the activity's emails sent.
            narrowed = campaign if kind == "emails" else None
            together.setdefault((tuple(pieces), narrowed), []).append(ask)
        elif kind == "emails":
            counted = _email_counts_raw(period, group_by, senders=senders, campaign=campaign)
            reports[ask] = _email_report_from(period, group_by, counted)
        else:
            counted = _activity_counts_raw(period, by_day, senders)
            counted += _overdue_counts(period, by_day, senders, today)
            reports[ask] = _activity_report_from(period, group_by, counted, senders)
    for (pieces, narrowed), shared in together.items():
        reports |= _reports_rolled_up(period, list(pieces), shared, senders=senders,
                                      campaign=narrowed, today=today)
    return reports


# --------------------------------------------------------------------------- email performance


def emails_sent_in(period: Period, *, senders: list[int] | None = None,
                   campaign: int | None = None) -> QuerySet[SalesEmail]:
    emails = SalesEmail.objects.filter(sent_at__gte=period.since, sent_at__lt=period.until)
    if senders is not None:
        emails = emails.filter(sender_id__in=senders)
    if campaign is not None:
        emails = emails.filter(campaign_runs__member__campaign_id=campaign)
    return emails.order_by()


def _email_report_from(period: Period, group_by: str, counted: dict) -> Report:
    """The email report of ``counted`` (``{key: {figure: n}}``): its rows labelled, the
    delivered counts and the rates, the totals."""
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


DAY = timedelta(days=1)
#: Rollup rows of ``hours`` (1 or 24) starting from ``since`` up to ``until`` (UTC).
Piece = tuple[int, datetime, datetime]


def rollup_pieces(period: Period, *, by_day: bool) -> list[Piece] | None:
    """Which rollup rows (``analytics.models``) add up to ``period``: the UTC days wholly
    inside it from the day rows, the hours at its edges from the hour rows — or, counted per
    day (``by_day``), the rows ``ViewerDays`` reads (in a zone whose days are not UTC days,
    the day rows and a few hours of each day). None when a day of the period does not begin
    on a whole UTC hour (zones offset by :30 or :45): the raw rows serve those."""
    midnights = [datetime.combine(day, time.min, tzinfo=period.zone)
                 for day in [*period.days(), period.end + timedelta(days=1)]]
    offsets = [moment.utcoffset().total_seconds() for moment in midnights]
    if any(offset % 3600 for offset in offsets):
        return None
    if by_day:
        return ViewerDays.of(period).pieces
    since, until = period.since.astimezone(UTC), period.until.astimezone(UTC)
    first_day = (since + timedelta(hours=23)).replace(hour=0)
    last_day = until.replace(hour=0)
    if first_day >= last_day:
        return [(1, since, until)]
    return [piece for piece in ((24, first_day, last_day), (1, since, first_day),
                                (1, last_day, until)) if piece[1] < piece[2]]


class ViewerDays:
    """The viewer's days of a period, from rollup rows kept per UTC hour and day.

    Each UTC day's row counts whole in the viewer's day it overlaps most (its *home*); the
    hours of that UTC day lying in another of the viewer's days are read from the hour rows,
    each added to its own day and taken off the home — so a zone 5 hours from UTC reads the
    day rows and 5 hour rows a day instead of 24, and one 1 hour away 1. A UTC day whose home
    falls outside the period counts by its hours inside the period alone. ``pieces`` are the
    rows to read; ``shares(hours, start)`` says where one of them counts, with what sign."""

    def __init__(self, period: Period):
        self.period = period
        self.inside = set(period.days())
        self.homes: dict[datetime, date] = {}  # UTC day -> the viewer's day it counts in
        self._starts: dict[date, datetime] = {}
        self._shares: dict[tuple[int, datetime], list[tuple[date, int]]] = {}
        since, until = period.since.astimezone(UTC), period.until.astimezone(UTC)
        day_rows, hours = [], []
        utc_day = since.replace(hour=0)
        while utc_day < until:
            end = utc_day + DAY
            home = max(self._overlapping(utc_day), key=lambda each, day=utc_day, end=end: (
                min(end, self._start(each + DAY)) - max(day, self._start(each)),
                -each.toordinal()))  # the most hours; of two alike, the earlier
            if home in self.inside:
                self.homes[utc_day] = home
                day_rows.append((24, utc_day, end))
                hours += [(1, utc_day, max(utc_day, self._start(home))),
                          (1, min(end, self._start(home + DAY)), end)]
            else:
                hours.append((1, max(utc_day, since), min(end, until)))
            utc_day = end
        self.pieces = _joined(day_rows) + _joined(hours)

    @classmethod
    @functools.lru_cache(maxsize=64)  # a page asks twice: its pieces, then the shares
    def of(cls, period: Period) -> ViewerDays:
        return cls(period)

    def _start(self, day: date) -> datetime:
        start = self._starts.get(day)
        if start is None:
            start = self._starts[day] = datetime.combine(
                day, time.min, tzinfo=self.period.zone).astimezone(UTC)
        return start

    def _overlapping(self, utc_day: datetime) -> set[date]:
        zone = self.period.zone
        return {(utc_day + timedelta(hours=hour)).astimezone(zone).date() for hour in (0, 12, 23)}

    def shares(self, hours: int, start: datetime) -> list[tuple[date, int]]:
        found = self._shares.get((hours, start))
        if found is not None:
            return found
        if hours == 24:
            home = self.homes.get(start)
            found = [(home, 1)] if home is not None else []
        else:
            day = start.astimezone(self.period.zone).date()
            home = self.homes.get(start.replace(hour=0))
            found = [(day, 1)] if day in self.inside else []
            if home == day:
                found = []  # inside its day row: never read, never counted twice
            elif home is not None:
                found.append((home, -1))
        self._shares[(hours, start)] = found
        return found


def _joined(pieces: list[Piece]) -> list[Piece]:
    """``pieces`` without the empty ones, those that touch joined into one."""
    joined: list[Piece] = []
    for hours, since, until in pieces:
        if since >= until:
            continue
        if joined and joined[-1][0] == hours and joined[-1][2] == since:
            joined[-1] = (hours, joined[-1][1], until)
        else:
            joined.append((hours, since, until))
    return joined


#: The email rollup columns each email report groups by.
_EMAIL_KEYS = {"template": ("template_id",), "sender": ("sender_id",),
               "campaign_step": ("step_id",), "day": ("hours", "start")}
#: The email rollups' columns other than time that reports group by.
_EMAIL_DIMENSIONS = ("template_id", "step_id", "sender_id")
#: The email rollups' figures.
_EMAIL_SUMS = ("sent", *_OUTCOMES, "unsubscribed")


def _rollup_sums(model, pieces: list[Piece], sets: list[tuple[str, ...]], sums: list[str],
                 where: list[tuple[str, list]] = ()) -> dict[tuple[str, ...], list[tuple]]:
    """``SELECT <group>, SUM(<each of sums>) FROM <model's table>`` over the rows of
    ``pieces``, narrowed by ``where`` (``(condition, its parameters)``), grouped by each
    ``group`` of ``sets``: ``{group: [(*group's values, *sums)]}``. ONE aggregate statement
    for all the groupings (``GROUPING SETS``: the rows are read once however many reports
    they serve; a ``UNION ALL`` of one ``GROUP BY`` per grouping where the database has no
    grouping sets, SQLite), written out because the ORM spent longer compiling it than
    PostgreSQL running it. Column names come from this module, never from a request."""
    quote = connection.ops.quote_name
    sets = list(dict.fromkeys(sets))
    columns = list(dict.fromkeys(column for group in sets for column in group))
    conditions, params = [], []
    as_sent = connection.ops.adapt_datetimefield_value  # a moment as the ORM would send it
    for hours, since, until in pieces:
        conditions.append("(hours = %s AND start >= %s AND start < %s)")
        params += [hours, as_sent(since), as_sent(until)]
    rows_of = (f"FROM {quote(model._meta.db_table)} WHERE ({' OR '.join(conditions)})"
               + "".join(f" AND {condition}" for condition, _value in where))
    params += [value for _condition, values in where for value in values]
    totals = ", ".join(f"SUM({quote(name)})" for name in sums)
    # On PostgreSQL the hours' and days' starts come as seconds since the epoch: psycopg
    # reads an integer several times faster than a timestamp, and a page reads hundreds.
    epoch = connection.vendor == "postgresql"
    selected = ", ".join(f"CAST(EXTRACT(EPOCH FROM {quote(column)}) AS bigint)"
                         if epoch and column == "start" else quote(column)
                         for column in columns)
    if len(sets) == 1:
        # (0 names the one grouping, as GROUPING() does below.)
        sql = (f"SELECT 0, {selected}, {totals} {rows_of} "
               f"GROUP BY {', '.join(map(quote, columns))}")
    elif connection.vendor == "postgresql":
        sql = (f"SELECT GROUPING({', '.join(map(quote, columns))}), "
               f"{selected}, {totals} {rows_of} GROUP BY GROUPING SETS ("
               + ", ".join(f"({', '.join(map(quote, group))})" for group in sets) + ")")
    else:
        sql = " UNION ALL ".join(
            f"SELECT {_grouping_mask(columns, group)}, "
            # (a typed NULL: a union's branches must agree on each column's type)
            + ", ".join(quote(column) if column in group else
                        f"CAST(NULL AS {model._meta.get_field(column).db_type(connection)})"
                        for column in columns)
            + f", {totals} {rows_of} GROUP BY {', '.join(map(quote, group))}"
            for group in sets)
        params *= len(sets)
    which = {_grouping_mask(columns, group) if len(sets) > 1 else 0: group for group in sets}
    found: dict[tuple[str, ...], list[tuple]] = {group: [] for group in sets}
    position = {column: index for index, column in enumerate(columns)}
    starts: dict = {}  # each start once to its moment (UTC)
    at = position.get("start")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for mask, *values in cursor.fetchall():
            if at is not None and values[at] is not None:
                stored = values[at]
                moment = starts.get(stored)
                if moment is None:
                    moment = starts[stored] = _utc_moment(stored)
                values[at] = moment
            group = which[mask]
            found[group].append((*(values[position[column]] for column in group),
                                 *values[len(columns):]))
    return found


def _utc_moment(stored) -> datetime:
    """A start as a raw query returns it: epoch seconds (PostgreSQL, see ``_rollup_sums``),
    or as SQLite keeps a moment, UTC without a zone (a datetime, or its text)."""
    if isinstance(stored, int):
        return datetime.fromtimestamp(stored, UTC)
    if isinstance(stored, str):
        stored = datetime.fromisoformat(stored)
    return stored if stored.tzinfo is not None else stored.replace(tzinfo=UTC)


def _fold(rows: list[tuple], index: int, width: int) -> list[tuple]:
    """``rows`` (``(*key columns, *sums)``, ``width`` key columns) summed by the key column
    at ``index``: ``[(key, *sums)]``."""
    sums: dict = {}
    for row in rows:
        key, figures = row[index], row[width:]
        found = sums.get(key)
        if found is None:
            sums[key] = list(figures)
        else:
            for position, value in enumerate(figures):
                found[position] += value
    return [(key, *figures) for key, figures in sums.items()]


def _grouping_mask(columns: list[str], group: tuple[str, ...]) -> int:
    """What ``GROUPING(<columns>)`` says of a row of ``group``: a bit per column, the first
    column the highest, set where the column is not grouped."""
    return sum(1 << (len(columns) - 1 - index) for index, column in enumerate(columns)
               if column not in group)


def _reports_rolled_up(period: Period, pieces: list[Piece], asks: list[Ask], *,
                       senders: list[int] | None, campaign: int | None,
                       today: date) -> dict[Ask, Report]:
    """``asks`` from the rollup rows of ``pieces``: one statement over the email rollups
    (every grouping the reports need: the email reports' and the activity's emails sent),
    one over the activity rollups, and the overdue tasks."""
    email_where, activity_where = [], []
    if senders is not None:
        # IN (…), not = ANY(%s): SQLite (the embedded default) has no arrays.
        marks = ", ".join(["%s"] * len(senders)) or "NULL"
        email_where.append((f"sender_id IN ({marks})", list(senders)))
        activity_where.append((f"user_id IN ({marks})", list(senders)))
    if campaign is not None:
        email_where.append(("campaign_id = %s", [campaign]))
    email_sets, activity_sets = [], []
    for kind, group_by in asks:
        if kind == "emails":
            email_sets.append(_EMAIL_KEYS[group_by])
        else:
            by_day = group_by != "seller"
            email_sets.append(("hours", "start") if by_day else ("sender_id",))
            activity_sets.append((*(("hours", "start") if by_day else ("user_id",)),
                                  "measure", "outcome"))
    email_sets = list(dict.fromkeys(email_sets))
    folded = [group for group in email_sets if group[0] in _EMAIL_DIMENSIONS]
    if len(folded) > 1:
        # One grouping by every dimension asked (a few hundred rows), folded here into each:
        # every grouping set costs PostgreSQL another hashing of every rollup row it reads.
        combined = tuple(column for column in _EMAIL_DIMENSIONS if (column,) in folded)
        email_sets = [group for group in email_sets if group not in folded] + [combined]
    emails = _rollup_sums(EmailRollup, pieces, email_sets, list(_EMAIL_SUMS), email_where)
    if len(folded) > 1:
        emails |= {group: _fold(emails[combined], combined.index(group[0]), len(combined))
                   for group in folded}
    activity = (_rollup_sums(ActivityRollup, pieces, activity_sets, ["n"], activity_where)
                if activity_sets else {})

    reports: dict[Ask, Report] = {}
    for ask in asks:
        kind, group_by = ask
        if kind == "emails":
            rows = emails[_EMAIL_KEYS[group_by]]
            counted = (_email_counted_by_day(rows, ViewerDays.of(period)) if group_by == "day"
                       else _email_counted(group_by, rows))
            reports[ask] = _email_report_from(period, group_by, counted)
            continue
        if group_by == "seller":
            counted = [(user, _ACTIVITY_MEASURES[measure], outcome, n) for user, measure, outcome, n
                       in activity[("user_id", "measure", "outcome")]]
            counted += [(sender, "emails_sent", "", sent)
                        for sender, sent, *_rest in emails[("sender_id",)]]
        else:
            shares = ViewerDays.of(period).shares
            counted = [(day, _ACTIVITY_MEASURES[measure], outcome, n * sign)
                       for hours, start, measure, outcome, n
                       in activity[("hours", "start", "measure", "outcome")]
                       for day, sign in shares(hours, start)]
            counted += [(day, "emails_sent", "", sent * sign)
                        for hours, start, sent, *_rest in emails[("hours", "start")]
                        for day, sign in shares(hours, start)]
        counted += _overdue_counts(period, group_by != "seller", senders, today)
        reports[ask] = _activity_report_from(period, group_by, counted, senders)
    return reports


def _email_counted_by_day(rows: list[tuple], days: ViewerDays) -> dict:
    """``{viewer's day: {figure: n}}`` from the rollup sums ``rows`` (``(hours, start,
    *_EMAIL_SUMS)``), each row counted where ``days`` says."""
    counted: dict = {}
    for hours, start, *figures in rows:
        for day, sign in days.shares(hours, start):
            counts = counted.setdefault(day, dict.fromkeys(_EMAIL_SUMS, 0))
            for name, n in zip(_EMAIL_SUMS, figures, strict=True):
                counts[name] += n * sign
    return counted


def _email_counted(group_by: str, rows: list[tuple]) -> dict:
    """``{key: {figure: n}}`` from the rollup sums ``rows`` (``(key, *_EMAIL_SUMS)``): no
    template is None, emails of no campaign step are not a campaign step."""
    counted: dict = {}
    for key, *figures in rows:
        if group_by == "template" and not key:
            key = None
        elif group_by == "campaign_step" and not key:
            continue
        counts = counted.get(key)
        if counts is None:
            counted[key] = dict(zip(_EMAIL_SUMS, figures, strict=True))
        else:
            for name, n in zip(_EMAIL_SUMS, figures, strict=True):
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
        steps = CampaignStep.objects.filter(pk__in=keys).values_list(
            "pk", "campaign__name", "position", "subject", "type")
        kinds = dict(CampaignStep.Type.choices)
        # Translators: a campaign step in a report, e.g. "Spring launch · step 2: Checking in".
        label = _("%(campaign)s · step %(position)s: %(subject)s")
        return {pk: label % {"campaign": campaign, "position": position + 1,
                             "subject": subject or kinds.get(kind, kind)}
                for pk, campaign, position, subject, kind in steps}
    return {day: day.isoformat() for day in keys}


def _user_labels(ids) -> dict:
    users = User.objects.filter(pk__in=[pk for pk in ids if pk]).values_list(
        "pk", "first_name", "last_name", "username")
    return {pk: f"{first} {last}".strip() or username for pk, first, last, username in users}


# --------------------------------------------------------------------------- activity


def _overdue_counts(period: Period, by_day: bool, senders: list[int] | None,
                    today: date) -> list[tuple]:
    """Tasks overdue now (open, due before ``today``) that fell due in ``period``, per due
    date or seller, as ``(key, "tasks_overdue", "", n)``: the open tasks per due date as they
    are now (``OpenTaskRollup``, kept by the task writes)."""
    overdue = OpenTaskRollup.objects.filter(due_date__lt=today, due_date__gte=period.start,
                                            due_date__lte=period.end)
    if senders is not None:
        overdue = overdue.filter(user_id__in=senders)
    column = "due_date" if by_day else "user_id"
    return [(key, "tasks_overdue", "", n) for key, n in
            overdue.order_by().values(column).annotate(n=Sum("n")).values_list(column, "n")]


def _activity_report_from(period: Period, group_by: str, counted: list[tuple],
                          senders: list[int] | None) -> Report:
    """The activity report of ``counted`` (``(key, figure, outcome, n)``; ``key`` the
    viewer's day or the seller; ``outcome`` the call's): its rows (every day or week of the
    period; by seller, every active seller of ``senders`` and anyone with figures, named in
    one query), the calls by outcome, the totals."""
    by_day = group_by != "seller"
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
    # (A day's figures may be a sum of shares, ``ViewerDays``: an outcome none of the period
    # had nets to 0 everywhere and is left out, as when counted from the calls.)
    outcome_names = sorted({name for counts in outcomes.values()
                            for name, n in counts.items() if n})
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
