"""The outbox core: records on their way to Salesforce and Marketo.

A record and its ``Delivery`` rows are saved in one transaction (``deliveries_save``); a flush
is then enqueued after commit, and beat's ``sync_tick`` enqueues one for any due delivery the
enqueue missed (broker down, worker killed), so nothing is lost.

A flush (``flush.py``) claims a batch of due deliveries of one target and hands each kind's
part to the sender registered for it (``registry.py``), which returns an ``Outcome`` per
delivery; the outcomes are recorded here with an attempt row each. Claiming takes rows with
``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite runs one writer at a time), and a
claim expires, so any number of workers share the work and a killed worker's batch is taken
over. Before a batch is sent, ``outcome_unknown`` is committed; a batch found with it set is
reconciled against the remote system before it is sent again (no duplicates).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from salesactions.bulk_insert import bulk_insert
from syncing.models import Delivery, DeliveryAttempt
from syncing.queueing import task_named

from .batch import Batch, Outcome, SenderResult
from .registry import retry_hooks
from .streams import delivery_stream_attempted

log = logging.getLogger(__name__)

Target = Delivery.Target
Status = Delivery.Status
#: The delivery's generic relation to its record (``Delivery.record``).
_RECORD = Delivery._meta.get_field("record")

#: The Celery task that flushes a target (``syncing/tasks.py``), enqueued by name.
FLUSH_TASK = "syncing.tasks.deliveries_flush_task"
#: Records per remote request: sObject Collections take 200, Add Custom Activities 300.
BATCH_SIZES = {Target.SALESFORCE: 200, Target.MARKETO: 300}


def claim_seconds() -> float:
    """How long a claim holds; longer than the slowest send (timeouts and retries included)."""
    return settings.OUTBOX_CLAIM_SECONDS


def retry_base_seconds() -> float:
    return settings.OUTBOX_RETRY_BASE_SECONDS


def max_attempts() -> int:
    """Sends before a delivery is failed for an admin to retry (backoff reaches hours)."""
    return settings.OUTBOX_MAX_ATTEMPTS


def linger_seconds() -> float:
    """A flush enqueued at log time waits this long, so a burst goes out in full batches."""
    return settings.OUTBOX_LINGER_SECONDS


# --------------------------------------------------------------------------- creating


def deliveries_build(*, kind: str, record, skipped: dict[str, str],
                     targets: list[str] | None = None) -> list[Delivery]:
    """One unsaved delivery of ``record`` (a saved model instance) per target (all, or
    ``targets``); ``skipped`` maps a target to the reason it is not sent, the others start
    pending. ``kind`` must have a sender registered for each pending target."""
    now = timezone.now()
    # What ``record=record`` does (type, id, the record cached on the delivery), with the
    # type read once from ContentType's cache: the generic relation's own setter looks it up
    # through a copy of the manager for each delivery, a third of building one.
    record_type = ContentType.objects.get_for_model(record)
    deliveries = [Delivery(target=target, kind=kind, record_type=record_type,
                           record_id=record.pk,
                           status=Status.SKIPPED if target in skipped else Status.PENDING,
                           skip_reason=skipped.get(target, ""), next_attempt_at=now)
                  for target in (targets or Target.values)]
    for delivery in deliveries:
        _RECORD.set_cached_value(delivery, record)
    return deliveries


def deliveries_save(deliveries: list[Delivery], *, gather: bool = False) -> list[Delivery]:
    """Save deliveries inside the caller's transaction (the one saving their activities) and
    enqueue a flush of their targets once it commits: after the linger, which lets a trickle
    gather into a batch, or at once for a target given a full batch or more here (a bulk
    action: there is nothing left to gather).

    ``gather``: always the linger. For the log of a bulk action whose own work comes next (a
    campaign's adds, ahead of its steps): flushed at once, those logs took two of four workers
    just as the campaign's first emails were due (``bench/workers.py``, campaign steps 2.7x ->
    1.7x at four workers), and a seller waits for the emails, not for Marketo's log."""
    saved = list(deliveries)
    with transaction.atomic(savepoint=False):
        for start in range(0, len(saved), 1000):
            bulk_insert(saved[start:start + 1000])
    pending = Counter(d.target for d in saved if d.status == Status.PENDING)
    full = [] if gather else sorted(
        target for target, count in pending.items() if count >= BATCH_SIZES[target])
    trickle = sorted(target for target in pending if target not in full)
    if full:
        transaction.on_commit(lambda: deliveries_flush_soon(full, countdown=0))
    if trickle:
        transaction.on_commit(lambda: deliveries_flush_soon(trickle))
    return saved


