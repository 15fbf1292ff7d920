"""The health sources: each room registers a function per stream it runs, and every source
reads the shared ``HealthContext``, whose reads are done once per request for all of them.

A source is ``read(ctx: HealthContext) -> StreamHealth``, registered with
``@health_source("reminder_tasks_in", label="...")``; the helpers below build the
``StreamHealth`` of the two usual shapes (``periodic_health`` for a pass on a schedule,
``outbox_health`` for deliveries of some kinds to one target) with the status rules of
``syncing/health/__init__.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property

from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncHour
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from syncing.budget import ApiBudget, budget_snapshot
from syncing.models import (
    Delivery,
    DeliveryAttempt,
    MarketoConnection,
    SalesforceConnection,
    StreamPass,
    SyncRun,
    SyncSettings,
    SyncStream,
)


class Status:
    OK = "ok"
    LAGGING = "lagging"
    FAILING = "failing"
    PAUSED = "paused"
    CHOICES = (OK, LAGGING, FAILING, PAUSED)


#: Slack on every schedule: beat's tick, and a pass's own duration.
GRACE_SECONDS = 60
#: A periodic stream is lagging once it missed a pass (2 schedules), failing after 6.
LAGGING_SCHEDULES = 2
FAILING_SCHEDULES = 6
#: ... and failing at once after this many failed passes in a row, whatever the schedule.
FAILING_PASSES_IN_A_ROW = 3
#: The outbox sends at once and retries from 15 s, doubling: 5 minutes is several retries.
OUTBOX_LAGGING_SECONDS = 5 * 60
OUTBOX_FAILING_SECONDS = 60 * 60
HOURS = 24

_ATTEMPT_OK = (DeliveryAttempt.Outcome.DELIVERED, DeliveryAttempt.Outcome.RECONCILED)
_ATTEMPT_ERRORS = (DeliveryAttempt.Outcome.RETRY, DeliveryAttempt.Outcome.FAILED,
                   DeliveryAttempt.Outcome.UNKNOWN)


@dataclass(frozen=True)
class QueueDepth:
    pending: int = 0      # waiting for their first send (or being sent)
    retrying: int = 0     # sent and failed, waiting for another attempt
    failed: int = 0       # gave up: an admin retries them on Diagnostics

    @property
    def waiting(self) -> int:
        return self.pending + self.retrying


@dataclass(frozen=True)
class HourBucket:
    hour: datetime                  # the hour's start (UTC)
    throughput: int                 # rows (or deliveries) in that hour
    errors: int
    lag_seconds: float | None       # how far behind at the hour's end (None: not known)


@dataclass(frozen=True)
class StreamHealth:
    """One stream's health. ``name`` and ``label`` are filled in by the registry."""

    enabled: bool
    status: str                     # Status.*
    reason: str = ""                # why it is not ok (empty when ok)
    system: str = ""                # "marketo" / "salesforce": whose API budget it spends
    direction: str = "in"           # "in" (into the app) or "out"
    schedule_seconds: float | None = None
    last_success_at: datetime | None = None
    lag_seconds: float | None = None
    throughput_last_hour: int = 0
    unit: str = "rows"
    errors_last_hour: int = 0
    last_error: str = ""
    last_error_at: datetime | None = None
    queue: QueueDepth | None = None
    history: tuple[HourBucket, ...] = ()
    detail: str = ""
    name: str = ""
    label: str = ""


@dataclass(frozen=True)
class HealthSource:
    name: str
    label: str
    read: Callable[[HealthContext], StreamHealth]
    order: int


_sources: dict[str, HealthSource] = {}


def health_source(name: str, *, label: str, order: int = 100
                  ) -> Callable[[Callable], Callable]:
    """Decorator: register ``read(ctx) -> StreamHealth`` as the health of stream ``name``
    (shown as ``label``; sources are listed by ``order``, then name)."""

    def register(read: Callable[[HealthContext], StreamHealth]):
        registered = _sources.get(name)
        if registered is not None and registered.read is not read:
            raise ValueError(f"a health source named {name!r} is already registered: "
                             f"{registered.read.__module__}.{registered.read.__qualname__}")
        _sources[name] = HealthSource(name, label, read, order)
        return read

    return register


