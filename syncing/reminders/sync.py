"""The inbound pass: Salesforce reminder Tasks changed since the high-water mark, into the app.

Reads ``queryAll`` (deleted Tasks in the recycle bin included) for ``TaskSubtype = 'Task'``
(never the Call and Email Tasks the app logs) ordered by ``SystemModstamp``, in pages of
2,000, from a little before the stored high-water mark (Salesforce stamps a change when its
transaction starts, so one can become visible after a later stamp was read). Each page is
applied and the mark moved in one transaction: a crash re-reads, never skips. Applying the
same Task twice changes nothing (``merge``).

The first pass imports the Tasks changed in the last 24 hours. A Task becomes a new app task
only if its owner is a seller here (by email) and its WhoId is a person in the workspace; a
Task the app's own integration user created is the answer to one of its own (the outbox
links it), never a new task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.rollups import rollups_recount, task_slices
from reminders.models import SYNCED_FIELDS, ReminderTask
from syncing.clients.salesforce import SalesforceClient
from syncing.clients.transport import TransportError
from syncing.models import SyncStream
from syncing.outbox.streams import delivery_client
from syncing.settings.selectors import salesforce_connection_get, sync_settings_get
from syncing.streams import stream_claim, stream_due, stream_get, stream_pass_record

from .mapping import (
    MERGED_FIELDS,
    TASK_FIELDS,
    people_by_who,
    remote_values,
    salesforce_users,
    seller_emails,
    sellers_by_owner,
    sf_datetime_parse,
)
from .merge import task_merge

FIRST_WINDOW = timedelta(hours=24)
OVERLAP = timedelta(minutes=2)
PAGE_SIZE = 2000
LEASE = timedelta(minutes=15)
# Each pass is logged under its Sync health source's name (syncing/<room>/health.py).
PASS_LOG = "reminder_tasks_in"
TYPES_FROM_SF = {"Call": ReminderTask.Type.CALL, "Email": ReminderTask.Type.EMAIL}
UPDATED = [*MERGED_FIELDS, "completed_at", "synced_values", "field_changed_at",
           "salesforce_modstamp", "deleted_at", "updated_at"]


class ReminderSyncError(Exception):
    """The pass could not run; the message says why in one line."""


@dataclass
class ImportReport:
    read: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    api_calls: int = 0

    def __str__(self) -> str:
        return (f"{self.read} Tasks read, {self.created} created, {self.updated} updated, "
                f"{self.deleted} deleted, {self.skipped} skipped, {self.api_calls} "
                "Salesforce calls")

    def summary(self) -> str:
        """The pass for an admin reading ``manage.py sync`` (``__str__`` is for the logs)."""
        return _("%(read)s Tasks read, %(created)s created, %(updated)s updated, %(deleted)s "
                 "deleted, %(skipped)s skipped, %(calls)s Salesforce calls") % {
            "read": self.read, "created": self.created, "updated": self.updated,
            "deleted": self.deleted, "skipped": self.skipped, "calls": self.api_calls}


def reminder_stream() -> SyncStream:
    return stream_get(SyncStream.Name.REMINDER_TASKS)


def reminder_tasks_sync_due(now: datetime | None = None) -> bool:
    """Two-way sync on, Salesforce connected, and the interval passed since the last pass."""
    settings = sync_settings_get()
    return (settings.reminder_task_sync_enabled
            and salesforce_connection_get().is_configured
            and stream_due(reminder_stream(), settings.reminder_task_sync_interval_seconds,
                           now))


def reminder_tasks_sync_pass() -> ImportReport | None:
    """One pass (None if another one holds the stream). Raises ``ReminderSyncError`` or the
    client's ``TransportError``; the stream records the error either way."""
    stream = reminder_stream()
    if not stream_claim(stream, LEASE):
        return None
    started = timezone.now()
    try:
        connection = salesforce_connection_get()
        if not connection.is_configured:
            raise ReminderSyncError("Salesforce is not connected: fill in the Salesforce "
                                    "card on Settings.")
        report = _pass(stream, delivery_client(connection))
    except (TransportError, ReminderSyncError) as error:
        SyncStream.objects.filter(pk=stream.pk).update(
            lease_until=None, status=SyncStream.Status.FAILING, last_error=str(error)[:2000],
            consecutive_failures=F("consecutive_failures") + 1)
        stream_pass_record(PASS_LOG, started, error=str(error))
        raise
    SyncStream.objects.filter(pk=stream.pk).update(
        lease_until=None, status=SyncStream.Status.HEALTHY, last_error="",
        last_success_at=timezone.now(), consecutive_failures=0)
    stream_pass_record(PASS_LOG, started, rows=report.read)
    return report


def _soql_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pass(stream: SyncStream, client: SalesforceClient) -> ImportReport:
    calls = client.calls
    started = timezone.now()
    users, _known = salesforce_users(client, stream.state, seller_emails(), _state_save)
    sellers = sellers_by_owner(users)
    mark = stream.cursor.get("high_water_mark")
    since = (datetime.fromisoformat(mark) - OVERLAP if mark
             else timezone.now() - FIRST_WINDOW)
    soql = (f"SELECT {', '.join(TASK_FIELDS)}, Type, CreatedDate FROM Task "
            f"WHERE TaskSubtype = 'Task' AND SystemModstamp >= {_soql_datetime(since)} "
            "ORDER BY SystemModstamp, Id")
    report = ImportReport()
    page: list[dict] = []
    for record in client.query(soql, include_deleted=True, batch_size=PAGE_SIZE):
        page.append(record)
        if len(page) == PAGE_SIZE:
            _apply(stream, page, sellers, client.user_id, report)
            page = []
    if page:
        _apply(stream, page, sellers, client.user_id, report)
    if not mark and not report.read:
        # Nothing in the first day: later passes start from this pass, not 24 hours back.
        _mark_move(stream, started)
    report.api_calls = client.calls - calls
    return report


