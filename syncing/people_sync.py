"""The path of a Marketo lead into a Person: the initial sync and the incremental passes.

Initial sync: Marketo's Bulk Lead Extract over 31-day ``createdAt`` windows from the earliest
lead to the moment the run started, several jobs queued ahead while finished files stream in;
``leads.json`` by id ranges where bulk extract is not enabled. Every batch of people is committed
together with the run's resume state (window, export job, byte offset), so a killed worker or a
Marketo outage resumes at the last committed row — with the same export job while it is valid.

Incremental: lead changes and deleted leads from paging tokens stored on the ``people`` stream.
Tokens advance in the transaction that applies their changes: a crash re-reads, never skips.
Field changes to stored people are merged from the activities themselves; only new leads,
owner changes and leads the mirror does not hold are fetched whole, so most pages cost one call.
A reader thread fetches pages while the database writes; the pages it read meanwhile commit
together, with the cursor at the last of them.
The incremental cursor is set when the initial sync starts, and incremental passes wait while
an initial sync is unfinished, then replay everything since its start: a bulk file written
before a change can never overwrite that change.
"""

from __future__ import annotations

import csv
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from people.selectors import person_ids_stored
from people.services import (
    MARKETO_FIELDS,
    OWNER_MARKETO_FIELDS,
    SYNCED_MARKETO_FIELDS,
    ApplyResult,
    person_apply_changes,
    person_apply_leads,
    person_bulk_load_begin,
    person_bulk_load_end,
    person_remove_deleted,
    person_remove_unseen,
)

from .marketo import (
    CHANGE_DATA_VALUE,
    ActivityPage,
    MarketoClient,
    MarketoError,
    lead_change_values,
)
from .models import SyncRun, SyncStream
from .selectors import marketo_connection_get
from .services import marketo_client_for
from .transport import TransportError

log = logging.getLogger(__name__)

WATCHED_FIELDS = list(MARKETO_FIELDS.values())
_WATCHED = frozenset(WATCHED_FIELDS)
BULK_WINDOW = timedelta(days=31)
APPLY_BATCH = 5000
MAX_SKIPPED_EXAMPLES = 20
# Marketo queues at most 10 export jobs per instance; leave room for other integrations.
MAX_JOBS_AHEAD = 6
LEADS_PAGE = 300
# The leads.json fallback stops after this many empty id ranges past the highest id seen.
LEADS_EMPTY_RANGES_TO_STOP = 10
STREAM_LEASE = timedelta(minutes=10)
# Lead change pages read ahead of the database; those already read go in one transaction.
PAGES_AHEAD = 8
# From this many people's field changes in a batch, a second connection merges half of them.
MERGE_SPLIT_AT = 600
FALLBACK_EPOCH = datetime(2006, 1, 1, tzinfo=UTC)  # Marketo's founding: no lead is older
FAILED_JOB_STATES = {"Failed", "Cancelled"}
# Export status is polled from this interval, doubling up to MARKETO_BULK_POLL_MAX_SECONDS:
# small jobs are picked up at once, a long one costs only a handful of status calls.
FIRST_POLL_SECONDS = 0.25

ProgressCallback = Callable[[SyncRun], None]


class PeopleSyncError(Exception):
    """The sync could not run or finish; the message says why in one line."""


def marketo_client(**options) -> MarketoClient:
    """A client for the saved Marketo connection (``options``: see ``marketo_client_for``)."""
    connection = marketo_connection_get()
    if not connection.is_configured:
        raise PeopleSyncError("Marketo is not connected: fill in the Marketo card on Settings.")
    return marketo_client_for(connection, **options)


def people_stream() -> SyncStream:
    stream, _ = SyncStream.objects.get_or_create(name=SyncStream.Name.PEOPLE)
    return stream


def initial_run_unfinished() -> SyncRun | None:
    return (SyncRun.objects.filter(kind=SyncRun.Kind.INITIAL)
            .exclude(status=SyncRun.Status.SUCCEEDED).order_by("-id").first())


# --------------------------------------------------------------------------- initial sync


def initial_run_start(user=None) -> tuple[SyncRun, bool]:
    """The initial run to work on: the unfinished one (resumed, not restarted) or a new one.

    Returns ``(run, created)``.
    """
    with transaction.atomic():
        run = initial_run_unfinished()
        if run:
            return run, False
        return SyncRun.objects.create(kind=SyncRun.Kind.INITIAL, created_by=user), True