def health_sources() -> list[HealthSource]:
    return sorted(_sources.values(), key=lambda source: (source.order, source.name))


def health_read(source: HealthSource, ctx: HealthContext) -> StreamHealth:
    health = source.read(ctx)
    # Labels and reasons may be lazy (module constants): made text in the reader's language.
    return replace(health, name=source.name, label=str(source.label), reason=str(health.reason))


# --------------------------------------------------------------------------- shared reads

def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class HealthContext:
    """What every source reads, each read done once (a bounded number of queries however
    many sources there are) and none of them a call to Marketo or Salesforce."""

    def __init__(self, now: datetime | None = None):
        self.now = now or timezone.now()
        self.hour_ago = self.now - timedelta(hours=1)
        last = _hour(self.now)
        self.hours = [last - timedelta(hours=back) for back in range(HOURS - 1, -1, -1)]
        self.since = self.hours[0]
        self._last_delivered: dict[tuple, datetime | None] = {}

    @cached_property
    def settings(self) -> SyncSettings:
        return SyncSettings.load()

    @cached_property
    def marketo(self) -> MarketoConnection:
        return MarketoConnection.load()

    @cached_property
    def salesforce(self) -> SalesforceConnection:
        return SalesforceConnection.load()

    @cached_property
    def streams(self) -> dict[str, SyncStream]:
        return {stream.name: stream for stream in SyncStream.objects.all()}

    @cached_property
    def budget(self) -> ApiBudget:
        return budget_snapshot(self.settings.salesforce_daily_api_share_percent,
                               now=self.now.timestamp())

    def connected(self, system: str) -> bool:
        return (self.marketo if system == "marketo" else self.salesforce).is_configured

    # -- the outbox

    @cached_property
    def delivery_queue(self) -> dict[tuple[str, str], dict]:
        """``{(target, kind): {"pending", "retrying", "failed", "oldest"}}`` over open
        deliveries (``oldest``: the creation of the oldest waiting one)."""
        status = Delivery.Status
        retrying = Case(When(status=status.PENDING, attempts__gt=0, then=Value(True)),
                        default=Value(False))
        queue: dict[tuple[str, str], dict] = defaultdict(
            lambda: {"pending": 0, "retrying": 0, "failed": 0, "oldest": None})
        rows = (Delivery.objects
                .filter(status__in=[status.PENDING, status.IN_PROGRESS, status.FAILED])
                .annotate(retrying=retrying)
                .values("target", "kind", "status", "retrying")
                .annotate(n=Count("id"), oldest=Min("created_at")).order_by())
        for row in rows:
            entry = queue[(row["target"], row["kind"])]
            if row["status"] == status.FAILED:
                entry["failed"] += row["n"]
                continue
            entry["retrying" if row["retrying"] else "pending"] += row["n"]
            if entry["oldest"] is None or row["oldest"] < entry["oldest"]:
                entry["oldest"] = row["oldest"]
        return dict(queue)

    @cached_property
    def attempt_hours(self) -> dict[tuple[str, str], dict[datetime, dict]]:
        """Attempts of the last 24 hours by ``(target, kind)`` and hour: sent, errors, the
        longest a delivery had waited, the last success; ``*_hour`` over the last 60 min."""
        ok, errors = Q(outcome__in=_ATTEMPT_OK), Q(outcome__in=_ATTEMPT_ERRORS)
        recent = Q(started_at__gte=self.hour_ago)
        waited = ExpressionWrapper(F("started_at") - F("delivery__created_at"),
                                   output_field=DurationField())
        rows = (DeliveryAttempt.objects.filter(started_at__gte=self.since)
                .annotate(hour=TruncHour("started_at", tzinfo=UTC))
                .values("delivery__target", "delivery__kind", "hour")
                .annotate(ok=Count("id", filter=ok), errors=Count("id", filter=errors),
                          ok_hour=Count("id", filter=ok & recent),
                          errors_hour=Count("id", filter=errors & recent),
                          waited=Max(waited), last_ok=Max("started_at", filter=ok),
                          last_error_id=Max("id", filter=errors))
                .order_by())
        hours: dict[tuple[str, str], dict[datetime, dict]] = defaultdict(dict)
        for row in rows:
            hours[(row["delivery__target"], row["delivery__kind"])][_hour(row["hour"])] = row
        return dict(hours)

    @cached_property
    def attempt_last_errors(self) -> dict[tuple[str, str], dict]:
        """The latest failed attempt of the last 24 hours per ``(target, kind)``."""
        # The hourly read found each hour's latest failed attempt (by id, as they are made).
        latest = {max(ids) for ids in (
            [row["last_error_id"] for row in hours.values() if row["last_error_id"]]
            for hours in self.attempt_hours.values()) if ids}
        if not latest:
            return {}
        return {(row["delivery__target"], row["delivery__kind"]): row
                for row in DeliveryAttempt.objects.filter(pk__in=latest).values(
                    "delivery__target", "delivery__kind", "started_at", "error_code",
                    "error_message")}

    def last_delivered(self, target: str, kinds: Iterable[str] | None) -> datetime | None:
        """The last delivery of these kinds (all: None) to ``target``; asked only of streams
        with none in the last 24 hours."""
        key = (target, tuple(sorted(kinds)) if kinds is not None else None)
        if key not in self._last_delivered:
            deliveries = Delivery.objects.filter(target=target, delivered_at__isnull=False)
            if kinds is not None:
                deliveries = deliveries.filter(kind__in=list(kinds))
            self._last_delivered[key] = (deliveries.order_by("-delivered_at")
                                         .values_list("delivered_at", flat=True).first())
        return self._last_delivered[key]

    # -- people passes (SyncRun)

    @cached_property
    def latest_initial_run(self) -> SyncRun | None:
        return SyncRun.objects.filter(kind=SyncRun.Kind.INITIAL).order_by("-id").first()

    @cached_property
    def incremental_hours(self) -> dict[datetime, dict]:
        succeeded, failed = Q(status=SyncRun.Status.SUCCEEDED), Q(status=SyncRun.Status.FAILED)
        recent = Q(finished_at__gte=self.hour_ago)
        rows = (SyncRun.objects
                .filter(kind=SyncRun.Kind.INCREMENTAL, finished_at__gte=self.since)
                .annotate(hour=TruncHour("finished_at", tzinfo=UTC)).values("hour")
                .annotate(rows=Sum("leads_read"), errors=Count("id", filter=failed),
                          rows_hour=Sum("leads_read", filter=recent),
                          errors_hour=Count("id", filter=failed & recent),
                          last_ok=Max("finished_at", filter=succeeded))
                .order_by())
        return {_hour(row["hour"]): row for row in rows}

    @cached_property
    def incremental_success_before(self) -> datetime | None:
        return (SyncRun.objects.filter(kind=SyncRun.Kind.INCREMENTAL,
                                       status=SyncRun.Status.SUCCEEDED,
                                       finished_at__lt=self.since)
                .aggregate(last=Max("finished_at"))["last"])

    # -- logged passes (StreamPass)

    @cached_property
    def pass_hours(self) -> dict[str, dict[datetime, dict]]:
        recent = Q(finished_at__gte=self.hour_ago)
        rows = (StreamPass.objects.filter(finished_at__gte=self.since)
                .annotate(hour=TruncHour("finished_at", tzinfo=UTC)).values("stream", "hour")
                .annotate(rows_total=Sum("rows"), errors=Count("id", filter=Q(ok=False)),
                          rows_hour=Sum("rows", filter=recent),
                          errors_hour=Count("id", filter=Q(ok=False) & recent),
                          last_ok=Max("finished_at", filter=Q(ok=True)))
                .order_by())
        hours: dict[str, dict[datetime, dict]] = defaultdict(dict)
        for row in rows:
            hours[row["stream"]][_hour(row["hour"])] = {**row, "rows": row["rows_total"]}
        return dict(hours)

    @cached_property
    def pass_success_before(self) -> dict[str, datetime]:
        return dict(StreamPass.objects.filter(ok=True, finished_at__lt=self.since)
                    .values("stream").annotate(last=Max("finished_at")).order_by()
                    .values_list("stream", "last"))