def _flush_key(target: str) -> str:
    # Per database: test runs and benchmarks on one machine share the file cache.
    return f"outbox-flush:{connection.settings_dict['NAME']}:{target}"


def deliveries_flush_soon(targets, *, countdown: float | None = None,
                          full_batches_only: bool = False) -> None:
    """Enqueue a flush of each target unless one is already waiting to start.

    ``full_batches_only``: a helper for a backlog, which stops rather than send a partial
    batch, enqueued without the linger; one is enqueued per full batch claimed, not
    deduplicated (on Redis the message can
    land on the busy worker that enqueued it, whose fetch was already waiting: a deduplicated
    one would keep the idle workers out until its key expired). Never raises: if the broker
    (or the cache) is down the deliveries stay pending and beat's tick enqueues their flush
    once it is back.
    """
    deliveries_flush_task = task_named(FLUSH_TASK)
    if countdown is None:
        # A helper starts at once: a full batch was just claimed, so there is nothing to
        # gather (with the linger, the idle workers joined a backlog half a second late:
        # 0.57 s into a 4.4 s run of bench/workers.py with 4 workers).
        countdown = 0 if full_batches_only else linger_seconds()
    for target in targets:
        key = _flush_key(target)
        try:
            if not full_batches_only and not cache.add(key, 1, timeout=60):
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


def deliveries_due(target: str, now: datetime | None = None):
    """Deliveries of ``target`` due now: pending ones whose time came, and expired claims."""
    return Delivery.objects.filter(target=target).filter(_due(now or timezone.now()))


def deliveries_claim(target: str, limit: int | None = None, *,
                     full_only: bool = False) -> Batch | None:
    """Claim up to ``limit`` due deliveries of ``target`` for this worker (None if none, or
    with ``full_only`` if fewer than ``limit`` are due)."""
    now = timezone.now()
    limit = limit or BATCH_SIZES[target]
    token = uuid.uuid4().hex
    claimed_until = now + timedelta(seconds=claim_seconds())
    if connection.vendor == "postgresql":
        deliveries = _claim_returning(target, limit, full_only, now, claimed_until, token)
    else:
        deliveries = _claim_select_then_update(target, limit, full_only, now, claimed_until,
                                               token)
    if not deliveries:
        return None
    # The claim leaves ``outcome_unknown`` as it was: set, an earlier attempt may have applied.
    return Batch(target, token, deliveries, {d.pk for d in deliveries if d.outcome_unknown})


_CLAIM_SQL = """
WITH picked AS (
    SELECT id FROM {table}
    WHERE target = %(target)s AND (
        (status = %(pending)s AND next_attempt_at <= %(now)s)
        OR (status = %(in_progress)s AND claimed_until < %(now)s))
    ORDER BY next_attempt_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {table} AS claimed
SET status = %(in_progress)s, claimed_until = %(claimed_until)s, claim_token = %(token)s
FROM picked
WHERE claimed.id = picked.id AND (SELECT count(*) FROM picked) >= %(at_least)s
RETURNING {columns}
"""


def _claim_returning(target: str, limit: int, full_only: bool, now: datetime,
                     claimed_until: datetime, token: str) -> list[Delivery]:
    """PostgreSQL: pick, lock and claim in one statement, the claimed rows coming back from
    ``RETURNING`` (three statements and a transaction before: a select, the update, and a
    read of every claimed row again).

    The rows are locked by the select (``SKIP LOCKED``: another worker's claim is passed
    over), so the update changes exactly what was picked. With ``full_only`` and fewer than
    ``limit`` due, nothing is updated."""
    fields = Delivery._meta.concrete_fields
    table = connection.ops.quote_name(Delivery._meta.db_table)
    columns = ", ".join(f"claimed.{connection.ops.quote_name(f.column)}" for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL.format(table=table, columns=columns), {
            "target": target, "pending": Status.PENDING, "in_progress": Status.IN_PROGRESS,
            "now": now, "limit": limit, "claimed_until": claimed_until, "token": token,
            "at_least": limit if full_only else 1})
        rows = cursor.fetchall()
    names = [f.attname for f in fields]
    db = connection.alias
    return sorted((Delivery.from_db(db, names, row) for row in rows), key=lambda d: d.pk)