def people_initial_sync_start(user=None) -> SyncRun:
    """Start (or resume) the initial sync in a Celery worker; returns its run."""
    from .tasks import people_initial_sync_task

    with transaction.atomic():
        run, _ = initial_run_start(user)
        transaction.on_commit(lambda: people_initial_sync_task.delay(run.pk))
    return run


def _stale_heartbeat() -> timedelta:
    return timedelta(seconds=settings.SYNC_STALE_HEARTBEAT_SECONDS)


def _run_claim(run: SyncRun) -> bool:
    """Take the run for this process unless a live process is already on it (one UPDATE)."""
    now = timezone.now()
    claimed = (
        SyncRun.objects.filter(pk=run.pk)
        .exclude(status=SyncRun.Status.SUCCEEDED)
        .filter(~Q(status=SyncRun.Status.RUNNING) | Q(heartbeat_at__isnull=True)
                | Q(heartbeat_at__lt=now - _stale_heartbeat()))
        .update(status=SyncRun.Status.RUNNING, heartbeat_at=now, error="",
                started_at=Coalesce(F("started_at"), Value(now, output_field=DateTimeField())))
    )
    run.refresh_from_db()
    return bool(claimed)


class _InitialSync:
    """One process working on an initial run until it is done or something stops it."""

    def __init__(self, run: SyncRun, client: MarketoClient, on_progress: ProgressCallback | None,
                 poll_max_seconds: float):
        self.run = run
        self.client = client
        self.on_progress = on_progress or (lambda run: None)
        self.poll_max_seconds = poll_max_seconds
        self.calls_at_last_save = client.calls + client.token_calls

    # -- bookkeeping

    def save(self, *fields: str) -> None:
        """Persist the run's progress and resume state (inside the caller's transaction)."""
        calls_now = self.client.calls + self.client.token_calls
        self.run.api_calls += calls_now - self.calls_at_last_save
        self.calls_at_last_save = calls_now
        self.run.heartbeat_at = timezone.now()
        self.run.save(update_fields=["state", "heartbeat_at", "api_calls", *fields])

    def apply(self, leads: list[dict], state_change: Callable[[], None]) -> None:
        """Apply a batch of leads and move the resume state past them, in one transaction."""
        with transaction.atomic():
            _relax_commit_durability()
            result = person_apply_leads(leads, run_id=self.run.pk)
            _run_count(self.run, len(leads), result)
            state_change()
            self.save("leads_read", "people_written", "people_left", "records_skipped",
                      "skipped_examples", "windows_done")
        self.on_progress(self.run)

    # -- the run

    def execute(self) -> None:
        state = self.run.state
        if not state:
            self.plan()
        if self.run.state["method"] == SyncRun.Method.BULK:
            self.bulk()
        if self.run.state["method"] == SyncRun.Method.LEADS:
            self.leads()
        person_bulk_load_end(self.run.state.get("dropped_indexes", []))
        with transaction.atomic():
            self.run.people_removed = person_remove_unseen(self.run.pk, self.run.started_at)
            self.run.status = SyncRun.Status.SUCCEEDED
            self.run.finished_at = timezone.now()
            self.save("people_removed", "status", "finished_at")
            stream = people_stream()
            stream.last_success_at = self.run.finished_at
            stream.save(update_fields=["last_success_at"])
        self.on_progress(self.run)

    def plan(self) -> None:
        """First start: fix the incremental cursor at this moment, then lay out the windows."""
        started = self.run.started_at
        stream = people_stream()
        if not stream.cursor:
            token = self.client.paging_token(started)
            stream.cursor = {"lead_changes": token, "deleted_leads": token}
            stream.save(update_fields=["cursor"])
        windows = []
        start = self.earliest_created_at()
        while start <= started:
            # Marketo's createdAt bounds are inclusive and to the second: windows end one
            # second before the next begins, so no lead is read twice.
            end = min(start + BULK_WINDOW - timedelta(seconds=1), started)
            windows.append({"start": start.isoformat(), "end": end.isoformat(),
                            "export_id": None, "status": "pending", "rows": 0, "bytes": 0})
            start = end + timedelta(seconds=1)
        self.run.method = SyncRun.Method.BULK
        self.run.windows_total = len(windows)
        with transaction.atomic():
            # Dropping the indexes commits with the plan that remembers how to rebuild them.
            self.run.state = {"method": SyncRun.Method.BULK, "fields": SYNCED_MARKETO_FIELDS,
                              "windows": windows, "dropped_indexes": person_bulk_load_begin()}
            self.save("method", "windows_total")

    def earliest_created_at(self) -> datetime:
        """Lead ids grow with creation, so the lowest ids carry the earliest createdAt."""
        for first_id in range(1, 5 * LEADS_PAGE, LEADS_PAGE):
            leads = self.client.leads_by_filter("id", range(first_id, first_id + LEADS_PAGE),
                                                ["createdAt"])
            moments = [parse_datetime(lead["createdAt"]) for lead in leads
                       if lead.get("createdAt")]
            moments = [moment for moment in moments if moment]
            if moments:
                return min(moments).replace(microsecond=0)
        return FALLBACK_EPOCH

    # -- bulk extract

    def bulk(self) -> None:
        windows = self.run.state["windows"]
        poll_wait = FIRST_POLL_SECONDS
        # Job statuses from one listing call each poll; "Completed" is final, so a listing
        # often covers several downloads.
        known: dict[str, str] = {}
        while True:
            waiting = [w for w in windows if w["status"] == "enqueued"]
            pending = [w for w in windows if w["status"] == "pending"]
            if not waiting and not pending:
                return
            if pending and len(waiting) < MAX_JOBS_AHEAD:
                if not self.enqueue(pending[0]):
                    return  # switched to the leads.json fallback
                continue
            window = waiting[0]
            if known.get(window["export_id"]) != "Completed":
                known = {job["exportId"]: job["status"] for job in self.client.bulk_exports()}
            status = known.get(window["export_id"])
            if status == "Completed":
                self.download(window)
                poll_wait = FIRST_POLL_SECONDS
            elif status in FAILED_JOB_STATES or status is None:
                # Failed, cancelled, or gone (jobs are listed for 7 days): export it again.
                log.warning("export job %s is %s; recreating it", window["export_id"],
                            status or "gone")
                self.restart_window(window)
            else:
                with transaction.atomic():
                    self.save()  # heartbeat while Marketo works
                time.sleep(poll_wait)
                poll_wait = min(poll_wait * 2, self.poll_max_seconds)

    def enqueue(self, window: dict) -> bool:
        """Create and queue the window's export job; False when bulk extract is unavailable."""
        try:
            job = self.client.bulk_export_create(
                self.run.state["fields"], datetime.fromisoformat(window["start"]),
                datetime.fromisoformat(window["end"]))
        except MarketoError as error:
            if error.permanent and not any(w["export_id"] for w in self.run.state["windows"]):
                self.switch_to_leads(str(error))
                return False
            raise
        try:
            self.client.bulk_export_enqueue(job["exportId"])
        except MarketoError as error:
            if error.code != "1029":  # queue full: wait for our own jobs to drain
                raise
            with transaction.atomic():
                self.save()
            time.sleep(1)
            return True
        window.update(export_id=job["exportId"], status="enqueued", rows=0, bytes=0)
        with transaction.atomic():
            self.save()
        return True

    def restart_window(self, window: dict) -> None:
        window.update(export_id=None, status="pending", bytes=0)
        with transaction.atomic():
            self.save()

    def download(self, window: dict) -> None:
        """Stream the window's file from the last committed byte and apply it in batches.

        A reader thread downloads and parses the next batch while this thread writes the last
        one: the database works while Python parses.
        """
        batches = _prefetched(self.file_batches(window["export_id"], window["bytes"]))
        total_rows = window["rows"]
        for rows, consumed, last in batches:
            total_rows += len(rows)

            def change(consumed=consumed, total_rows=total_rows, last=last) -> None:
                window.update(bytes=consumed, rows=total_rows)
                if last:
                    window["status"] = "done"
                    self.run.windows_done = sum(1 for w in self.run.state["windows"]
                                                if w["status"] == "done")

            self.apply(rows, change)

    def file_batches(self, export_id: str, start_byte: int
                     ) -> Iterator[tuple[list[dict], int, bool]]:
        """``(leads, bytes consumed after them, is last)`` batches of an export file."""
        lines = _CountingLines(self.client.bulk_export_file(export_id, start_byte=start_byte),
                               start=start_byte)
        reader = csv.reader(lines)
        header = next(reader, None) if start_byte == 0 else self.run.state["fields"]
        batch: list[dict] = []
        for row in (reader if header else ()):
            batch.append(dict(zip(header, row, strict=False)))
            if len(batch) >= APPLY_BATCH:
                yield batch, lines.consumed, False
                batch = []
        yield batch, lines.consumed, True

    # -- leads.json fallback

    def switch_to_leads(self, reason: str) -> None:
        log.info("bulk extract unavailable (%s); using leads.json by id ranges", reason)
        self.run.state = {"method": SyncRun.Method.LEADS, "fields": SYNCED_MARKETO_FIELDS,
                          "next_id": 1, "highest_id": 0, "empty_ranges": 0,
                          "fallback_reason": reason,
                          "dropped_indexes": self.run.state.get("dropped_indexes", [])}
        self.run.method = SyncRun.Method.LEADS
        self.run.windows_total = 0
        with transaction.atomic():
            self.save("method", "windows_total")

    def leads(self) -> None:
        state = self.run.state
        while not (state["empty_ranges"] >= LEADS_EMPTY_RANGES_TO_STOP
                   and state["next_id"] > state["highest_id"]):
            first = state["next_id"]
            leads = self.client.leads_by_filter("id", range(first, first + LEADS_PAGE),
                                                state["fields"])

            def change(leads=leads, first=first) -> None:
                state["next_id"] = first + LEADS_PAGE
                state["empty_ranges"] = 0 if leads else state["empty_ranges"] + 1
                state["highest_id"] = max([state["highest_id"],
                                           *(int(lead["id"]) for lead in leads)])

            self.apply(leads, change)