# --------------------------------------------------------------------------- the rules

def unit_text(count: int, unit: str) -> str:
    """``count`` of a health stream's ``unit`` (the API's word for what it counts), in the
    reader's language and number format."""
    shown = formats.number_format(count, force_grouping=True)
    if unit == "rows":
        return ngettext("%(count)s row", "%(count)s rows", count) % {"count": shown}
    if unit == "deliveries":
        return ngettext("%(count)s delivery", "%(count)s deliveries", count) % {"count": shown}
    if unit == "steps":
        return ngettext("%(count)s step", "%(count)s steps", count) % {"count": shown}
    if unit == "emails":
        return ngettext("%(count)s email", "%(count)s emails", count) % {"count": shown}
    if unit == "messages matched":
        return ngettext("%(count)s message matched", "%(count)s messages matched",
                        count) % {"count": shown}
    if unit == "leads":
        return ngettext("%(count)s lead", "%(count)s leads", count) % {"count": shown}
    if unit == "tasks":
        return ngettext("%(count)s task", "%(count)s tasks", count) % {"count": shown}
    if unit == "records":
        return ngettext("%(count)s record", "%(count)s records", count) % {"count": shown}
    return f"{shown} {unit}"


def duration_text(seconds: float | None) -> str:
    """``90`` -> ``"1 min 30 s"``; ``None`` -> ``"-"``."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return pgettext("short duration", "%(seconds)s s") % {"seconds": seconds}
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        if rest and minutes < 10:
            # Translators: a short duration, e.g. "1 min 30 s".
            return pgettext("short duration", "%(minutes)s min %(seconds)s s") % {
                "minutes": minutes, "seconds": rest}
        return pgettext("short duration", "%(minutes)s min") % {"minutes": minutes}
    if seconds < 2 * 86400:
        hours, rest = divmod(seconds, 3600)
        if rest >= 60:
            # Translators: a short duration, e.g. "3 h 20 min".
            return pgettext("short duration", "%(hours)s h %(minutes)s min") % {
                "hours": hours, "minutes": rest // 60}
        return pgettext("short duration", "%(hours)s h") % {"hours": hours}
    days = seconds // 86400
    return ngettext("%(days)s day", "%(days)s days", days) % {"days": days}


def periodic_status(*, enabled: bool, off_reason: str, blocked_reason: str = "",
                    schedule_seconds: float, lag_seconds: float | None, last_failed: bool,
                    last_error: str, failures_in_a_row: int = 0) -> tuple[str, str]:
    """``(status, reason)`` of a stream that runs a pass every ``schedule_seconds``; its lag is
    the time since its last successful pass (or how far behind its source it is).

    paused: switched off, or blocked (not connected, waiting for another stream);
    failing: the last 3 passes failed (at once, whatever the schedule: a nightly stream
    would otherwise wait days to say so), or the last pass failed and no pass succeeded for
    2 schedules, or none for 6;
    lagging: the last pass failed (the next one retries), or none succeeded for 2 schedules,
    or it has never run; ok otherwise. Every threshold has a minute's grace (beat's tick and
    the pass's own duration).
    """
    if not enabled:
        return Status.PAUSED, off_reason
    if blocked_reason:
        return Status.PAUSED, blocked_reason
    lagging_after = LAGGING_SCHEDULES * schedule_seconds + GRACE_SECONDS
    failing_after = FAILING_SCHEDULES * schedule_seconds + GRACE_SECONDS
    every = duration_text(schedule_seconds)
    if lag_seconds is None:
        if last_failed:
            return Status.FAILING, _("No pass has succeeded yet: %(error)s") % {"error": last_error}
        return Status.LAGGING, _("No pass has run yet.")
    behind = duration_text(lag_seconds)
    if last_failed and failures_in_a_row >= FAILING_PASSES_IN_A_ROW:
        return Status.FAILING, _("The last %(count)s passes failed: %(error)s") % {
            "count": failures_in_a_row, "error": last_error}
    if last_failed and lag_seconds > lagging_after:
        return Status.FAILING, _("Failing for %(behind)s (a pass every %(every)s): %(error)s") % {
            "behind": behind, "every": every, "error": last_error}
    if lag_seconds > failing_after:
        return Status.FAILING, _("No successful pass for %(behind)s (a pass every %(every)s).") % {
            "behind": behind, "every": every}
    if last_failed:
        return Status.LAGGING, _("The last pass failed; the next one retries: %(error)s") % {
            "error": last_error}
    if lag_seconds > lagging_after:
        return Status.LAGGING, _("%(behind)s behind (a pass every %(every)s).") % {
            "behind": behind, "every": every}
    return Status.OK, ""


def hourly_history(ctx: HealthContext, hours: dict[datetime, dict],
                   success_before: datetime | None) -> tuple[HourBucket, ...]:
    """24 hourly buckets of a periodic stream: rows and failed passes per hour, and the lag
    at each hour's end (the time since the last successful pass by then)."""
    last_ok = success_before
    buckets = []
    for hour in ctx.hours:
        row = hours.get(hour) or {}
        if row.get("last_ok") and (last_ok is None or row["last_ok"] > last_ok):
            last_ok = row["last_ok"]
        end = min(hour + timedelta(hours=1), ctx.now)
        buckets.append(HourBucket(hour=hour, throughput=int(row.get("rows") or 0),
                                  errors=int(row.get("errors") or 0),
                                  lag_seconds=(end - last_ok).total_seconds() if last_ok
                                  else None))
    return tuple(buckets)


