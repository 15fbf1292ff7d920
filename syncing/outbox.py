"""The outbox: activities on their way to Salesforce and Marketo.

An activity and its ``Delivery`` rows are saved in one transaction (``deliveries_save``);
a flush is then enqueued after commit, and beat's ``sync_tick`` enqueues one for any due
delivery the enqueue missed (broker down, worker killed), so nothing is lost.

A flush claims a batch of due deliveries of one target and hands it to that target's sender
(``salesforce_tasks``, ``marketo_activities``), which returns an ``Outcome`` per delivery;
the outcomes are recorded with an attempt row each. Claiming takes rows with
``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite runs one writer at a time), and a
claim expires, so any number of workers share the work and a killed worker's batch is taken
over. Before a batch is sent, ``outcome_unknown`` is committed; a batch found with it set is
reconciled against the remote system before it is sent again (no duplicates).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Delivery, DeliveryAttempt, MarketoConnection, SalesforceConnection, SyncStream
from .services import marketo_client_for, salesforce_client_for

log = logging.getLogger(__name__)

Target = Delivery.Target
Status = Delivery.Status

#: Records per remote request: sObject Collections take 200, Add Custom Activities 300.
BATCH_SIZES = {Target.SALESFORCE: 200, Target.MARKETO: 300}
STREAMS = {Target.SALESFORCE: SyncStream.Name.SALESFORCE_DELIVERIES,
           Target.MARKETO: SyncStream.Name.MARKETO_DELIVERIES}


def claim_seconds() -> float:
    """How long a claim holds; longer than the slowest send (timeouts and retries included)."""
    return settings.OUTBOX_CLAIM_SECONDS


def retry_base_seconds() -> float:
    return settings.OUTBOX_RETRY_BASE_SECONDS


def max_attempts() -> int:
    """Sends before a delivery is failed for an admin to retry (backoff reaches hours)."""
    return settings.OUTBOX_MAX_ATTEMPTS


def limit_pause_seconds() -> float:
    """How long a target pauses when its API limit is reached, before probing again."""
    return settings.OUTBOX_LIMIT_PAUSE_SECONDS


def linger_seconds() -> float:
    """A flush enqueued at log time waits this long, so a burst goes out in full batches."""
    return settings.OUTBOX_LINGER_SECONDS


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery in one attempt (``sent``: an attempt row is logged)."""

    kind: str
    remote_id: str = ""
    code: str = ""
    message: str = ""
    duration_ms: int = 0
    sent: bool = True

    @classmethod
    def delivered(cls, remote_id: str, duration_ms: int = 0) -> Outcome:
        return cls("delivered", remote_id=str(remote_id), duration_ms=duration_ms)

    @classmethod
    def reconciled(cls, remote_id: str, duration_ms: int = 0) -> Outcome:
        """Found already applied by an earlier attempt whose answer was lost."""
        return cls("reconciled", remote_id=str(remote_id), duration_ms=duration_ms)

    @classmethod
    def retry(cls, code: str, message: str, duration_ms: int = 0) -> Outcome:
        """Not applied; a later attempt can succeed (backoff)."""
        return cls("retry", code=code or "", message=message, duration_ms=duration_ms)

    @classmethod
    def unknown(cls, code: str, message: str, duration_ms: int = 0) -> Outcome:
        """Maybe applied: reconcile before the next attempt."""
        return cls("unknown", code=code or "", message=message, duration_ms=duration_ms)

    @classmethod
    def failed(cls, code: str, message: str, duration_ms: int = 0) -> Outcome:
        """Cannot succeed as it is; shown on Diagnostics for an admin to retry."""
        return cls("failed", code=code or "", message=message, duration_ms=duration_ms)

    @classmethod
    def paused(cls, code: str, message: str, duration_ms: int = 0) -> Outcome:
        """Refused for an API limit: not applied, waits for the target to resume."""
        return cls("paused", code=code or "", message=message, duration_ms=duration_ms)

    @classmethod
    def skipped(cls, reason: str) -> Outcome:
        return cls("skipped", message=reason, sent=False)

    @classmethod
    def released(cls) -> Outcome:
        """Not attempted this time (the target paused first); back in the queue as it was."""
        return cls("released", sent=False)