def _run_count(run: SyncRun, read: int, result: ApplyResult) -> None:
    """Add an applied batch to the run's counters (not saved)."""
    run.leads_read += read
    run.people_written += result.written
    run.people_left += result.left
    run.records_skipped += len(result.skipped)
    room = MAX_SKIPPED_EXAMPLES - len(run.skipped_examples)
    run.skipped_examples += [{"marketo_id": str(marketo_id), "reason": reason}
                             for marketo_id, reason in result.skipped[:max(room, 0)]]


_DONE = object()


def _prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """Iterate ``items`` in a thread of its own, ``depth`` items ahead of the consumer."""
    for ready in _read_ahead(items, depth, most=1):
        yield from ready


def _read_ahead(items: Iterator, depth: int, most: int) -> Iterator[list]:
    """Iterate ``items`` in a thread of its own, up to ``depth`` items ahead of the consumer,
    handing over at each step the items read so far: at least one, at most ``most``.

    The producer's exceptions surface in the consumer, after the items read before them; a
    consumer that stops early (or fails) makes the producer stop at its next item.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def offer(entry: tuple) -> bool:
        while not stopped.is_set():
            try:
                handoff.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((_DONE, None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            offer((_DONE, error))

    producer = threading.Thread(target=produce, name="people-sync-reader", daemon=True)
    producer.start()
    try:
        while True:
            entries = [handoff.get()]
            while len(entries) < most and entries[-1][0] is not _DONE:
                try:
                    entries.append(handoff.get_nowait())
                except queue.Empty:
                    break
            ready = [item for item, _ in entries if item is not _DONE]
            if ready:
                yield ready
            last, error = entries[-1]
            if error is not None:
                raise error
            if last is _DONE:
                return
    finally:
        stopped.set()
        producer.join(timeout=5)


def _relax_commit_durability() -> None:
    """Don't wait for the WAL flush on each batch's commit (PostgreSQL only).

    Safe here: the people and the resume state commit together, so a database crash can only
    lose the last batches *and* their resume state — the sync then re-reads them.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