def _claim_select_then_update(target: str, limit: int, full_only: bool, now: datetime,
                              claimed_until: datetime, token: str) -> list[Delivery]:
    """Other databases (SQLite: one writer at a time, no ``SKIP LOCKED``): select the due
    rows, claim them, read them back."""
    with transaction.atomic():
        candidates = (Delivery.objects.filter(target=target).filter(_due(now))
                      .order_by("next_attempt_at", "id"))
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids or (full_only and len(ids) < limit):
            return []
        Delivery.objects.filter(pk__in=ids).filter(_due(now)).update(
            status=Status.IN_PROGRESS, claimed_until=claimed_until, claim_token=token)
    return list(Delivery.objects.filter(claim_token=token).order_by("id"))


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


def _update_returns_rows() -> bool:
    """``UPDATE … RETURNING``: PostgreSQL, and SQLite from 3.35 (the version from which Django
    returns columns from inserts too)."""
    return connection.features.can_return_columns_from_insert


def _deliveries_settle(ids: list[int], changes: dict, unmarked: bool, now: datetime,
                       remote_ids: dict[int, str], token: str) -> set[int]:
    """Write one group's outcome (rows that end alike) with their remote ids, releasing the
    claim; returns the ids this claim still held (the only ones written).

    One ``UPDATE … RETURNING id`` per 500 rows, each row's remote id from a ``CASE``
    (``bulk_update``'s per-row ``CASE`` expressions cost more CPU than the remote call). It
    replaced a locking read of the batch (a row lock written on each), the update, and a
    second update for the remote ids (a second row version per delivery).
    """
    ops = connection.ops
    table = ops.quote_name(Delivery._meta.db_table)

    def column(name: str) -> str:
        return ops.quote_name(Delivery._meta.get_field(name).column)

    def prepared(name: str, value):
        return Delivery._meta.get_field(name).get_db_prep_save(value, connection)

    sets = [f"{column(name)} = %s" for name in changes]
    params = [prepared(name, value) for name, value in changes.items()]
    sets += [f"{column('claimed_until')} = NULL", f"{column('claim_token')} = ''"]
    if unmarked:  # failed before anything left (not connected, ...): still an attempt
        sets += [f"{column('attempts')} = {column('attempts')} + 1",
                 f"{column('last_attempt_at')} = %s",
                 f"{column('first_attempt_at')} = COALESCE({column('first_attempt_at')}, %s)"]
        params += [prepared("last_attempt_at", now)] * 2
    returning = _update_returns_rows()
    owned: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            chunk_sets, chunk_params = list(sets), list(params)
            with_remote = [pk for pk in chunk if pk in remote_ids]
            if with_remote:
                cases = " ".join(["WHEN %s THEN %s"] * len(with_remote))
                chunk_sets.append(f"{column('remote_id')} = CASE {column('id')} {cases} "
                                  f"ELSE {column('remote_id')} END")
                chunk_params += [value for pk in with_remote for value in (pk, remote_ids[pk])]
            marks = ", ".join(["%s"] * len(chunk))
            update = (f"UPDATE {table} SET {', '.join(chunk_sets)} WHERE {column('id')} IN "
                      f"({marks}) AND {column('claim_token')} = %s")
            if returning:
                cursor.execute(f"{update} RETURNING {column('id')}",
                               [*chunk_params, *chunk, token])
                owned.update(pk for pk, in cursor.fetchall())
            else:  # SQLite before 3.35: read what the claim holds (locked), then write it
                held = list(Delivery.objects.select_for_update().filter(
                    pk__in=chunk, claim_token=token).values_list("pk", flat=True))
                cursor.execute(update, [*chunk_params, *chunk, token])
                owned.update(held)
    return owned


def _attempt_fields(outcome: Outcome, now: datetime, *, late: bool = False) -> tuple:
    """An attempt row's fields but its delivery: ``(started_at, duration_ms, outcome,
    error_code, error_message)``. The deliveries of one request share them."""
    message = outcome.message
    if late:
        message = f"(recorded after the claim expired) {message}".strip()
    return (now - timedelta(milliseconds=outcome.duration_ms), outcome.duration_ms,
            outcome.kind, outcome.code[:100], message)