@dataclass
class SenderResult:
    """A sender's answer for a batch: outcomes by delivery id (missing ones are released), and
    a reason to pause the whole target when an API limit was reached."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    pause_reason: str = ""


class Batch:
    """Deliveries claimed by one worker; ``reconcile`` holds the ids that may already have been
    applied by an earlier attempt."""

    def __init__(self, target: str, token: str, deliveries: list[Delivery], reconcile: set[int]):
        self.target = target
        self.token = token
        self.deliveries = deliveries
        self.by_id = {delivery.pk: delivery for delivery in deliveries}
        self.reconcile = reconcile
        self.sent: set[int] = set()

    def mark_sending(self, ids: list[int]) -> None:
        """Commit that these are about to be sent, before the request leaves."""
        now = timezone.now()
        Delivery.objects.filter(pk__in=ids, claim_token=self.token).update(
            outcome_unknown=True, attempts=F("attempts") + 1, last_attempt_at=now,
            first_attempt_at=Coalesce(F("first_attempt_at"), now))
        for pk in ids:
            delivery = self.by_id[pk]
            delivery.outcome_unknown = True
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.first_attempt_at = delivery.first_attempt_at or now
        self.sent.update(ids)

    def reconcile_earlier_sends(self, records: dict[int, object], result: SenderResult,
                                find: Callable[[dict], dict[int, str]],
                                errors: type[Exception]) -> dict[int, object]:
        """Before sending again, match the deliveries an earlier attempt may have applied
        against what the remote holds: ``find(maybe_applied_records) -> {id: remote id}``.

        Matched deliveries are recorded as delivered; if the remote cannot be checked (one of
        ``errors``), they wait, since sending blind could duplicate. Returns the records still
        to send.
        """
        unknown = {pk: record for pk, record in records.items() if pk in self.reconcile}
        if not unknown:
            return records
        started = time.monotonic()
        try:
            found = find(unknown)
        except errors as error:
            for pk in unknown:
                result.outcomes[pk] = Outcome.unknown(
                    getattr(error, "code", None) or "RECONCILE_FAILED",
                    f"Could not check for an earlier delivery: {error}")
            return {pk: record for pk, record in records.items() if pk not in unknown}
        for pk, remote_id in found.items():
            result.outcomes[pk] = Outcome.reconciled(remote_id, ms_since(started))
        return {pk: record for pk, record in records.items() if pk not in found}

    def taken_remote_ids(self, remote_ids: list[str]) -> set[str]:
        """Those of ``remote_ids`` that deliveries of this target already own."""
        return set(Delivery.objects.filter(target=self.target, remote_id__in=remote_ids)
                   .values_list("remote_id", flat=True))


def ms_since(started: float) -> int:
    """Milliseconds since a ``time.monotonic()`` reading."""
    return int((time.monotonic() - started) * 1000)


# --------------------------------------------------------------------------- creating


def deliveries_build(*, activity_type: str, call=None, skipped: dict[str, str]
                     ) -> list[Delivery]:
    """One unsaved delivery per target for an activity; ``skipped`` maps a target to the
    reason it is not sent, the others start pending."""
    now = timezone.now()
    return [Delivery(target=target, activity_type=activity_type, call=call,
                     status=Status.SKIPPED if target in skipped else Status.PENDING,
                     skip_reason=skipped.get(target, ""), next_attempt_at=now)
            for target in Target.values]


def deliveries_save(deliveries: list[Delivery]) -> list[Delivery]:
    """Save deliveries inside the caller's transaction (the one saving their activities) and
    enqueue a flush of their targets once it commits."""
    saved = Delivery.objects.bulk_create(deliveries, batch_size=1000)
    targets = sorted({d.target for d in saved if d.status == Status.PENDING})
    if targets:
        transaction.on_commit(lambda: deliveries_flush_soon(targets))
    return saved


def _flush_key(target: str) -> str:
    # Per database: test runs and benchmarks on one machine share the file cache.
    return f"outbox-flush:{connection.settings_dict['NAME']}:{target}"


def deliveries_flush_soon(targets, *, countdown: float | None = None,
                          full_batches_only: bool = False) -> None:
    """Enqueue a flush of each target unless one is already waiting to start.

    ``full_batches_only``: a helper for a backlog, which stops rather than send a partial
    batch. Never raises: if the broker (or the cache) is down the deliveries stay pending and
    beat's tick enqueues their flush once it is back.
    """
    from .tasks import deliveries_flush_task

    countdown = linger_seconds() if countdown is None else countdown
    for target in targets:
        key = _flush_key(target)
        try:
            if not cache.add(key, 1, timeout=60):
                continue
        except Exception:  # a cache outage must not stop the enqueue
            log.warning("cache unavailable; enqueueing the %s flush anyway", target,
                        exc_info=True)
        try:
            deliveries_flush_task.apply_async((target, full_batches_only),
                                              countdown=countdown or None, retry=False)
        except Exception:  # broker down: the deliveries are saved, the tick sends them
            log.warning("could not enqueue the %s flush; beat's tick will pick it up", target,
                        exc_info=True)
            try:
                cache.delete(key)
            except Exception:
                log.debug("cache unavailable", exc_info=True)
            # The next target would wait for the same dead broker: leave it to the tick too.
            return


def deliveries_flush_started(target: str) -> None:
    """A flush is running: calls logged from now on need a new one."""
    try:
        cache.delete(_flush_key(target))
    except Exception:
        log.debug("cache unavailable", exc_info=True)


# --------------------------------------------------------------------------- claiming


def _due(now: datetime) -> Q:
    return (Q(status=Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Status.IN_PROGRESS, claimed_until__lt=now))


def deliveries_claim(target: str, limit: int | None = None, *,
                     full_only: bool = False) -> Batch | None:
    """Claim up to ``limit`` due deliveries of ``target`` for this worker (None if none, or
    with ``full_only`` if fewer than ``limit`` are due)."""
    now = timezone.now()
    limit = limit or BATCH_SIZES[target]
    with transaction.atomic():
        candidates = (Delivery.objects.filter(target=target).filter(_due(now))
                      .order_by("next_attempt_at", "id"))
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        rows = list(candidates.values_list("pk", "outcome_unknown")[:limit])
        if not rows or (full_only and len(rows) < limit):
            return None
        token = uuid.uuid4().hex
        ids = [pk for pk, _ in rows]
        Delivery.objects.filter(pk__in=ids).filter(_due(now)).update(
            status=Status.IN_PROGRESS, claimed_until=now + timedelta(seconds=claim_seconds()),
            claim_token=token)
    deliveries = list(Delivery.objects.filter(claim_token=token)
                      .select_related("call__person", "call__logged_by").order_by("id"))
    if not deliveries:
        return None
    return Batch(target, token, deliveries, {pk for pk, unknown in rows if unknown})


# --------------------------------------------------------------------------- recording

def _backoff(attempts: int) -> timedelta:
    step = min(retry_base_seconds() * 2 ** max(attempts - 1, 0), 3600)
    # Jitter so deliveries that failed together do not come back together.
    return timedelta(seconds=step * random.uniform(0.8, 1.0))


def _changes(delivery: Delivery, outcome: Outcome, now: datetime, retry_at) -> dict:
    """The fields an outcome sets (``remote_id`` aside: it differs row by row)."""
    kind = outcome.kind
    if kind == "released":
        return {"status": Status.PENDING}
    if kind in ("delivered", "reconciled"):
        return {"status": Status.DELIVERED, "delivered_at": now, "outcome_unknown": False,
                "last_error_code": "", "last_error_message": ""}
    if kind == "skipped":
        return {"status": Status.SKIPPED, "skip_reason": outcome.message[:300]}
    changes = {"last_error_code": outcome.code[:100], "last_error_message": outcome.message,
               "outcome_unknown": kind == "unknown"}
    if kind == "failed" or (kind != "paused" and delivery.attempts >= max_attempts()):
        changes["status"] = Status.FAILED
    elif kind == "paused":
        # Due as soon as the target's pause ends (or an admin resumes it).
        changes.update(status=Status.PENDING, next_attempt_at=now)
    else:
        changes.update(status=Status.PENDING, next_attempt_at=retry_at(delivery.attempts))
    return changes


def _remote_ids_set(remote_ids: dict[int, str]) -> None:
    """Store the remote ids, one UPDATE per 500: ``bulk_update``'s per-row CASE expressions
    cost more CPU than the remote call itself at these batch sizes."""
    table = connection.ops.quote_name(Delivery._meta.db_table)
    pairs = list(remote_ids.items())
    with connection.cursor() as cursor:
        for start in range(0, len(pairs), 500):
            chunk = pairs[start:start + 500]
            cases = " ".join(["WHEN %s THEN %s"] * len(chunk))
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} SET remote_id = CASE id {cases} END WHERE id IN ({marks})",
                [value for pair in chunk for value in pair] + [pk for pk, _ in chunk])


def _attempt(delivery: Delivery, outcome: Outcome, now: datetime, *,
             late: bool = False) -> DeliveryAttempt:
    message = outcome.message
    if late:
        message = f"(recorded after the claim expired) {message}".strip()
    return DeliveryAttempt(delivery_id=delivery.pk, duration_ms=outcome.duration_ms,
                           started_at=now - timedelta(milliseconds=outcome.duration_ms),
                           outcome=outcome.kind, error_code=outcome.code[:100],
                           error_message=message)


def _record(batch: Batch, result: SenderResult) -> Counter:
    """Write a batch's outcomes and attempt rows, for the deliveries this claim still holds.

    Rows that end alike are written with one UPDATE, so a batch costs a handful of queries.
    """
    now = timezone.now()
    counts: Counter = Counter()
    retry_times: dict[int, datetime] = {}

    def retry_at(attempts: int) -> datetime:
        return retry_times.setdefault(attempts, now + _backoff(attempts))

    with transaction.atomic():
        owned = set(Delivery.objects.select_for_update()
                    .filter(pk__in=list(batch.by_id), claim_token=batch.token)
                    .values_list("pk", flat=True))
        groups: dict[tuple, list[int]] = defaultdict(list)
        remote_ids: dict[int, str] = {}
        attempts = []
        for delivery in batch.deliveries:
            outcome = result.outcomes.get(delivery.pk, Outcome.released())
            if delivery.pk not in owned:
                # Our claim expired and another worker took the delivery over: its state is
                # that worker's to write, but this attempt still happened.
                log.warning("delivery %s was taken over before its outcome was recorded",
                            delivery.pk)
                if outcome.sent:
                    attempts.append(_attempt(delivery, outcome, now, late=True))
                continue
            # Failed before anything left (not connected, ...): still an attempt.
            unmarked = outcome.sent and delivery.pk not in batch.sent
            if unmarked:
                delivery.attempts += 1
            changes = _changes(delivery, outcome, now, retry_at)
            groups[(tuple(sorted(changes.items())), unmarked)].append(delivery.pk)
            if outcome.remote_id:
                remote_ids[delivery.pk] = outcome.remote_id
            counts[changes["status"]] += 1
            if outcome.sent:
                attempts.append(_attempt(delivery, outcome, now))
        for (items, unmarked), ids in groups.items():
            values = dict(items) | {"claimed_until": None, "claim_token": ""}
            if unmarked:
                values.update(attempts=F("attempts") + 1, last_attempt_at=now,
                              first_attempt_at=Coalesce(F("first_attempt_at"), now))
            Delivery.objects.filter(pk__in=ids).update(**values)
        if remote_ids:
            _remote_ids_set(remote_ids)
        DeliveryAttempt.objects.bulk_create(attempts, batch_size=500)
        stream = delivery_stream(batch.target)
        stream.last_attempt_at = now
        if counts[Status.DELIVERED]:
            stream.last_success_at = now
        stream.save(update_fields=["last_attempt_at", "last_success_at"])
    return counts


# --------------------------------------------------------------------------- streams & pausing


def delivery_stream(target: str) -> SyncStream:
    """The target's stream: pause state and what was learnt about the remote system."""
    stream, _ = SyncStream.objects.get_or_create(name=STREAMS[target])
    return stream