class _CountingLines:
    """Lines of a streamed UTF-8 file, counting the bytes handed out.

    ``csv.reader`` pulls exactly the lines of one record before yielding it, so after a row
    ``consumed`` is the byte offset just past that row: where a resumed download starts.
    """

    def __init__(self, chunks: Iterable[bytes], start: int = 0):
        self.chunks = iter(chunks)
        self.consumed = start

    def __iter__(self) -> Iterator[str]:
        pending = b""
        for chunk in self.chunks:
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                self.consumed += len(line) + 1
                yield line.decode("utf-8", errors="replace") + "\n"
        if pending:
            self.consumed += len(pending)
            yield pending.decode("utf-8", errors="replace")


def initial_run_execute(run: SyncRun, client: MarketoClient | None = None, *,
                        on_progress: ProgressCallback | None = None) -> SyncRun:
    """Work on an initial run until it succeeds; a failure leaves it resumable and re-raises.

    Returns the run unchanged if another live process holds it.
    """
    if not _run_claim(run):
        return run
    client = client or marketo_client()
    try:
        _InitialSync(run, client, on_progress,
                     poll_max_seconds=settings.MARKETO_BULK_POLL_MAX_SECONDS).execute()
    except (TransportError, PeopleSyncError) as error:
        _run_fail(run, str(error))
        raise
    except BaseException as error:  # killed or crashed: leave it resumable, say why
        _run_fail(run, f"interrupted: {error.__class__.__name__}: {error}")
        raise
    return run


