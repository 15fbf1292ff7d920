"""The incremental people sync: lead changes and deleted leads since the stored cursor.

Paging tokens are stored on the ``people`` stream and advance in the transaction that applies
their changes: a crash re-reads, never skips. Field changes to stored people are merged from
the activities themselves; only new leads, owner changes and leads the mirror does not hold are
fetched whole, so most pages cost one call. A reader thread fetches pages while the database
writes; the pages it read meanwhile commit together, with the cursor at the last of them.
Passes wait while an initial sync is unfinished (see ``initial``).

A burst (more than ``PEOPLE_SYNC_EXPORT_AFTER_CHANGES`` changes pending) is not read page by
page: the app's share of Marketo's calls would spread its pages over minutes. The leads changed
since the last change applied are exported in bulk (``updatedAt`` filter, streamed and COPYed
as the initial sync's files are), then the cursor moves to the export's end. A lead changed
again after that end is missing from the file, and its earlier changes with it: so the pages
read after an export fetch every lead they name whole, until the cursor has caught up (a flag
on the cursor, so a pass that fails meanwhile leaves it for the next one).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from people.selectors import person_ids_stored
from people.services import (
    MARKETO_FIELDS,
    OWNER_MARKETO_FIELDS,
    SYNCED_MARKETO_FIELDS,
    person_apply_changes,
    person_apply_csv,
    person_apply_leads,
    person_remove_deleted,
)
from syncing.clients.marketo import (
    BULK_MAX_RANGE,
    CHANGE_DATA_VALUE,
    ActivityPage,
    MarketoClient,
    MarketoError,
    lead_change_values,
)
from syncing.clients.transport import TransportError
from syncing.models import SyncRun, SyncStream
from syncing.settings.selectors import sync_settings_get
from syncing.streams import stream_claim, stream_due

from .initial import FAILED_JOB_STATES, FIRST_POLL_SECONDS, export_file_pieces
from .readahead import prefetched, read_ahead
from .state import (
    commit_durability_relax,
    initial_run_unfinished,
    marketo_client,
    people_stream,
    run_count,
)

log = logging.getLogger(__name__)

WATCHED_FIELDS = list(MARKETO_FIELDS.values())
_WATCHED = frozenset(WATCHED_FIELDS)
STREAM_LEASE = timedelta(minutes=10)
# Lead change pages read ahead of the database; those already read go in one transaction.
PAGES_AHEAD = 8
# The cursor flag of the pages after a burst's export: they fetch their leads whole.
WHOLE_LEADS = "whole_leads_until_caught_up"
# The export ends this long before the app's clock says now: Marketo's clock may be behind
# ours, and the export must not end after the moment Marketo reads the leads.
EXPORT_CLOCK_MARGIN = timedelta(seconds=5)
# A burst's export is polled from FIRST_POLL_SECONDS with each wait this much longer than the
# last (up to MARKETO_BULK_POLL_MAX_SECONDS), not twice as long as the initial sync's: the pass
# learns the file is ready at most about a fifth of the job's time late (doubling: up to as
# long again as the job took), which is lag, for a few more status calls (22 rather than 10
# for a 100 s job).
BACKLOG_POLL_GROWTH = 1.25
# PostgreSQL connections writing a burst's export file at once. Three, on two cores: each
# writer also waits on I/O (WAL, pages read back into shared buffers), so a third keeps the
# cores busy (100,000 changed people: 8.2 s against 9.3 s, mean of three runs each).
EXPORT_WRITERS = 3


def people_incremental_due(now: datetime | None = None) -> bool:
    """Whether beat's tick should start a pass: switched on, idle, and the interval set on
    the settings page has passed since the last one."""
    sync_settings = sync_settings_get()
    if not sync_settings.people_sync_enabled:
        return False
    return stream_due(people_stream(), sync_settings.people_sync_interval_seconds, now)


def people_incremental_pass(client: MarketoClient | None = None) -> SyncRun | None:
    """Apply every lead change and deletion since the stored cursor; one pass at a time.

    Returns the pass's run, or None when there is nothing it may do yet (another pass holds
    the stream, or the initial sync has not finished). A Marketo failure is recorded on the
    stream and the run, and re-raised.
    """
    if initial_run_unfinished() or not people_stream().cursor:
        return None
    stream = people_stream()
    if not stream_claim(stream, STREAM_LEASE):
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
    """Apply the lead changes page by page; a burst's rest by one bulk export (at most one a
    pass), then the pages after it."""
    backlog_since = _apply_change_pages(stream, run, client,
                                        backlog_after=settings.PEOPLE_SYNC_EXPORT_AFTER_CHANGES)
    if backlog_since is not None:
        # Exported or not (Marketo may refuse), the pages from the cursor on follow.
        _apply_backlog_by_export(stream, run, client, backlog_since)
        _apply_change_pages(stream, run, client, backlog_after=None)


def _apply_change_pages(stream: SyncStream, run: SyncRun, client: MarketoClient, *,
                        backlog_after: int | None) -> datetime | None:
    """Apply the lead changes with the cursor moving in the transaction that commits them.

    A reader thread fetches pages (and the leads they need whole) while this thread writes;
    the pages it has read meanwhile are written together. Which people the mirror holds is
    read here, once the pages before have committed. Having read ``backlog_after`` changes with
    more to come, it stops and returns the moment of the last change applied (else None).
    """
    whole = bool(stream.cursor.get(WHOLE_LEADS))
    pages = read_ahead(_lead_change_pages(client, stream.cursor["lead_changes"], whole=whole,
                                          backlog_after=backlog_after),
                       depth=PAGES_AHEAD, most=PAGES_AHEAD)
    for ready in pages:
        changes = ready[0]
        for later in ready[1:]:
            changes.absorb(later)
        # Not in the mirror (e.g. gaining an owner): its stored values are no base to merge.
        changes.fetch(client, changes.values.keys() - person_ids_stored(changes.values))
        with transaction.atomic():
            commit_durability_relax()
            _lead_changes_apply(run, changes)
            if whole and not changes.page.more_result:
                stream.cursor.pop(WHOLE_LEADS, None)  # caught up: changes merge again
            _cursor_advance(stream, "lead_changes", changes.page.next_page_token)
        if changes.backlog:
            return changes.last_change_at
    return None


def _apply_backlog_by_export(stream: SyncStream, run: SyncRun, client: MarketoClient,
                             since: datetime) -> None:
    """Apply every lead updated from ``since`` (the last change applied) to about now from bulk
    exports, then move the cursor to the exports' end with the pages after it to be fetched
    whole. Where Marketo cannot export so, the cursor stays (the pages go on from it)."""
    start = since.replace(microsecond=0)  # the filter is to the second, bounds included
    end = timezone.now().replace(microsecond=0) - EXPORT_CLOCK_MARGIN
    if end <= start:  # the burst is seconds old: let Marketo's clock pass it
        time.sleep((start - end).total_seconds() + 1)
        end = start + timedelta(seconds=1)
    windows = []
    while start < end:
        windows.append((start, min(start + BULK_MAX_RANGE, end)))
        start = windows[-1][1]
    for window_start, window_end in windows:
        export_id = _backlog_export(stream, client, window_start, window_end)
        if export_id is None:
            return
        _backlog_export_apply(stream, run, client, export_id)
    # Changes from the end on are read again; a lead changed since is fetched whole, so what
    # the file lacked (its changes within the window) comes with it.
    token = client.paging_token(end - timedelta(seconds=1))
    with transaction.atomic():
        stream.cursor[WHOLE_LEADS] = True
        _cursor_advance(stream, "lead_changes", token)


def _backlog_export(stream: SyncStream, client: MarketoClient, start: datetime, end: datetime
                    ) -> str | None:
    """Create, enqueue and wait for an export of the leads updated within [start, end]; its
    id once completed, or None where this Marketo refuses it (filter not enabled, queue full of
    others' jobs)."""
    try:
        export_id = client.bulk_export_create(SYNCED_MARKETO_FIELDS, updated_at_start=start,
                                              updated_at_end=end)["exportId"]
        client.bulk_export_enqueue(export_id)
    except MarketoError as error:
        if not (error.permanent or error.code in ("1029", "1035")):
            raise
        log.info("a burst of lead changes is read page by page: no bulk export (%s)", error)
        return None
    wait = FIRST_POLL_SECONDS
    while True:
        status = client.bulk_export_status(export_id).get("status")
        if status == "Completed":
            return export_id
        if status in FAILED_JOB_STATES:
            raise MarketoError(f"export job {export_id} of the changed leads is {status}")
        _lease_extend(stream)
        time.sleep(wait)
        wait = min(wait * BACKLOG_POLL_GROWTH, settings.MARKETO_BULK_POLL_MAX_SECONDS)


def _backlog_export_apply(stream: SyncStream, run: SyncRun, client: MarketoClient,
                          export_id: str) -> None:
    """Stream the export's file into the mirror a few MB at a time, as the initial sync does
    (its reader cuts the file; COPY and an upsert in SQL write each piece).

    On PostgreSQL ``EXPORT_WRITERS`` connections write pieces at once: a lead is in the file
    once, so the pieces touch different people, and writing (index upkeep of each changed
    row) is what a burst's pass waits on.
    """
    writers = EXPORT_WRITERS if connection.vendor == "postgresql" else 1
    read_ahead_pieces = prefetched(((records, header) for records, header, _, _
                                    in export_file_pieces(client, export_id) if records),
                                   depth=writers)
    counted = threading.Lock()

    def pieces() -> Iterator[tuple[bytes, list[str]]]:
        for piece in read_ahead_pieces:
            _lease_extend(stream)  # a large file may take longer to write than one lease
            yield piece

    def write(records: bytes, header: list[str]) -> None:
        with transaction.atomic():
            commit_durability_relax()
            result, read = person_apply_csv(records, header, run_id=run.pk, changed_only=True)
        with counted:
            run_count(run, read, result)

    if writers == 1:
        for records, header in pieces():
            write(records, header)
    else:
        _in_threads(write, pieces(), writers)
    run.save(update_fields=["leads_read", "people_written", "people_left", "records_skipped",
                            "skipped_examples"])


def _in_threads(work, items: Iterator[tuple], threads: int) -> None:
    """``work(*item)`` for each item, in ``threads`` threads with a database connection each;
    the first failure stops them and is raised here."""
    handoff: queue.Queue = queue.Queue(maxsize=threads)
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            while (item := handoff.get()) is not None:
                if not failures:
                    work(*item)
        except BaseException as error:
            failures.append(error)
            while handoff.get() is not None:  # let the feeder finish
                pass
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker, name=f"people-sync-writer-{number}", daemon=True)
            for number in range(threads)]
    for thread in pool:
        thread.start()
    try:
        for item in items:
            if failures:
                break
            handoff.put(item)
    finally:
        for _ in pool:
            handoff.put(None)
        for thread in pool:
            thread.join()
    if failures:
        raise failures[0]