def delivery_pause(target: str, reason: str, seconds: float | None = None) -> datetime:
    """Stop sending to ``target`` for a while (an API limit); returns when it resumes."""
    until = timezone.now() + timedelta(seconds=limit_pause_seconds() if seconds is None
                                       else seconds)
    SyncStream.objects.filter(pk=delivery_stream(target).pk).update(
        paused_until=until, last_error=reason, status=SyncStream.Status.FAILING)
    log.warning("%s deliveries paused until %s: %s", target, until.isoformat(), reason)
    return until


def delivery_resume(target: str) -> None:
    """Clear a pause (the next batch probes the limit again)."""
    SyncStream.objects.filter(pk=delivery_stream(target).pk).update(
        paused_until=None, last_error="", status=SyncStream.Status.HEALTHY)


def delivery_paused_until(target: str, now: datetime | None = None) -> datetime | None:
    """When the target's pause ends, if it is paused now."""
    until = delivery_stream(target).paused_until
    return until if until and until > (now or timezone.now()) else None


def delivery_stream_state_save(target: str, state: dict) -> None:
    SyncStream.objects.filter(pk=delivery_stream(target).pk).update(state=state)


# --------------------------------------------------------------------------- clients

_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def delivery_client(connection: SalesforceConnection | MarketoConnection):
    """This process's client for a connection: one login and one token for many batches."""
    if isinstance(connection, SalesforceConnection):
        key = ("salesforce", connection.url, connection.client_id, connection.client_secret,
               connection.api_version)
    else:
        key = ("marketo", connection.base_url, connection.client_id, connection.client_secret)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            # Few retries inside the client: the outbox retries with backoff and the claim
            # must outlast a send.
            client = (salesforce_client_for(connection, timeout=30, max_attempts=3)
                      if key[0] == "salesforce"
                      else marketo_client_for(connection, timeout=30, max_attempts=3))
            if len(_clients) > 8:  # connections were edited many times: drop stale ones
                _clients.clear()
            _clients[key] = client
        return client