def periodic_health(ctx: HealthContext, *, hours: dict[datetime, dict],
                    success_before: datetime | None, stream: SyncStream | None,
                    enabled: bool, off_reason: str, blocked_reason: str = "",
                    schedule_seconds: float, system: str, unit: str,
                    lag_seconds: float | None = None, detail: str = "") -> StreamHealth:
    """The health of a pass on a schedule, from its hourly rows (``SyncRun`` or
    ``StreamPass``) and its ``SyncStream``. ``lag_seconds`` defaults to the time since its
    last successful pass."""
    last_success = stream.last_success_at if stream else None
    if lag_seconds is None and last_success is not None:
        lag_seconds = max(0.0, (ctx.now - last_success).total_seconds())
    last_failed = bool(stream and stream.status == SyncStream.Status.FAILING)
    last_error = stream.last_error if stream else ""
    status, reason = periodic_status(
        enabled=enabled, off_reason=off_reason, blocked_reason=blocked_reason,
        schedule_seconds=schedule_seconds, lag_seconds=lag_seconds, last_failed=last_failed,
        last_error=last_error,
        failures_in_a_row=stream.consecutive_failures if stream else 0)
    return StreamHealth(
        enabled=enabled, status=status, reason=reason, system=system, direction="in",
        schedule_seconds=schedule_seconds, last_success_at=last_success,
        lag_seconds=lag_seconds,
        throughput_last_hour=sum(int(row.get("rows_hour") or 0) for row in hours.values()),
        unit=unit,
        errors_last_hour=sum(int(row.get("errors_hour") or 0) for row in hours.values()),
        last_error=last_error,
        last_error_at=stream.last_attempt_at if stream and last_error else None,
        history=hourly_history(ctx, hours, success_before), detail=detail)


