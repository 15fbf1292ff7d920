"""The initial people sync: every Marketo lead with a sales owner into a Person, resumably.

Marketo's Bulk Lead Extract over 31-day ``createdAt`` windows from the earliest lead to the
moment the run started, several jobs queued ahead while finished files stream in;
``leads.json`` by id ranges where bulk extract is not enabled. Every batch of people is committed
together with the run's resume state (window, export job, byte offset), so a killed worker or a
Marketo outage resumes at the last committed row — with the same export job while it is valid.
The incremental cursor is fixed when the initial sync starts (``plan``), and incremental passes
wait until it has finished, then replay everything since its start: a bulk file written before
a change can never overwrite that change.
"""

from __future__ import annotations

import csv
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from people.models import Person
from people.services import (
    SYNCED_MARKETO_FIELDS,
    ApplyResult,
    LeadRows,
    lead_rows,
    person_apply_csv,
    person_apply_rows,
    person_bulk_load_begin,
    person_bulk_load_end,
    person_index_is_costly,
    person_indexes_build,
    person_remove_unseen,
    person_statistics_refresh,
)
from syncing.clients.marketo import MarketoClient, MarketoError
from syncing.clients.transport import TransportError
from syncing.models import SyncRun, SyncStream
from syncing.queueing import task_named

from .readahead import prefetched
from .state import (
    PeopleSyncError,
    commit_durability_relax,
    initial_run_unfinished,
    marketo_client,
    people_stream,
    run_count,
)

log = logging.getLogger(__name__)

#: The Celery task that runs an initial sync (``syncing/tasks.py``), enqueued by name.
INITIAL_SYNC_TASK = "syncing.tasks.people_initial_sync_task"
BULK_WINDOW = timedelta(days=31)
APPLY_BATCH = 5000
# On PostgreSQL a file's records go to COPY this many bytes at a time (~7,000 leads), each
# piece committed with the byte offset after it; small, so the sync's memory stays flat.
COPY_PIECE_BYTES = 2 << 20
# Marketo queues at most 10 export jobs per instance (the two processing included): keep the
# queue full, so Marketo never waits for us. Another integration's jobs make it answer 1029
# "Too many jobs in queue"; the window's job then waits, created, for a free place.
MAX_JOBS_AHEAD = 10
LEADS_PAGE = 300
# The leads.json fallback stops after this many empty id ranges past the highest id seen.
LEADS_EMPTY_RANGES_TO_STOP = 10
FALLBACK_EPOCH = datetime(2006, 1, 1, tzinfo=UTC)  # Marketo's founding: no lead is older
FAILED_JOB_STATES = {"Failed", "Cancelled"}
# Export status is polled from this interval, doubling up to MARKETO_BULK_POLL_MAX_SECONDS:
# small jobs are picked up at once, a long one costs only a handful of status calls.
FIRST_POLL_SECONDS = 0.25
# While no file is ready the ingesting thread wakes this often to save the export jobs' ids
# and its heartbeat.
IDLE_SAVE_SECONDS = 1.0
# Job states the export thread waits on; "completed" windows are the ingesting thread's.
_IN_MARKETO = ("created", "enqueued")
# The ingest counts as waiting for Marketo (so the dropped indexes are built during the load,
# in time it would spend idle) once it has idled at least this share of the time since its
# first file began, over at least this many seconds.
MARKETO_BOUND_IDLE_SHARE = 0.5
MARKETO_BOUND_EVIDENCE_SECONDS = 2.0
# ANALYZE runs during the load once this share of the windows is written; its statistics stand
# for the whole table if at least STATISTICS_MIN_SHARE of its people were in by then (windows
# need not hold as many leads each), otherwise ANALYZE runs again at the end.
STATISTICS_AT_WINDOWS_SHARE = 0.6
STATISTICS_MIN_SHARE = 0.5

