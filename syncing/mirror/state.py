"""The people stream's state and the runs that fill it: what the initial sync and the
incremental passes share (the stream row, the unfinished initial run, the Marketo client,
the run counters).

The ``people`` ``SyncStream`` holds the incremental cursor (paging tokens) and the lease that
keeps one pass at a time; a ``SyncRun`` holds an initial sync's resume state or one pass's
counts.
"""

from __future__ import annotations

from django.db import connection

from people.services import ApplyResult
from syncing.clients.marketo import MarketoClient
from syncing.models import SyncRun, SyncStream
from syncing.settings.selectors import marketo_connection_get
from syncing.settings.services import marketo_client_for
from syncing.streams import stream_get

MAX_SKIPPED_EXAMPLES = 20


class PeopleSyncError(Exception):
    """The sync could not run or finish; the message says why in one line."""


def marketo_client(**options) -> MarketoClient:
    """A client for the saved Marketo connection (``options``: see ``marketo_client_for``)."""
    connection = marketo_connection_get()
    if not connection.is_configured:
        raise PeopleSyncError("Marketo is not connected: fill in the Marketo card on Settings.")
    return marketo_client_for(connection, **options)


def people_stream() -> SyncStream:
    return stream_get(SyncStream.Name.PEOPLE)


def initial_run_unfinished() -> SyncRun | None:
    return (SyncRun.objects.filter(kind=SyncRun.Kind.INITIAL)
            .exclude(status=SyncRun.Status.SUCCEEDED).order_by("-id").first())



def run_count(run: SyncRun, read: int, result: ApplyResult) -> None:
    """Add an applied batch to the run's counters (not saved)."""
    run.leads_read += read
    run.people_written += result.written
    run.people_left += result.left
    run.records_skipped += len(result.skipped)
    room = MAX_SKIPPED_EXAMPLES - len(run.skipped_examples)
    run.skipped_examples += [{"marketo_id": str(marketo_id), "reason": reason}
                             for marketo_id, reason in result.skipped[:max(room, 0)]]



def commit_durability_relax() -> None:
    """Don't wait for the WAL flush on each batch's commit (PostgreSQL only).

    Safe here: the people and the resume state commit together, so a database crash can only
    lose the last batches *and* their resume state — the sync then re-reads them.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