def pass_log_health(ctx: HealthContext, pass_log: str, **options) -> StreamHealth:
    """``periodic_health`` of a stream that logs its passes with ``stream_pass_record``."""
    return periodic_health(ctx, hours=ctx.pass_hours.get(pass_log, {}),
                           success_before=ctx.pass_success_before.get(pass_log), **options)


_OUTBOX_STREAMS = {Delivery.Target.SALESFORCE: SyncStream.Name.SALESFORCE_DELIVERIES,
                   Delivery.Target.MARKETO: SyncStream.Name.MARKETO_DELIVERIES}


def outbox_health(ctx: HealthContext, *, target: str, kinds: Iterable[str] | None,
                  enabled: bool, off_reason: str) -> StreamHealth:
    """The health of the deliveries of ``kinds`` (None: every kind) to ``target``.

    Lag is the age of the oldest waiting delivery. paused: switched off, not connected, or
    the target paused after an API limit; failing: a delivery waited over an hour, or
    attempts failed in the last hour and none succeeded while deliveries wait; lagging: a
    delivery waited over 5 minutes, or failed deliveries wait for an admin's retry.
    """
    kinds = tuple(kinds) if kinds is not None else None

    def mine(key: tuple[str, str]) -> bool:
        return key[0] == target and (kinds is None or key[1] in kinds)

    queue = QueueDepth()
    oldest = None
    for key, entry in ctx.delivery_queue.items():
        if mine(key):
            queue = QueueDepth(queue.pending + entry["pending"],
                               queue.retrying + entry["retrying"], queue.failed + entry["failed"])
            if entry["oldest"] and (oldest is None or entry["oldest"] < oldest):
                oldest = entry["oldest"]
    merged: dict[datetime, dict] = defaultdict(lambda: defaultdict(int))
    last_ok = None
    for key, hours in ctx.attempt_hours.items():
        if not mine(key):
            continue
        for hour, row in hours.items():
            bucket = merged[hour]
            for field in ("ok", "errors", "ok_hour", "errors_hour"):
                bucket[field] += row[field]
            if row["waited"] is not None:
                bucket["waited"] = max(bucket["waited"], row["waited"].total_seconds())
            if row["last_ok"] and (last_ok is None or row["last_ok"] > last_ok):
                last_ok = row["last_ok"]
    errors = [row for key, row in ctx.attempt_last_errors.items() if mine(key)]
    last_error = max(errors, key=lambda row: row["started_at"]) if errors else None
    if last_ok is None:
        last_ok = ctx.last_delivered(target, kinds)
    lag = max(0.0, (ctx.now - oldest).total_seconds()) if oldest else 0.0
    sent_hour = sum(bucket["ok_hour"] for bucket in merged.values())
    errors_hour = sum(bucket["errors_hour"] for bucket in merged.values())
    error_text = (f"{last_error['error_code']}: {last_error['error_message']}".strip(": ")
                  if last_error else "")

    stream = ctx.streams.get(_OUTBOX_STREAMS[target])
    label = Delivery.Target(target).label
    if not enabled:
        status, reason = Status.PAUSED, off_reason
    elif not ctx.connected(target):
        status, reason = Status.PAUSED, _("%(system)s is not connected (Settings).") % {
            "system": label}
    elif stream and stream.paused_until and stream.paused_until > ctx.now:
        status = Status.PAUSED
        reason = _("Paused until %(time)s after an API limit: %(error)s") % {
            "time": formats.time_format(timezone.localtime(stream.paused_until), "H:i"),
            "error": stream.last_error}
    elif lag > OUTBOX_FAILING_SECONDS:
        status, reason = Status.FAILING, _("A delivery has waited %(wait)s.") % {
            "wait": duration_text(lag)}
    elif errors_hour and not sent_hour and queue.waiting:
        status, reason = Status.FAILING, ngettext(
            "%(count)s failed attempt and no delivery in the last hour: %(error)s",
            "%(count)s failed attempts and no delivery in the last hour: %(error)s",
            errors_hour) % {"count": errors_hour, "error": error_text}
    elif lag > OUTBOX_LAGGING_SECONDS:
        status, reason = Status.LAGGING, _("A delivery has waited %(wait)s.") % {
            "wait": duration_text(lag)}
    elif queue.failed:
        status, reason = Status.LAGGING, ngettext(
            "%(count)s failed delivery waits for a retry on Diagnostics.",
            "%(count)s failed deliveries wait for a retry on Diagnostics.",
            queue.failed) % {"count": queue.failed}
    else:
        status, reason = Status.OK, ""
    history = tuple(HourBucket(hour=hour, throughput=merged[hour]["ok"] if hour in merged else 0,
                               errors=merged[hour]["errors"] if hour in merged else 0,
                               lag_seconds=(merged[hour]["waited"] if hour in merged else None))
                    for hour in ctx.hours)
    return StreamHealth(
        enabled=enabled, status=status, reason=reason, system=target, direction="out",
        last_success_at=last_ok, lag_seconds=lag, throughput_last_hour=sent_hour,
        unit="deliveries", errors_last_hour=errors_hour, last_error=error_text,
        last_error_at=last_error["started_at"] if last_error else None, queue=queue,
        history=history)