ProgressCallback = Callable[[SyncRun], None]


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
    with transaction.atomic():
        run, _ = initial_run_start(user)
        transaction.on_commit(lambda: task_named(INITIAL_SYNC_TASK).delay(run.pk))
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
        # The export thread changes the windows of the resume state while this one saves it.
        self.state_lock = threading.RLock()
        # ANALYZE run during the load, in a thread of its own; once it has succeeded, the
        # people in the table when it began.
        self.statistics: threading.Thread | None = None
        self.statistics_people: int | None = None

    # -- bookkeeping

    def save(self, *fields: str) -> None:
        """Persist the run's progress and resume state (inside the caller's transaction)."""
        calls_now = self.client.calls + self.client.token_calls
        self.run.api_calls += calls_now - self.calls_at_last_save
        self.calls_at_last_save = calls_now
        self.run.heartbeat_at = timezone.now()
        with self.state_lock:
            self.run.save(update_fields=["state", "heartbeat_at", "api_calls", *fields])

    def apply(self, batch: LeadRows, state_change: Callable[[int], None]) -> None:
        """Apply a batch of leads and move the resume state past them, in one transaction."""
        self.apply_with(lambda none_stored: (
            person_apply_rows(batch, with_run=True, none_stored=none_stored), batch.read),
            state_change)

    def apply_with(self, write: Callable[[bool], tuple[ApplyResult, int]],
                   state_change: Callable[[int], None]) -> None:
        """Run ``write`` (given whether no lead can be stored yet; it returns what it did and
        the leads it read) and move the resume state past them, in one transaction."""
        with transaction.atomic():
            commit_durability_relax()
            result, read = write(self.run.state.get("into_empty", False))
            run_count(self.run, read, result)
            state_change(read)
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
        self.load_end()
        with transaction.atomic():
            self.run.people_removed = person_remove_unseen(self.run.pk, self.run.started_at)
            self.run.status = SyncRun.Status.SUCCEEDED
            self.run.finished_at = timezone.now()
            self.save("people_removed", "status", "finished_at")
            stream = people_stream()
            stream.last_success_at = self.run.finished_at
            stream.save(update_fields=["last_success_at"])
        self.on_progress(self.run)

    def load_end(self) -> None:
        """The indexes still dropped, and statistics unless those taken during the load
        stand for the table."""
        if self.statistics is not None:
            self.statistics.join()  # an index build would wait for it anyway
        analyzed = self.statistics_people
        person_bulk_load_end(self.run.state.get("dropped_indexes", []), analyze=(
            analyzed is None or analyzed < self.run.people_written * STATISTICS_MIN_SHARE))

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
            # Into an empty table people are COPYed in rather than upserted (none is stored).
            self.run.state = {"method": SyncRun.Method.BULK, "fields": SYNCED_MARKETO_FIELDS,
                              "windows": windows, "into_empty": not Person.objects.exists(),
                              "dropped_indexes": person_bulk_load_begin()}
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
        """Ingest each window's file as its job completes, while a thread of its own keeps
        Marketo's export queue full: file k is written while jobs k+1, k+2 process."""
        windows = self.run.state["windows"]
        for window in windows:
            if window["status"] in ("created", "completed"):
                # A resumed run asks Marketo first: a job saved as created may have been
                # enqueued since, and a finished file may be gone.
                window["status"] = "enqueued"
        jobs = _ExportJobs(windows, self.client, self.run.state["fields"],
                           lock=self.state_lock, poll_max_seconds=self.poll_max_seconds)
        pace = _IngestPace()
        jobs.start()
        try:
            while True:
                self.load_end_while_idle(jobs, pace)
                window = jobs.next_completed(timeout=IDLE_SAVE_SECONDS)
                if window is _ALL_DONE:
                    return
                if window is None:
                    with transaction.atomic():
                        self.save()  # the jobs' ids and the heartbeat while Marketo works
                    continue
                with pace.working():
                    self.download(window)
        except MarketoError as error:
            if error.permanent and not any(w["export_id"] for w in windows):
                jobs.stop()
                self.switch_to_leads(str(error))
                return
            raise
        finally:
            jobs.stop()

    def load_end_while_idle(self, jobs: _ExportJobs, pace: _IngestPace) -> None:
        """Do part of what ends a bulk load (``load_end``) before the last file, in time
        the ingest would spend waiting for Marketo.

        After the last file, what is left to do is what the sync adds to Marketo's own time:
        the trigram index alone takes seconds per 100,000 people to build, ANALYZE seconds at
        any size. So, once the ingest has caught up with the jobs and idles at least half the
        time, the trigram index is built while the table is small (kept up to date after, it
        costs less per row than the export takes); then, once most windows are written and the
        ingest has caught up, ANALYZE runs beside the next files. The B-trees are built at the
        end (by two connections: about as long as the last jobs would keep them busy if built
        before; they also set the planner's row count). When the database is the bound (the
        ingest never catches up) all is done at the end, which costs the least in all.
        """
        # Only a load into an (almost) empty table drops indexes; only one that has caught up
        # has time to spare.
        if not self.run.state.get("dropped_indexes") or jobs.file_ready():
            return
        dropped = self.run.state["dropped_indexes"]
        costly = [definition for definition in dropped if person_index_is_costly(definition)]
        if costly and pace.marketo_bound():
            with pace.working():
                log.info("building the trigram index during the load, while Marketo exports")
                person_indexes_build(costly)
                # Committed with the run: a resumed run builds only what is left (building an
                # index that exists would be a no-op anyway).
                self.run.state["dropped_indexes"] = [definition for definition in dropped
                                                     if definition not in costly]
                with transaction.atomic():
                    self.save()
        elif (not costly and self.statistics is None and not connection.in_atomic_block
              and self.run.windows_done >= self.run.windows_total * STATISTICS_AT_WINDOWS_SHARE):
            # (Inside a transaction another connection would wait for this one's locks.)
            self.statistics = threading.Thread(
                target=self.statistics_refresh_alone, args=(self.run.people_written,),
                name="people-statistics", daemon=True)
            self.statistics.start()

    def statistics_refresh_alone(self, people: int) -> None:
        """``person_statistics_refresh`` in a thread of its own, on its own connection, with
        ``people`` in the table."""
        try:
            person_statistics_refresh()
            self.statistics_people = people
        except Exception:  # noqa: BLE001 - then the end of the load runs ANALYZE again
            log.warning("ANALYZE during the load failed", exc_info=True)
        finally:
            connections.close_all()

    def download(self, window: dict) -> None:
        """Stream the window's file from the last committed byte and apply it in batches as
        it arrives (never the whole file in memory or on disk).

        On PostgreSQL the records go to the database as they are, a few MB at a time (COPY
        into a staging table, shaped and upserted in SQL: ``person_apply_csv``); elsewhere a
        reader thread parses and checks the next batch while this thread writes the last one.
        """
        def change(read: int, consumed: int, last: bool) -> None:
            window.update(bytes=consumed, rows=window["rows"] + read)
            if last:
                window["status"] = "done"
                self.run.windows_done = sum(1 for w in self.run.state["windows"]
                                            if w["status"] == "done")

        if connection.vendor == "postgresql":
            pieces = prefetched(self.file_pieces(window["export_id"], window["bytes"]))
            for records, header, consumed, last in pieces:
                self.apply_with(
                    lambda none_stored, records=records, header=header: person_apply_csv(
                        records, header, run_id=self.run.pk, none_stored=none_stored)
                    if records else (ApplyResult(), 0),
                    lambda read, consumed=consumed, last=last: change(read, consumed, last))
            return
        batches = prefetched(self.file_batches(window["export_id"], window["bytes"]))
        for batch, consumed, last in batches:
            self.apply(batch, lambda read, consumed=consumed, last=last: change(read, consumed,
                                                                                 last))

    def file_pieces(self, export_id: str, start_byte: int
                    ) -> Iterator[tuple[bytes, list[str], int, bool]]:
        """The export file's pieces from ``start_byte`` (:func:`export_file_pieces`): a resumed
        file has no header line left, so its header is the fields the run asked for."""
        header = None if start_byte == 0 else self.run.state["fields"]
        return export_file_pieces(self.client, export_id, start_byte, header)

    def file_batches(self, export_id: str, start_byte: int
                     ) -> Iterator[tuple[LeadRows, int, bool]]:
        """``(rows, bytes consumed after them, is last)`` batches of an export file."""
        lines = _CountingLines(self.client.bulk_export_file(export_id, start_byte=start_byte),
                               start=start_byte)
        reader = csv.reader(lines)
        header = next(reader, None) if start_byte == 0 else self.run.state["fields"]
        batch: list[dict] = []
        run_id = self.run.pk
        for row in (reader if header else ()):
            batch.append(dict(zip(header, row, strict=False)))
            if len(batch) >= APPLY_BATCH:
                yield lead_rows(batch, run_id=run_id), lines.consumed, False
                batch = []
        yield lead_rows(batch, run_id=run_id), lines.consumed, True

    # -- leads.json fallback

    def switch_to_leads(self, reason: str) -> None:
        log.info("bulk extract unavailable (%s); using leads.json by id ranges", reason)
        self.run.state = {"method": SyncRun.Method.LEADS, "fields": SYNCED_MARKETO_FIELDS,
                          "next_id": 1, "highest_id": 0, "empty_ranges": 0,
                          "fallback_reason": reason,
                          "into_empty": self.run.state.get("into_empty", False),
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

            def change(read: int, leads=leads, first=first) -> None:
                state["next_id"] = first + LEADS_PAGE
                state["empty_ranges"] = 0 if leads else state["empty_ranges"] + 1
                state["highest_id"] = max([state["highest_id"],
                                           *(int(lead["id"]) for lead in leads)])

            self.apply(lead_rows(leads, run_id=self.run.pk), change)


def export_file_pieces(client: MarketoClient, export_id: str, start_byte: int = 0,
                       header: list[str] | None = None
                       ) -> Iterator[tuple[bytes, list[str], int, bool]]:
    """``(whole records, header, bytes consumed after them, is last)`` pieces of an export
    file, about ``COPY_PIECE_BYTES`` each, as valid UTF-8 (what is not is replaced). Without
    ``header`` the file's first line is it."""
    consumed = start_byte
    pending = bytearray()  # grown and cut in place: no new buffer per chunk
    for chunk in client.bulk_export_file(export_id, start_byte=start_byte,
                                         chunk_size=COPY_PIECE_BYTES // 4):
        pending += chunk
        if header is None:
            end = pending.find(b"\n")
            if end < 0:
                continue
            header = _header(bytes(pending[:end]))
            consumed += end + 1
            del pending[:end + 1]
        if len(pending) >= COPY_PIECE_BYTES:
            cut = _records_end(pending)
            if cut:
                yield _utf8(bytes(pending[:cut])), header, consumed + cut, False
                consumed += cut
                del pending[:cut]
    if header is None:  # a header without a line end, or an empty file
        header, consumed = _header(bytes(pending)), consumed + len(pending)
        pending.clear()
    yield _utf8(bytes(pending)), header, consumed + len(pending), True


def _header(line: bytes) -> list[str]:
    return next(csv.reader([line.decode("utf-8", errors="replace").rstrip("\r")]), [])


def _records_end(data: bytes | bytearray) -> int:
    """Where the last whole record of ``data`` ends (0: none ends in it).

    A line end inside a quoted field follows an odd number of quotes (RFC 4180 doubles a
    quote within a field), so the record ends at the last line end after an even number.
    """
    end = data.rfind(b"\n")
    while end >= 0:
        if data.count(b'"', 0, end) % 2 == 0:
            return end + 1
        end = data.rfind(b"\n", 0, end)
    return 0


def _utf8(data: bytes) -> bytes:
    """``data`` as valid UTF-8, each invalid sequence replaced as a decoding with "replace"
    would (COPY refuses invalid UTF-8)."""
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace").encode("utf-8")


_ALL_DONE = object()


class _IngestPace:
    """How the ingesting thread spends its time since its first file: working (writing files,
    building indexes) or waiting for Marketo's jobs."""

    def __init__(self):
        self.first_file_at: float | None = None
        self.busy_seconds = 0.0

    @contextmanager
    def working(self) -> Iterator[None]:
        began = time.monotonic()
        if self.first_file_at is None:
            self.first_file_at = began
        try:
            yield
        finally:
            self.busy_seconds += time.monotonic() - began

    def marketo_bound(self) -> bool:
        """Whether the ingest mostly waits for Marketo (and has for long enough to tell)."""
        if self.first_file_at is None:
            return False
        elapsed = time.monotonic() - self.first_file_at
        return (elapsed >= MARKETO_BOUND_EVIDENCE_SECONDS
                and self.busy_seconds <= elapsed * (1 - MARKETO_BOUND_IDLE_SHARE))


class _ExportJobs:
    """Marketo's side of a bulk sync, in a thread of its own: creates and enqueues the windows'
    export jobs ahead (at most ``MAX_JOBS_AHEAD`` created, queued or processing, so Marketo
    always has the next job once one of its two slots frees) and watches their statuses, while
    the ingesting thread writes the files that are ready.

    It only calls Marketo. It changes the windows (dicts of the run's resume state) under
    ``lock``, with which the ingesting thread saves them: the new jobs' ids are committed with
    its next batch or idle save. A window is this thread's while ``pending``, ``created`` or
    ``enqueued``, and the ingesting thread's once ``completed``.
    """

    def __init__(self, windows: list[dict], client: MarketoClient, fields: list[str], *,
                 lock: threading.RLock, poll_max_seconds: float):
        self.windows = windows
        self.client = client
        self.fields = fields
        self.poll_max_seconds = poll_max_seconds
        self.changed = threading.Condition(lock)
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="people-sync-exports",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=self.client.timeout + 5)

    def file_ready(self) -> bool:
        """Whether a window's file waits to be written."""
        with self.changed:
            return any(w["status"] == "completed" for w in self.windows)

    def next_completed(self, timeout: float):
        """The first window whose file is ready; ``_ALL_DONE`` when every window is done;
        None if neither within ``timeout`` seconds. Raises what stopped the export thread."""
        with self.changed:
            waited = False
            while True:
                if self.error is not None:
                    raise self.error
                ready = next((w for w in self.windows if w["status"] == "completed"), None)
                if ready is not None:
                    return ready
                if all(w["status"] == "done" for w in self.windows):
                    return _ALL_DONE
                if waited:
                    return None
                waited = not self.changed.wait(timeout)

    # -- the thread

    def _run(self) -> None:
        try:
            wait = FIRST_POLL_SECONDS
            while not self._stopping.is_set():
                self._fill()
                with self.changed:
                    watching = any(w["status"] in _IN_MARKETO for w in self.windows)
                    pending = any(w["status"] == "pending" for w in self.windows)
                if not watching and not pending:
                    return  # every file is ready (or written)
                progressed = watching and self._note(
                    {job["exportId"]: job["status"] for job in self.client.bulk_exports()})
                wait = FIRST_POLL_SECONDS if progressed else min(wait * 2,
                                                                 self.poll_max_seconds)
                self._stopping.wait(wait)
        except BaseException as error:  # the ingesting thread re-raises it
            with self.changed:
                self.error = error
                self.changed.notify_all()
        finally:
            # The client's call hook records the API budget; leave no connection behind.
            connections.close_all()

    def _fill(self) -> None:
        """Create and enqueue jobs until ``MAX_JOBS_AHEAD`` are in Marketo's hands."""
        while not self._stopping.is_set():
            with self.changed:
                in_marketo = sum(w["status"] in _IN_MARKETO for w in self.windows)
                window = next((w for w in self.windows if w["status"] == "created"), None) \
                    or next((w for w in self.windows if w["status"] == "pending"), None)
            if window is None or (window["status"] == "pending"
                                  and in_marketo >= MAX_JOBS_AHEAD):
                return
            if window["status"] == "pending":
                job = self.client.bulk_export_create(
                    self.fields, datetime.fromisoformat(window["start"]),
                    datetime.fromisoformat(window["end"]))
                with self.changed:
                    window.update(export_id=job["exportId"], status="created", bytes=0)
            try:
                self.client.bulk_export_enqueue(window["export_id"])
            except MarketoError as error:
                if error.code != "1029":
                    raise
                return  # the queue is full of others' jobs: try again at the next poll
            with self.changed:
                window["status"] = "enqueued"

    def _note(self, statuses: dict[str, str]) -> bool:
        """Take in the jobs' statuses; True if a file became ready or a job was recreated."""
        progressed = False
        with self.changed:
            for window in self.windows:
                if window["status"] != "enqueued":
                    continue
                status = statuses.get(window["export_id"])
                if status == "Completed":
                    window["status"] = "completed"
                    progressed = True
                elif status in FAILED_JOB_STATES or status is None:
                    # Failed, cancelled, or gone (jobs are listed for 7 days): export it again.
                    log.warning("export job %s is %s; recreating it", window["export_id"],
                                status or "gone")
                    window.update(export_id=None, status="pending", bytes=0)
                    progressed = True
                elif status == "Created":  # our enqueue never reached Marketo
                    window["status"] = "created"
            if progressed:
                self.changed.notify_all()
        return progressed


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
    try:
        # Inside the try: a run claimed (running) and then unable to start, Marketo not
        # connected, must say so as failed, not stay "running" with no error.
        client = client or marketo_client()
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