def _run_fail(run: SyncRun, message: str) -> None:
    # Only these fields: the in-memory resume state may hold a batch that was rolled back.
    run.status = SyncRun.Status.FAILED
    run.error = message[:2000]
    run.finished_at = timezone.now()
    run.failures += 1
    run.save(update_fields=["status", "error", "finished_at", "failures"])
    stream = people_stream()
    stream.last_error = run.error
    stream.status = SyncStream.Status.FAILING
    stream.save(update_fields=["last_error", "status"])


def initial_runs_to_resume(now: datetime | None = None) -> list[SyncRun]:
    """Unfinished initial runs nobody is working on: a lost worker, or a failure whose backoff
    has passed (1, 2, 4 ... up to 60 minutes, so a daily quota is retried until it resets)."""
    now = now or timezone.now()
    due = []
    run = initial_run_unfinished()
    if run is None:
        return due
    stale = now - _stale_heartbeat()
    if run.status == SyncRun.Status.QUEUED and run.created_at < stale:
        due.append(run)
    elif run.status == SyncRun.Status.RUNNING and (
            run.heartbeat_at is None or run.heartbeat_at < stale):
        due.append(run)
    elif run.status == SyncRun.Status.FAILED:
        backoff = timedelta(minutes=min(2 ** max(run.failures - 1, 0), 60))
        if run.finished_at and run.finished_at + backoff <= now:
            due.append(run)
    return due


# --------------------------------------------------------------------------- incremental


def _stream_claim(stream: SyncStream) -> bool:
    now = timezone.now()
    claimed = (SyncStream.objects.filter(pk=stream.pk)
               .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
               .update(lease_until=now + STREAM_LEASE, status=SyncStream.Status.RUNNING,
                       last_attempt_at=now))
    stream.refresh_from_db()
    return bool(claimed)


def people_incremental_pass(client: MarketoClient | None = None) -> SyncRun | None:
    """Apply every lead change and deletion since the stored cursor; one pass at a time.

    Returns the pass's run, or None when there is nothing it may do yet (another pass holds
    the stream, or the initial sync has not finished). A Marketo failure is recorded on the
    stream and the run, and re-raised.
    """
    if initial_run_unfinished() or not people_stream().cursor:
        return None
    stream = people_stream()
    if not _stream_claim(stream):
        return None
    client = client or marketo_client()
    run = SyncRun.objects.create(kind=SyncRun.Kind.INCREMENTAL, status=SyncRun.Status.RUNNING,
                                 started_at=timezone.now())
    calls_before = client.calls + client.token_calls
    try:
        _apply_lead_changes(stream, run, client)
        _apply_deleted_leads(stream, run, client)
    except TransportError as error:
        _pass_finish(stream, run, client, calls_before, error=str(error))
        raise
    except BaseException as error:
        _pass_finish(stream, run, client, calls_before,
                     error=f"interrupted: {error.__class__.__name__}: {error}")
        raise
    _pass_finish(stream, run, client, calls_before)
    return run


