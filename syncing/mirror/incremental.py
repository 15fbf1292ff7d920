"""The incremental people sync: lead changes and deleted leads since the stored cursor.

Paging tokens are stored on the ``people`` stream and advance in the transaction that applies
their changes: a crash re-reads, never skips. Field changes to stored people are merged from
the activities themselves; only new leads, owner changes and leads the mirror does not hold are
fetched whole, so most pages cost one call. A reader thread fetches pages while the database
writes; the pages it read meanwhile commit together, with the cursor at the last of them.
Passes wait while an initial sync is unfinished (see ``initial``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from people.selectors import person_ids_stored
from people.services import (
    MARKETO_FIELDS,
    OWNER_MARKETO_FIELDS,
    SYNCED_MARKETO_FIELDS,
    person_apply_changes,
    person_apply_leads,
    person_remove_deleted,
)
from syncing.clients.marketo import (
    CHANGE_DATA_VALUE,
    ActivityPage,
    MarketoClient,
    lead_change_values,
)
from syncing.clients.transport import TransportError
from syncing.models import SyncRun, SyncStream
from syncing.settings.selectors import sync_settings_get
from syncing.streams import stream_claim, stream_due

from .readahead import read_ahead
from .state import (
    commit_durability_relax,
    initial_run_unfinished,
    marketo_client,
    people_stream,
    run_count,
)

WATCHED_FIELDS = list(MARKETO_FIELDS.values())
_WATCHED = frozenset(WATCHED_FIELDS)
STREAM_LEASE = timedelta(minutes=10)
# Lead change pages read ahead of the database; those already read go in one transaction.
PAGES_AHEAD = 8


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
    """Apply the lead changes with the cursor moving in the transaction that commits them.

    A reader thread fetches pages (and the leads they need whole) while this thread writes;
    the pages it has read meanwhile are written together. Which people the mirror holds is
    read here, once the pages before have committed.
    """
    pages = read_ahead(_lead_change_pages(client, stream.cursor["lead_changes"]),
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
            _cursor_advance(stream, "lead_changes", changes.page.next_page_token)


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