def _state_save(state: dict) -> None:
    SyncStream.objects.filter(name=SyncStream.Name.REMINDER_TASKS).update(state=state)


@transaction.atomic
def _apply(stream: SyncStream, records: list[dict], sellers: dict[str, int],
           integration_user: str | None, report: ImportReport) -> None:
    """Apply one page and move the high-water mark, together."""
    report.read += len(records)
    existing = {task.salesforce_id[:15]: task for task in ReminderTask.objects
                .select_for_update().filter(salesforce_id__in=[r["Id"] for r in records])}
    counted_before = task_slices(existing.values())
    people = people_by_who({r.get("WhoId") for r in records})
    now = timezone.now()
    created, updated = [], []
    for record in records:
        task = existing.get(record["Id"][:15])
        remote = remote_values(record, people=people, sellers=sellers)
        if task is None:
            new = _new_task(record, remote, integration_user)
            if new is None:
                report.skipped += 1
            else:
                created.append(new)
            continue
        stamp = sf_datetime_parse(record["SystemModstamp"])
        if task.deleted_at is not None or (task.salesforce_modstamp
                                           and stamp <= task.salesforce_modstamp):
            continue  # gone here already, or this state was applied before (the overlap)
        if record.get("IsDeleted"):
            task.deleted_at = now
            task.salesforce_modstamp = stamp
            report.deleted += 1
        elif task_merge(task, record, remote):
            report.updated += 1
        updated.append(task)
    ReminderTask.objects.bulk_create(created, batch_size=1000)
    report.created += len(created)
    for task in updated:
        task.updated_at = now
    _tasks_write(updated)
    rollups_recount(tasks=counted_before | task_slices([*created, *updated]))
    _mark_move(stream, sf_datetime_parse(records[-1]["SystemModstamp"]))


def _tasks_write(tasks: list[ReminderTask]) -> None:
    """Save the merged fields of many tasks. On PostgreSQL one ``UPDATE … FROM unnest(…)``
    with an array per column; elsewhere one UPDATE by primary key each (``executemany``).
    Django's ``bulk_update`` builds a CASE per column over the batch, several times slower
    at a page of 2,000."""
    if not tasks:
        return
    connection = connections[ReminderTask.objects.db]
    quote = connection.ops.quote_name
    fields = [ReminderTask._meta.get_field(name) for name in UPDATED]
    table = quote(ReminderTask._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE id = %s",
                [[f.get_db_prep_save(getattr(task, f.attname), connection) for f in fields]
                 + [task.pk] for task in tasks])
            return
        arrays, assignments, values = ["%s::bigint[]"], [], [[task.pk for task in tasks]]
        for f in fields:
            column = quote(f.column)
            if f.get_internal_type() == "JSONField":  # sent as text, cast on the way in
                arrays.append("%s::text[]")
                assignments.append(f"{column} = v.{column}::jsonb")
                values.append([json.dumps(getattr(task, f.attname)) for task in tasks])
            else:
                arrays.append(f"%s::{f.db_type(connection)}[]")
                assignments.append(f"{column} = v.{column}")
                values.append([getattr(task, f.attname) for task in tasks])
        names = ", ".join(["id", *(quote(f.column) for f in fields)])
        cursor.execute(f"UPDATE {table} AS t SET {', '.join(assignments)} "
                       f"FROM unnest({', '.join(arrays)}) AS v({names}) WHERE t.id = v.id",
                       values)


def _mark_move(stream: SyncStream, mark: datetime) -> None:
    stream.cursor = {**stream.cursor, "high_water_mark": mark.isoformat()}
    SyncStream.objects.filter(pk=stream.pk).update(cursor=stream.cursor,
                                                   caught_up_to=timezone.now())


def _new_task(record: dict, remote: dict, integration_user: str | None) -> ReminderTask | None:
    """The app task a Task becomes, or None when it is not one to import."""
    if (record.get("IsDeleted") or remote["assignee"] is None or remote["person"] is None
            or (integration_user and (record.get("CreatedById") or "")[:15]
                == integration_user[:15])):
        return None
    stamp = sf_datetime_parse(record["SystemModstamp"])
    created = sf_datetime_parse(record["CreatedDate"])
    values = {
        "status": remote["status"] or ReminderTask.Status.OPEN,
        "priority": remote["priority"] or ReminderTask.Priority.NORMAL,
        "due_date": remote["due_date"] or created.date().isoformat(),
        "details": remote["details"], "assignee": remote["assignee"],
        "person": remote["person"],
        "name": (record.get("Subject") or "").strip()[:255] or "(no subject)",
    }
    return ReminderTask(
        person_id=values["person"], assignee_id=values["assignee"], name=values["name"],
        type=TYPES_FROM_SF.get(record.get("Type"), ReminderTask.Type.CUSTOM),
        status=values["status"], priority=values["priority"],
        due_date=date.fromisoformat(values["due_date"]), details=values["details"],
        completed_at=stamp if values["status"] == ReminderTask.Status.COMPLETE else None,
        origin=ReminderTask.Origin.SALESFORCE, salesforce_push=True,
        salesforce_id=record["Id"], salesforce_modstamp=stamp,
        field_changed_at=dict.fromkeys(SYNCED_FIELDS, stamp.isoformat()),
        # What both sides hold now; values that do not sync are the app's, so they are not
        # pushed back either.
        synced_values=values)