def _apply_lead_changes(stream: SyncStream, run: SyncRun, client: MarketoClient) -> None:
    """Apply the lead changes with the cursor moving in the transaction that commits them.

    A reader thread fetches pages (and the leads they need whole) while this thread writes;
    the pages it has read meanwhile are written together. Which people the mirror holds is
    read here, once the pages before have committed.
    """
    pages = _read_ahead(_lead_change_pages(client, stream.cursor["lead_changes"]),
                        depth=PAGES_AHEAD, most=PAGES_AHEAD)
    helper = _MergeHelper() if _MergeHelper.usable() else None
    try:
        for ready in pages:
            changes = ready[0]
            for later in ready[1:]:
                changes.absorb(later)
            # Not in the mirror (e.g. gaining an owner): its stored values are no base to merge.
            changes.fetch(client, changes.values.keys() - person_ids_stored(changes.values))
            with transaction.atomic():
                _relax_commit_durability()
                _lead_changes_apply(run, changes, helper)
                _cursor_advance(stream, "lead_changes", changes.page.next_page_token)
    finally:
        if helper:
            helper.close()


def _lead_changes_apply(run: SyncRun, changes: _LeadChanges,
                        helper: _MergeHelper | None) -> None:
    """Leads fetched whole first, field changes on top (they are the newer), deletions last.

    With a helper, it merges half of a large batch's field changes at the same time: half of
    those to people not fetched whole in this batch. The changes to a lead fetched whole must
    land after it, in this transaction: on the helper's connection they would race the whole
    lead, or wait for this transaction's row lock while it waits for the helper."""
    values, other_half = changes.values, {}
    if helper and len(values) >= MERGE_SPLIT_AT:
        movable = [lead_id for lead_id in values if lead_id not in changes.fetch_ids]
        moved = movable[len(movable) // 2:]
        other_half = {lead_id: values[lead_id] for lead_id in moved}
        values = {lead_id: change for lead_id, change in values.items()
                  if lead_id not in other_half}
    merged_elsewhere = helper.merge(other_half) if other_half else None
    result = person_apply_leads(changes.fetched)
    result.written += person_apply_changes(values).written
    if merged_elsewhere:
        # Committed (or failed, failing this batch) before this batch's cursor moves.
        result.written += merged_elsewhere.result().written
    result.skipped[:0] = changes.skipped
    _run_count(run, len(changes.fetched) + len(changes.values), result)
    run.people_removed += person_remove_deleted(changes.gone)
    run.save(update_fields=["leads_read", "people_written", "people_left", "records_skipped",
                            "skipped_examples", "people_removed"])


class _MergeHelper:
    """A second database connection that merges half of each large batch of field changes.

    Merging is mostly PostgreSQL's index maintenance (a dozen list indexes per changed row),
    which one backend does on one core; two backends use both. Its half commits before the
    batch's cursor moves in the main transaction. A crash in between leaves changes applied
    whose pages will be read again: applying a field change twice gives the same row.
    """

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="people-merge")

    @staticmethod
    def usable() -> bool:
        # A second connection cannot see uncommitted rows: only split when nothing is pending
        # (not inside a caller's transaction, such as a test's).
        return connection.vendor == "postgresql" and not connection.in_atomic_block

    def merge(self, values: dict[int, dict]) -> Future:
        return self.pool.submit(self._merge, values)

    @staticmethod
    def _merge(values: dict[int, dict]) -> ApplyResult:
        with transaction.atomic():
            _relax_commit_durability()
            return person_apply_changes(values)

    def close(self) -> None:
        # Looked up in the helper's thread: each thread has a connection of its own.
        self.pool.submit(lambda: connection.close()).result()
        self.pool.shutdown()


@dataclass
class _LeadChanges:
    """Pages of lead changes sorted out: field values to merge into stored people, and leads
    fetched whole (with those found no more: deleted meanwhile)."""

    page: ActivityPage  # the last page: its token is where the cursor moves
    values: dict[int, dict]  # lead id -> {Marketo field: new value}, the last change winning
    skipped: list[tuple[object, str]]
    fetch_ids: set[int] = field(default_factory=set)
    fetched: list[dict] = field(default_factory=list)
    gone: set[int] = field(default_factory=set)

    def fetch(self, client: MarketoClient, lead_ids: Iterable[int]) -> None:
        """Fetch leads whole. Fetched after the page was read, a lead is newer than every
        change the page holds for it, so those changes are dropped."""
        lead_ids = sorted(set(lead_ids) - self.fetch_ids)
        if not lead_ids:
            return
        fetched = client.leads_by_filter("id", lead_ids, SYNCED_MARKETO_FIELDS)
        self.fetched += fetched
        self.fetch_ids.update(lead_ids)
        self.gone.update(set(lead_ids) - {int(lead["id"]) for lead in fetched})
        for lead_id in lead_ids:
            self.values.pop(lead_id, None)

    def absorb(self, later: _LeadChanges) -> None:
        """Take in the next page. Its changes go on top of this one's and of the leads
        fetched for it; a lead it fetched whole replaces all that came before."""
        for lead_id in later.fetch_ids:
            self.values.pop(lead_id, None)
        for lead_id, values in later.values.items():
            self.values.setdefault(lead_id, {}).update(values)
        self.fetched += later.fetched  # the last version of a lead in a batch wins
        self.fetch_ids |= later.fetch_ids
        self.gone = (self.gone - later.fetch_ids) | later.gone
        self.skipped += later.skipped
        self.page = later.page