def delivery_clients_reset() -> None:
    """Forget cached clients (tests, or after a connection changed)."""
    with _clients_lock:
        _clients.clear()


# --------------------------------------------------------------------------- flushing


@dataclass
class FlushReport:
    target: str
    batches: int = 0
    counts: Counter = field(default_factory=Counter)
    paused_until: datetime | None = None

    def __str__(self) -> str:
        parts = [f"{self.counts[status]} {status}" for status in
                 (Status.DELIVERED, Status.PENDING, Status.FAILED, Status.SKIPPED)
                 if self.counts[status]]
        text = f"{self.target}: {', '.join(parts) or 'nothing due'}"
        if self.paused_until:
            text += f" (paused until {self.paused_until:%H:%M:%S})"
        return text


def _sender(target: str):
    if target == Target.SALESFORCE:
        from .salesforce_tasks import salesforce_deliveries_send
        return salesforce_deliveries_send
    from .marketo_activities import marketo_deliveries_send
    return marketo_deliveries_send


def deliveries_flush(target: str, *, max_batches: int | None = None,
                     full_batches_only: bool = False, until_empty: bool = False
                     ) -> FlushReport:
    """Send due deliveries of ``target`` batch by batch, until a batch is not full (or,
    ``until_empty``, until none is due) or the target pauses.

    Stopping after a partial batch lets what arrives meanwhile gather for the next flush
    (enqueued after commit with a short linger), so a trickle of calls is not sent a few at a
    time. While there is a backlog (a full batch was claimed) another flush is enqueued, so
    several workers send in parallel; that helper sends full batches only.
    """
    report = FlushReport(target)
    send = _sender(target)
    while max_batches is None or report.batches < max_batches:
        report.paused_until = delivery_paused_until(target)
        if report.paused_until:
            break
        batch = deliveries_claim(target, full_only=full_batches_only)
        if batch is None:
            if full_batches_only and Delivery.objects.filter(target=target).filter(
                    _due(timezone.now())).exists():
                # Less than a batch is left: an ordinary flush sends it after the linger.
                deliveries_flush_soon([target])
            break
        report.batches += 1
        if len(batch.deliveries) == BATCH_SIZES[target]:
            deliveries_flush_soon([target], full_batches_only=True)
        try:
            result = send(batch)
        except Exception as error:
            # A bug or an unexpected answer: retry with backoff (Diagnostics shows it once it
            # gives up), reconciling first whatever may already have been sent.
            log.exception("%s batch failed", target)
            code, message = type(error).__name__, str(error)
            result = SenderResult(outcomes={
                pk: (Outcome.unknown if pk in batch.sent else Outcome.retry)(code, message)
                for pk in batch.by_id})
        if result.pause_reason:
            report.paused_until = delivery_pause(target, result.pause_reason)
        report.counts.update(_record(batch, result))
        if result.pause_reason:
            break
        if len(batch.deliveries) < BATCH_SIZES[target] and not until_empty:
            break
    return report


def delivery_targets_due(now: datetime | None = None) -> list[str]:
    """Targets with a delivery due now and no pause in force (for beat's tick)."""
    now = now or timezone.now()
    return [target for target in Target.values
            if not delivery_paused_until(target, now)
            and Delivery.objects.filter(target=target).filter(_due(now)).exists()]


# --------------------------------------------------------------------------- retrying


def deliveries_retry(deliveries) -> int:
    """Put failed deliveries back in the queue now (an admin pressed Retry); returns how many.

    Their last error stays visible until the next attempt; ones that may have been applied
    keep ``outcome_unknown`` and are reconciled first.
    """
    failed = deliveries.filter(status=Status.FAILED)
    targets = set(failed.values_list("target", flat=True))
    if Target.MARKETO in targets:
        # A full instance may have been cleaned up: register the activity types again.
        delivery_stream_state_save(Target.MARKETO, {})
    count = failed.update(status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(),
                          claimed_until=None, claim_token="")
    if count:
        transaction.on_commit(lambda: deliveries_flush_soon(targets, countdown=0))
    return count