def _attempts_insert(attempts: dict[tuple, list[int]]) -> None:
    """Log attempts, ``{attempt fields: delivery ids}``: one ``INSERT … SELECT`` per distinct
    attempt (a batch sent in one request has one or a few), where a model instance and a
    prepared row per delivery cost a worker more than the insert itself."""
    ops = connection.ops
    table = ops.quote_name(DeliveryAttempt._meta.db_table)
    names = ("delivery", "started_at", "duration_ms", "outcome", "error_code", "error_message")
    fields = [DeliveryAttempt._meta.get_field(name) for name in names]
    columns = ", ".join(ops.quote_name(field.column) for field in fields)
    deliveries = ops.quote_name(Delivery._meta.db_table)
    delivery_id = ops.quote_name(Delivery._meta.pk.column)
    with connection.cursor() as cursor:
        for values, ids in attempts.items():
            params = [field.get_db_prep_save(value, connection)
                      for field, value in zip(fields[1:], values, strict=True)]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {delivery_id}, %s, %s, %s, %s, %s "
                    f"FROM {deliveries} WHERE {delivery_id} IN ({', '.join(['%s'] * len(chunk))})"
                    f" ORDER BY {delivery_id}", [*params, *chunk])


def batch_record(batch: Batch, result: SenderResult) -> Counter:
    """Write a batch's outcomes and attempt rows, for the deliveries this claim still holds.

    Rows that end alike are written with one UPDATE, so a batch costs a handful of queries.
    """
    now = timezone.now()
    counts: Counter = Counter()
    retry_times: dict[int, datetime] = {}

    def retry_at(attempts: int) -> datetime:
        return retry_times.setdefault(attempts, now + _backoff(attempts))

    outcomes: dict[int, tuple[Outcome, str]] = {}
    groups: dict[tuple, list[int]] = defaultdict(list)
    remote_ids: dict[int, str] = {}
    for delivery in batch.deliveries:
        outcome = result.outcomes.get(delivery.pk, Outcome.released())
        # Failed before anything left (not connected, ...): still an attempt.
        unmarked = outcome.sent and delivery.pk not in batch.sent
        if unmarked:
            delivery.attempts += 1
        changes = _changes(delivery, outcome, now, retry_at)
        groups[(tuple(sorted(changes.items())), unmarked)].append(delivery.pk)
        if outcome.remote_id:
            remote_ids[delivery.pk] = outcome.remote_id
        outcomes[delivery.pk] = outcome, changes["status"]

    with transaction.atomic():
        owned: set[int] = set()
        for (items, unmarked), ids in groups.items():
            owned |= _deliveries_settle(ids, dict(items), unmarked, now, remote_ids,
                                        batch.token)
        attempts: dict[tuple, list[int]] = defaultdict(list)
        for delivery in batch.deliveries:
            outcome, status = outcomes[delivery.pk]
            late = delivery.pk not in owned
            if late:
                # Our claim expired and another worker took the delivery over: its state is
                # that worker's to write, but this attempt still happened.
                log.warning("delivery %s was taken over before its outcome was recorded",
                            delivery.pk)
            else:
                counts[status] += 1
            if outcome.sent:
                attempts[_attempt_fields(outcome, now, late=late)].append(delivery.pk)
        _attempts_insert(attempts)
        delivery_stream_attempted(batch.target, now, delivered=bool(counts[Status.DELIVERED]))
    return counts


# --------------------------------------------------------------------------- retrying


def deliveries_retry(deliveries) -> int:
    """Put failed deliveries back in the queue now (an admin pressed Retry); returns how many.

    Their last error stays visible until the next attempt; ones that may have been applied
    keep ``outcome_unknown`` and are reconciled first.
    """
    failed = deliveries.filter(status=Status.FAILED)
    targets = set(failed.values_list("target", flat=True))
    for target in targets:
        for hook in retry_hooks(target):
            hook()
    count = failed.update(status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(),
                          claimed_until=None, claim_token="")
    if count:
        transaction.on_commit(lambda: deliveries_flush_soon(targets, countdown=0))
    return count