def _lead_change_pages(client: MarketoClient, token: str) -> Iterator[_LeadChanges]:
    """Pages of lead changes from ``token`` on, each with the leads it names fetched whole
    where its activities alone cannot be applied (new leads, owner changes)."""
    while True:
        page = client.lead_changes(token, WATCHED_FIELDS)
        changes = _lead_changes_sort(page)
        changes.fetch(client, _leads_to_fetch(page.results))
        yield changes
        if not page.more_result or page.next_page_token == token:
            return
        token = page.next_page_token


def _leads_to_fetch(activities: list[dict]) -> set[int]:
    """Leads whose activities cannot be applied as they are: New Lead (nothing to apply),
    an activity type this sync does not know, or an owner change (the owner id alone carries
    no owner name or email)."""
    return {lead_id for activity in activities
            if (lead_id := _lead_id(activity))
            and (activity.get("activityTypeId") != CHANGE_DATA_VALUE
                 or OWNER_MARKETO_FIELDS & lead_change_values(activity).keys())}


def _lead_changes_sort(page: ActivityPage) -> _LeadChanges:
    """Fold the page's field changes per lead in activity order (the last change wins)."""
    values: dict[int, dict] = {}
    skipped: list[tuple[object, str]] = []
    for activity in page.results:
        lead_id = _lead_id(activity)
        if lead_id is None:
            skipped.append((activity.get("leadId"), "lead change without a usable leadId"))
            continue
        changed = {name: value for name, value in lead_change_values(activity).items()
                   if name in _WATCHED}
        if changed:
            # The change is as recent as the lead's updatedAt at that moment.
            values.setdefault(lead_id, {}).update(changed,
                                                  updatedAt=activity.get("activityDate"))
    return _LeadChanges(page, values, skipped)


def _lead_id(activity: dict) -> int | None:
    try:
        lead_id = int(activity.get("leadId"))
    except (TypeError, ValueError):
        return None
    return lead_id if lead_id > 0 else None


def _apply_deleted_leads(stream: SyncStream, run: SyncRun, client: MarketoClient) -> None:
    token = stream.cursor["deleted_leads"]
    while True:
        page = client.deleted_leads(token)
        with transaction.atomic():
            run.people_removed += person_remove_deleted(
                {activity["leadId"] for activity in page.results})
            _cursor_advance(stream, "deleted_leads", page.next_page_token)
            run.save(update_fields=["people_removed"])
        if not page.more_result or page.next_page_token == token:
            return
        token = page.next_page_token


def _cursor_advance(stream: SyncStream, key: str, token: str) -> None:
    stream.cursor[key] = token
    stream.lease_until = timezone.now() + STREAM_LEASE
    stream.save(update_fields=["cursor", "lease_until"])


def _pass_finish(stream: SyncStream, run: SyncRun, client: MarketoClient, calls_before: int,
                 error: str = "") -> None:
    now = timezone.now()
    run.api_calls = client.calls + client.token_calls - calls_before
    run.finished_at = now
    run.status = SyncRun.Status.FAILED if error else SyncRun.Status.SUCCEEDED
    run.error = error[:2000]
    run.save()
    stream.lease_until = None
    if error:
        stream.status = SyncStream.Status.FAILING
        stream.last_error = run.error
        stream.consecutive_failures += 1
    else:
        stream.status = SyncStream.Status.HEALTHY
        stream.last_error = ""
        stream.consecutive_failures = 0
        stream.last_success_at = now
        stream.caught_up_to = run.started_at
    stream.save()
