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
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from people.services import (
    SYNCED_MARKETO_FIELDS,
    person_apply_leads,
    person_bulk_load_begin,
    person_bulk_load_end,
    person_remove_unseen,
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
# Marketo queues at most 10 export jobs per instance; leave room for other integrations.
MAX_JOBS_AHEAD = 6
LEADS_PAGE = 300
# The leads.json fallback stops after this many empty id ranges past the highest id seen.
LEADS_EMPTY_RANGES_TO_STOP = 10
FALLBACK_EPOCH = datetime(2006, 1, 1, tzinfo=UTC)  # Marketo's founding: no lead is older
FAILED_JOB_STATES = {"Failed", "Cancelled"}
# Export status is polled from this interval, doubling up to MARKETO_BULK_POLL_MAX_SECONDS:
# small jobs are picked up at once, a long one costs only a handful of status calls.
FIRST_POLL_SECONDS = 0.25

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
            commit_durability_relax()
            result = person_apply_leads(leads, run_id=self.run.pk)
            run_count(self.run, len(leads), result)
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
        batches = prefetched(self.file_batches(window["export_id"], window["bytes"]))
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