def _lead_changes_apply(run: SyncRun, changes: _LeadChanges) -> None:
    """Leads fetched whole first, field changes on top (they are the newer), deletions last."""
    result = person_apply_leads(changes.fetched)
    result.written += person_apply_changes(changes.values).written
    result.skipped[:0] = changes.skipped
    run_count(run, len(changes.fetched) + len(changes.values), result)
    run.people_removed += person_remove_deleted(changes.gone)
    run.save(update_fields=["leads_read", "people_written", "people_left", "records_skipped",
                            "skipped_examples", "people_removed"])


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
    backlog: bool = False  # the pass read enough pages: the rest goes by bulk export
    last_change_at: datetime | None = None  # the page's last activity's moment

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
        self.backlog = later.backlog
        self.last_change_at = later.last_change_at or self.last_change_at


def _lead_change_pages(client: MarketoClient, token: str, *, whole: bool = False,
                       backlog_after: int | None = None) -> Iterator[_LeadChanges]:
    """Pages of lead changes from ``token`` on, each with the leads it names fetched whole
    where its activities alone cannot be applied (new leads, owner changes; every lead if
    ``whole``). Stops, marking its last page a backlog, once ``backlog_after`` changes are read
    and more follow."""
    read = 0
    while True:
        page = client.lead_changes(token, WATCHED_FIELDS)
        changes = _lead_changes_sort(page)
        changes.fetch(client, _leads_to_fetch(page.results, every=whole))
        read += len(page.results)
        more = page.more_result and page.next_page_token != token
        changes.backlog = (more and backlog_after is not None and read >= backlog_after
                           and changes.last_change_at is not None)
        yield changes
        if not more or changes.backlog:
            return
        token = page.next_page_token


def _leads_to_fetch(activities: list[dict], every: bool = False) -> set[int]:
    """Leads whose activities cannot be applied as they are: New Lead (nothing to apply),
    an activity type this sync does not know, or an owner change (the owner id alone carries
    no owner name or email); with ``every``, all the page names."""
    return {lead_id for activity in activities
            if (lead_id := _lead_id(activity))
            and (every or activity.get("activityTypeId") != CHANGE_DATA_VALUE
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
    moments = [_moment(activity.get("activityDate")) for activity in page.results]
    moments = [moment for moment in moments if moment]
    return _LeadChanges(page, values, skipped, last_change_at=max(moments, default=None))


def _moment(value) -> datetime | None:
    try:
        moment = parse_datetime(str(value or ""))
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


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


def _lease_extend(stream: SyncStream) -> None:
    stream.lease_until = timezone.now() + STREAM_LEASE
    stream.save(update_fields=["lease_until"])


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
