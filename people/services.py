"""Writes to people. Only the Marketo sync calls these: people are read-only everywhere else."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from salesactions.caching import cache_delete_quietly

from .list_cache import people_list_changed
from .models import ListColumns, Person, SavedView
from .selectors import list_columns_key

log = logging.getLogger(__name__)

# The fixed mapping of SPEC section 2: app field -> Marketo REST field.
MARKETO_FIELDS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "sfdc_contact_id": "sfdcContactId",
    "sfdc_lead_id": "sfdcLeadId",
    "sfdc_account_id": "sfdcAccountId",
    "sfdc_opportunity_id": "sfdcOpptyId",
    "company": "company",
    "title": "title",
    "email": "email",
    "phone": "phone",
    "linkedin_url": "linkedInProfileURL",
    "source": "leadSource",
    "sfdc_owner_id": "sfdcLeadOwnerId",
    "owner_email": "leadOwnerEmailAddress",
    "owner_first_name": "leadOwnerFirstName",
    "owner_last_name": "leadOwnerLastName",
}
# Every Marketo field the sync reads: the mapping plus the key and timestamps.
SYNCED_MARKETO_FIELDS = ["id", *MARKETO_FIELDS.values(), "createdAt", "updatedAt"]
# The owner decides workspace membership: a change to these takes the whole lead.
OWNER_MARKETO_FIELDS = frozenset(MARKETO_FIELDS[name] for name in (
    "sfdc_owner_id", "owner_email", "owner_first_name", "owner_last_name"))

_TEXT_FIELDS = [(name, marketo_name, Person._meta.get_field(name).max_length)
                for name, marketo_name in MARKETO_FIELDS.items()]
# Columns written by a sync, in the order rows are built.
_COLUMNS = ["marketo_id", *MARKETO_FIELDS, "marketo_created_at", "marketo_updated_at",
            "in_workspace", "removed_reason", "synced_at", "seen_in_run"]
_OWNER = _COLUMNS.index("sfdc_owner_id")
_OWNER_EMAIL = _COLUMNS.index("owner_email")
_IN_WORKSPACE = _COLUMNS.index("in_workspace")
# Columns a field change may set: the mapped fields but the owner's, and the timestamps.
_CHANGEABLE = [(name, marketo_name, limit) for name, marketo_name, limit in _TEXT_FIELDS
               if marketo_name not in OWNER_MARKETO_FIELDS]
_CHANGE_COLUMNS = ["marketo_id", *(name for name, _, _ in _CHANGEABLE), "marketo_updated_at",
                   "synced_at"]


@dataclass
class ApplyResult:
    """What applying a batch of Marketo leads did."""

    written: int = 0          # people upserted into the workspace
    left: int = 0             # known people whose owner was cleared (kept, out of the workspace)
    ignored: int = 0          # leads without an owner that were never in the workspace
    skipped: list[tuple[object, str]] = field(default_factory=list)  # (marketo id, reason)


class BadLead(ValueError):
    """A lead record that cannot be stored at all (e.g. no usable id)."""


def _text(value, limit: int) -> str:
    # Bulk extract files spell a missing value "null" (and so cannot tell it from the word).
    if value is None or value == "null":
        return ""
    return str(value).replace("\x00", "").strip()[:limit]


def _moment(value) -> datetime | None:
    """Marketo's ISO 8601 timestamps; anything unreadable is stored as unknown."""
    if not value:
        return None
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(
            str(value).strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def lead_row(lead: dict, *, now: datetime, run_id: int | None) -> tuple:
    """One Marketo lead (REST JSON or a bulk CSV row) as a row of ``_COLUMNS``.

    Marketo data is untrusted: values are trimmed to the column sizes, NUL bytes dropped, odd
    dates stored as unknown. Only a missing or non-numeric id makes the record unusable.
    """
    try:
        marketo_id = int(str(lead.get("id", "")).strip())
    except ValueError:
        raise BadLead(f"lead id {lead.get('id')!r} is not a number") from None
    if marketo_id <= 0:
        raise BadLead(f"lead id {marketo_id} is not positive")
    texts = [_text(lead.get(marketo_name), limit) for _, marketo_name, limit in _TEXT_FIELDS]
    texts[_OWNER_EMAIL - 1] = texts[_OWNER_EMAIL - 1].lower()
    qualifies = bool(texts[_OWNER - 1])
    return (marketo_id, *texts, _moment(lead.get("createdAt")), _moment(lead.get("updatedAt")),
            qualifies, "" if qualifies else Person.RemovedReason.OWNER_CLEARED, now, run_id)


@dataclass
class LeadRows:
    """A batch of Marketo leads checked and shaped as rows of ``_COLUMNS`` (``lead_rows``)."""

    read: int = 0                                        # leads in the batch, bad ones included
    rows: dict[int, tuple] = field(default_factory=dict)  # by Marketo id: the last version wins
    skipped: list[tuple[object, str]] = field(default_factory=list)  # (marketo id, reason)


def lead_rows(leads: Iterable[dict], *, run_id: int | None = None) -> LeadRows:
    """Check and shape a batch of leads without touching the database, so a sync can do it in
    the thread that reads them while another writes the batch before."""
    now = timezone.now()
    batch = LeadRows()
    for lead in leads:
        batch.read += 1
        try:
            row = lead_row(lead, now=now, run_id=run_id)
        except BadLead as error:
            batch.skipped.append((lead.get("id"), str(error)))
            continue
        batch.rows[row[0]] = row
    return batch


def person_apply_leads(leads: Iterable[dict], *, run_id: int | None = None) -> ApplyResult:
    """Upsert a batch of Marketo leads: qualifying ones join (or stay in) the workspace; a
    known person whose owner was cleared leaves it; unknown leads without an owner are ignored.

    One bad record never fails the batch: it is skipped and reported with its reason. Only the
    initial sync passes ``run_id``, stamping the people it saw.
    """
    return person_apply_rows(lead_rows(leads, run_id=run_id), with_run=run_id is not None)


def person_apply_rows(batch: LeadRows, *, with_run: bool, none_stored: bool = False
                      ) -> ApplyResult:
    """``person_apply_leads`` for a batch already shaped by ``lead_rows``; ``with_run``: it
    was shaped with a ``run_id`` (stamp ``seen_in_run``).

    ``none_stored``: the caller expects none of these leads to be stored yet (an initial sync
    into an empty table). On PostgreSQL the people are then COPYed straight into the table,
    without a temporary table or an upsert; should one be stored after all, the batch is
    upserted as usual, so the outcome is the same either way.
    """
    result = ApplyResult(skipped=list(batch.skipped))
    if not batch.rows:
        return result
    owned = [row for row in batch.rows.values() if row[_IN_WORKSPACE]]
    unowned = [row for row in batch.rows.values() if not row[_IN_WORKSPACE]]
    columns = _COLUMNS if with_run else _COLUMNS[:-1]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            loaded = none_stored and _copy_new_postgres(owned, columns)
            known, result.left = (0, 0) if loaded else _upsert_postgres(owned, unowned, columns)
        else:
            known, result.left = _upsert_orm(owned, unowned, columns)
        people_list_changed()
    result.written = len(owned)
    result.ignored = len(unowned) - known
    return result


def _copy_new_postgres(owned: list[tuple], columns: list[str]) -> bool:
    """COPY people straight into the table; False (and nothing written) if one is stored.

    Unowned leads are left out: unknown ones are never stored, and none is known.
    """
    from psycopg.errors import UniqueViolation

    width = len(columns)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(
                    f"COPY people_person ({', '.join(columns)}) FROM STDIN") as copy:
                for row in owned:
                    copy.write_row(row[:width])
    except UniqueViolation:
        return False
    return True


# ------------------------------------------------------------------ bulk export files (COPY)

# What str.strip() takes off, for btrim(): the same characters, so SQL trims as lead_row does.
_WHITESPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
# The timestamps SQL reads as lead_row does (Marketo writes "2024-05-01T12:00:00Z"); anything
# else that is not empty or "null" sends its row through lead_row.
_ISO_MOMENT = (r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
               r"(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$")


def person_apply_csv(records: bytes, header: list[str], *, run_id: int,
                     none_stored: bool = False, changed_only: bool = False
                     ) -> tuple[ApplyResult, int]:
    """Apply whole records of a bulk export CSV file (UTF-8 bytes without the header line; its
    field names in ``header``). On PostgreSQL: COPY them into a staging table as they are,
    then shape and upsert them in SQL, as ``person_apply_leads`` would with ``run_id``.

    Python never touches a field of an ordinary row. Rows SQL would not read exactly as
    ``lead_row`` does (an id that is not plain digits, an unusual timestamp, a non-ASCII owner
    email) go through ``lead_row`` after the others; records COPY refuses (a short row, a stray
    quote) make the whole batch go through it, as do other databases. Returns what applying
    did and how many records were read.

    ``changed_only`` (the incremental sync's exports): on PostgreSQL a person whose stored
    values all equal the record's is left as it is (``_upsert_incoming``); still counted.
    """
    from psycopg import Error as PsycopgError  # what a raw COPY raises
    fields = {name: f"f{index}" for index, name in enumerate(header)}
    staging = f"person_csv_{len(header)}"
    columns = ", ".join(fields.values())
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            return _apply_csv_parsed(records, header, run_id, none_stored)
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
                       f"(line bigint GENERATED ALWAYS AS IDENTITY, "
                       f"{', '.join(f'{column} text' for column in fields.values())})")
        try:
            with transaction.atomic():
                with cursor.cursor.copy(
                        f"COPY {staging} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(records.replace(b"\x00", b""))
                return _apply_staged(cursor, staging, fields, header, run_id, none_stored,
                                     changed_only)
        except (DatabaseError, PsycopgError):
            log.info("a bulk file's records are applied through lead_row: COPY or SQL refused "
                     "them", exc_info=True)
        finally:
            _temporary_empty(cursor, staging)
    return _apply_csv_parsed(records, header, run_id, none_stored)


def _apply_csv_parsed(records: bytes, header: list[str], run_id: int, none_stored: bool
                      ) -> tuple[ApplyResult, int]:
    """``person_apply_csv`` the slow way: each record parsed and checked in Python."""
    text = records.decode("utf-8", errors="replace")
    leads = [dict(zip(header, row, strict=False)) for row in csv.reader(io.StringIO(text))]
    batch = lead_rows(leads, run_id=run_id)
    return person_apply_rows(batch, with_run=True, none_stored=none_stored), batch.read


def _apply_staged(cursor, staging: str, fields: dict[str, str], header: list[str],
                  run_id: int, none_stored: bool, changed_only: bool = False
                  ) -> tuple[ApplyResult, int]:
    def text(marketo_name: str, limit: int) -> str:
        column = fields.get(marketo_name)
        if column is None:
            return "''"
        return (f"(CASE WHEN {column} IS NULL OR {column} = 'null' THEN '' "
                f"ELSE left(btrim({column}, %(ws)s), {limit}) END)")

    def moment(marketo_name: str) -> tuple[str, str]:
        """(the value, whether SQL reads it as lead_row does)."""
        column = fields.get(marketo_name)
        if column is None:
            return "NULL::timestamptz", "true"
        trimmed = f"btrim({column}, %(ws)s)"
        return (f"(CASE WHEN {trimmed} ~ %(iso)s THEN {trimmed}::timestamptz END)",
                f"({column} IS NULL OR {column} IN ('', 'null') OR {trimmed} ~ %(iso)s)")

    id_column = fields.get("id")
    if id_column is None:
        raise DataError("the file has no id column")
    owner = _COLUMNS.index("sfdc_owner_id") - 1
    texts = [text(marketo_name, limit) for _, marketo_name, limit in _TEXT_FIELDS]
    texts[_OWNER_EMAIL - 1] = f"lower({texts[_OWNER_EMAIL - 1]})"
    created, created_ok = moment("createdAt")
    updated, updated_ok = moment("updatedAt")
    email_column = fields.get(MARKETO_FIELDS["owner_email"])
    ascii_email = f"{email_column} !~ '[^\\x01-\\x7f]'" if email_column else "true"
    email_column = email_column or "NULL"
    # Plain digits, not all zeros, within bigint: anything else is lead_row's to judge.
    # (An empty id is NULL to COPY: coalesce, so the row is not lost between the two.)
    ordinary = (f"coalesce({id_column} ~ '^[0-9]{{1,18}}$' AND {id_column} !~ '^0+$' "
                f"AND {created_ok} AND {updated_ok} "
                f"AND ({email_column} IS NULL OR {ascii_email}), false)")
    shaped = (f"SELECT DISTINCT ON (marketo_id) * FROM (SELECT {id_column}::bigint AS marketo_id, "
              + ", ".join(f"{expression} AS {name}" for (name, _, _), expression
                          in zip(_TEXT_FIELDS, texts, strict=True))
              + f", {created} AS marketo_created_at, {updated} AS marketo_updated_at, "
              f"{texts[owner]} <> '' AS in_workspace, line "
              f"FROM {staging} WHERE {ordinary}) AS rows "
              "ORDER BY marketo_id, line DESC")  # the last version of a lead wins
    names = ", ".join(_COLUMNS)
    values = (f"marketo_id, {', '.join(name for name, _, _ in _TEXT_FIELDS)}, "
              "marketo_created_at, marketo_updated_at, in_workspace, "
              "CASE WHEN in_workspace THEN '' ELSE %(cleared)s END, %(now)s, %(run)s")
    params = {"ws": _WHITESPACE, "iso": _ISO_MOMENT, "now": timezone.now(), "run": run_id,
              "cleared": Person.RemovedReason.OWNER_CLEARED}
    cursor.execute(f"SELECT count(*), count(*) FILTER (WHERE NOT ({ordinary})) FROM {staging}",
                   params)
    read, odd = cursor.fetchone()
    result = ApplyResult()
    loaded = False
    if none_stored:
        # Straight into the table: unowned leads are never stored and none is known.
        try:
            with transaction.atomic():
                cursor.execute(f"WITH shaped AS ({shaped}), written AS (INSERT INTO "
                               f"people_person ({names}) SELECT {values} FROM shaped "
                               "WHERE in_workspace RETURNING 1) SELECT (SELECT count(*) FROM "
                               "written), (SELECT count(*) FROM shaped WHERE NOT in_workspace)",
                               params)
                result.written, result.ignored = cursor.fetchone()
                loaded = True
        except IntegrityError:
            pass  # one is stored after all: upsert
    if not loaded:
        _incoming_create(cursor)
        cursor.execute(f"INSERT INTO person_incoming ({names}) SELECT {values} "
                       f"FROM ({shaped}) AS shaped", params)
        cursor.execute("SELECT count(*) FILTER (WHERE in_workspace), "
                       "count(*) FILTER (WHERE NOT in_workspace) FROM person_incoming")
        result.written, unowned = cursor.fetchone()
        known, result.left = _upsert_incoming(cursor, _COLUMNS, bool(unowned),
                                              changed_only=changed_only)
        result.ignored = unowned - known
    if odd:
        cursor.execute(f"SELECT {', '.join(fields.values())} FROM {staging} "
                       f"WHERE NOT ({ordinary}) ORDER BY line", params)
        # COPY reads an empty field as NULL, the csv module as "".
        leads = [{name: "" if value is None else value
                  for name, value in zip(header, row, strict=True)} for row in cursor.fetchall()]
        extra = person_apply_rows(lead_rows(leads, run_id=run_id), with_run=True)
        result.written += extra.written
        result.left += extra.left
        result.ignored += extra.ignored
        result.skipped = extra.skipped
    people_list_changed()
    return result, read


def _upsert_postgres(owned: list[tuple], unowned: list[tuple], columns: list[str]
                     ) -> tuple[int, int]:
    """COPY the batch into a temporary table, then one upsert for people with an owner and one
    update for known people without (unknown unowned leads are never stored).

    Returns how many known people without an owner were updated, and how many of them left
    the workspace just now (the others had left before)."""
    width = len(columns)
    with connection.cursor() as cursor:
        _incoming_copy(cursor, columns, (row[:width] for row in owned + unowned))
        return _upsert_incoming(cursor, columns, bool(unowned))


# What a sync stamps on each row it writes, not Marketo's: a row that differs only there is
# the same person.
_STAMP_COLUMNS = frozenset({"synced_at", "seen_in_run"})


def _upsert_incoming(cursor, columns: list[str], any_unowned: bool, *,
                     changed_only: bool = False) -> tuple[int, int]:
    """Upsert the rows of ``person_incoming`` (see ``_upsert_postgres``) and empty it.

    ``changed_only``: a stored person whose values all equal the incoming row's (but for
    ``_STAMP_COLUMNS``) is not rewritten. Rewriting a row writes a new version of it with an
    entry in each of the table's indexes, even where nothing changed, and a burst's export
    holds the leads whose changes the pass has just applied from pages (it starts at the
    last of them, to the second)."""
    names = ", ".join(columns)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in columns[1:])
    if changed_only:
        compared = [name for name in columns[1:] if name not in _STAMP_COLUMNS]
        updates += (f" WHERE ({', '.join(f'people_person.{name}' for name in compared)}) "
                    f"IS DISTINCT FROM ({', '.join(f'EXCLUDED.{name}' for name in compared)})")
    cursor.execute(
        f"INSERT INTO people_person ({names}) SELECT {names} FROM person_incoming "
        f"WHERE in_workspace ON CONFLICT (marketo_id) DO UPDATE SET {updates}")
    known = left = 0
    if any_unowned:
        # "stored" is a second scan of the table: it shows the rows as they were before
        # this update, so RETURNING tells who was still in the workspace.
        sets = ", ".join(f"{name} = incoming.{name}" for name in columns[1:])
        cursor.execute(
            f"WITH updated AS (UPDATE people_person SET {sets} "
            "FROM person_incoming AS incoming JOIN people_person AS stored "
            "ON stored.marketo_id = incoming.marketo_id "
            "WHERE incoming.marketo_id = people_person.marketo_id "
            "AND NOT incoming.in_workspace RETURNING stored.in_workspace) "
            "SELECT count(*), count(*) FILTER (WHERE in_workspace) FROM updated")
        known, left = cursor.fetchone()
    _temporary_empty(cursor, "person_incoming")
    return known, left


def _temporary_empty(cursor, table: str) -> None:
    """Empty a temporary table that this connection fills again and again.

    TRUNCATE, not DELETE: autovacuum never visits temporary tables, so deleted rows stay as dead
    space that each later COPY appends after and each scan reads through. At 3.7 million leads
    a sync's staging table had grown to 1.2 GB, scanned for every 2 MB piece. On a temporary
    table TRUNCATE takes a lock nobody else waits for and swaps in an empty file.
    """
    cursor.execute(f"TRUNCATE {table}")


def _incoming_create(cursor) -> None:
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS person_incoming AS "
        f"SELECT {', '.join(_COLUMNS)} FROM people_person WITH NO DATA")


def _incoming_copy(cursor, columns: list[str], rows: Iterable[tuple]) -> None:
    """COPY rows into ``person_incoming``, a temporary table shaped like ``people_person``
    without its constraints (so a column may stay NULL)."""
    _incoming_create(cursor)
    with cursor.cursor.copy(f"COPY person_incoming ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _upsert_orm(owned: list[tuple], unowned: list[tuple], columns: list[str]
                ) -> tuple[int, int]:
    """The same upsert through the ORM, for SQLite."""
    unowned_ids = [row[0] for row in unowned]
    was_in_workspace = dict(Person.objects.filter(marketo_id__in=unowned_ids)
                            .values_list("marketo_id", "in_workspace")) if unowned_ids else {}
    people = [Person(**dict(zip(columns, row, strict=False)))
              for row in owned + [row for row in unowned if row[0] in was_in_workspace]]
    if people:
        Person.objects.bulk_create(people, batch_size=500, update_conflicts=True,
                                   unique_fields=["marketo_id"], update_fields=columns[1:])
    return len(was_in_workspace), sum(was_in_workspace.values())


def person_apply_changes(changes: dict[int, dict]) -> ApplyResult:
    """Merge field changes into stored people: ``{marketo id: {Marketo field: new value}}``,
    ``updatedAt`` among them, as Change Data Value activities report them.

    New values are checked as ``lead_row`` checks a whole lead; an unreadable ``updatedAt``
    keeps the stored one. Owner fields are refused: they decide workspace membership, so an
    owner change goes through ``person_apply_leads`` with the whole lead. People not stored,
    or deleted in Marketo, are left alone.
    """
    now = timezone.now()
    rows = [_change_row(marketo_id, values, now) for marketo_id, values in changes.items()]
    if not rows:
        return ApplyResult()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            in_workspace = _merge_postgres(rows)
        else:
            in_workspace = _merge_orm(rows)
        people_list_changed()
    return ApplyResult(written=sum(in_workspace))


def _change_row(marketo_id: int, values: dict, now: datetime) -> tuple:
    """A row of ``_CHANGE_COLUMNS``, None where the stored value stays."""
    if OWNER_MARKETO_FIELDS & values.keys():
        raise ValueError("an owner change needs the whole lead: use person_apply_leads")
    return (marketo_id,
            *(_text(values[marketo_name], limit) if marketo_name in values else None
              for _, marketo_name, limit in _CHANGEABLE),
            _moment(values.get("updatedAt")), now)


def _merge_postgres(rows: list[tuple]) -> list[bool]:
    """COPY the changes into the temporary table and merge them in one update (a checked new
    value is never NULL, so NULL means unchanged). Returns who is in the workspace."""
    sets = ", ".join(f"{name} = COALESCE(incoming.{name}, people_person.{name})"
                     for name in _CHANGE_COLUMNS[1:])
    with connection.cursor() as cursor:
        _incoming_copy(cursor, _CHANGE_COLUMNS, rows)
        cursor.execute(
            f"UPDATE people_person SET {sets} FROM person_incoming AS incoming "
            "WHERE incoming.marketo_id = people_person.marketo_id "
            "AND people_person.removed_reason <> %s RETURNING people_person.in_workspace",
            [Person.RemovedReason.DELETED])
        in_workspace = [row[0] for row in cursor.fetchall()]
        _temporary_empty(cursor, "person_incoming")
    return in_workspace


def _merge_orm(rows: list[tuple]) -> list[bool]:
    """The same merge through the ORM, for SQLite."""
    by_id = {row[0]: row for row in rows}
    people = list(Person.objects.filter(marketo_id__in=by_id)
                  .exclude(removed_reason=Person.RemovedReason.DELETED))
    for person in people:
        for name, value in zip(_CHANGE_COLUMNS[1:], by_id[person.marketo_id][1:], strict=True):
            if value is not None:
                setattr(person, name, value)
    Person.objects.bulk_update(people, _CHANGE_COLUMNS[1:], batch_size=500)
    return [person.in_workspace for person in people]


def person_remove_deleted(marketo_ids: Iterable[int]) -> int:
    """People whose leads were deleted in Marketo leave the workspace; returns how many."""
    removed = Person.objects.filter(marketo_id__in=list(marketo_ids), in_workspace=True).update(
        in_workspace=False, removed_reason=Person.RemovedReason.DELETED,
        synced_at=timezone.now())
    if removed:
        people_list_changed()
    return removed


def person_remove_unseen(run_id: int, started_at: datetime) -> int:
    """After a complete initial sync: people it did not see are no longer in Marketo.

    People the incremental sync wrote since the run started are left alone: they may be leads
    created after their window was exported.
    """
    removed = (Person.objects.filter(in_workspace=True, synced_at__lt=started_at)
               .exclude(seen_in_run=run_id)
               .update(in_workspace=False, removed_reason=Person.RemovedReason.DELETED,
                       synced_at=timezone.now()))
    if removed:
        people_list_changed()
    return removed


# Below this many rows a bulk load drops the secondary indexes and rebuilds them at the end
# (or, while the sync waits for Marketo anyway, during the load: syncing/mirror/initial.py):
# building an index once is far cheaper than updating it per row, and nobody is browsing an
# empty workspace. A workspace that is already full keeps its indexes while it resyncs.
BULK_LOAD_MAX_EXISTING_ROWS = 1000


def person_bulk_load_begin() -> list[str]:
    """Before loading an (almost) empty table: drop its secondary indexes (PostgreSQL).

    Returns the statements that recreate them, for ``person_bulk_load_end``; empty when
    nothing was dropped. The unique Marketo id index stays: upserts rely on it.
    """
    if connection.vendor != "postgresql" or Person.objects.count() > BULK_LOAD_MAX_EXISTING_ROWS:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes "
                       "WHERE tablename = 'people_person' AND indexdef NOT LIKE 'CREATE UNIQUE%%'")
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    return [definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
            for _, definition in indexes]


# Indexes rebuilt at once after a bulk load, each by a connection of its own.
INDEX_BUILDERS = 2


def person_bulk_load_end(index_definitions: list[str], *, analyze: bool = True) -> None:
    """Rebuild the indexes dropped by ``person_bulk_load_begin`` (those not rebuilt yet:
    ``person_indexes_build``) and, unless ``analyze`` is false (the caller refreshed them
    during the load: ``person_statistics_refresh``), refresh the planner's statistics.

    Building an index also sets the table's row count for the planner (``reltuples``)."""
    if connection.vendor != "postgresql":
        return
    person_indexes_build(index_definitions)
    if analyze:
        person_statistics_refresh()


def person_statistics_refresh() -> None:
    """ANALYZE people (PostgreSQL): a sample of 30,000 rows, so about as long at 100,000
    people as at 10 million. It blocks no writes to the table (but an index build waits)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE people_person")


def person_index_is_costly(definition: str) -> bool:
    """Whether building the index (from ``person_bulk_load_begin``) costs far more than its
    B-trees: the trigram index takes about as long to build as all the others together."""
    return " USING gin " in definition


def person_indexes_build(index_definitions: list[str]) -> None:
    """Build indexes dropped by ``person_bulk_load_begin``, possibly before the load is over:
    rows written after them update them as usual (the build blocks writes to the table while
    it runs). Building one that exists is a no-op.

    Outside a transaction, ``INDEX_BUILDERS`` connections build them side by side (the trigram
    index, the longest, first); inside one, the others could not see the rows, so this
    connection builds them in turn.
    """
    if connection.vendor != "postgresql":
        return
    definitions = sorted(index_definitions,
                         key=lambda definition: not person_index_is_costly(definition))
    if connection.in_atomic_block or len(definitions) < 2:
        for definition in definitions:
            _index_build(definition)
    else:
        with ThreadPoolExecutor(INDEX_BUILDERS, thread_name_prefix="people-index") as pool:
            list(pool.map(_index_build_alone, definitions))


def _index_build(definition: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute(definition)


def _index_build_alone(definition: str) -> None:
    """``_index_build`` in a pool thread, on its own connection, closed after."""
    try:
        _index_build(definition)
    finally:
        connection.close()


# --------------------------------------------------------------------------------- list views

VIEW_NAME_MAX = 100


def saved_view_create(*, owner, name: str, query: str, shared: bool = False) -> SavedView:
    """Save the people list's filters and sort (``query``) under a name. Only admins share a
    view; saving under a name the owner already used replaces that view's list."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give the view a name.")]})
    if len(name) > VIEW_NAME_MAX:
        raise ValidationError({"name": [
            ngettext("At most %(count)s character.", "At most %(count)s characters.",
                     VIEW_NAME_MAX) % {"count": VIEW_NAME_MAX}]})
    if shared and not owner.is_admin:
        raise ValidationError({"shared": [_("Only admins share views.")]})
    view, _created = SavedView.objects.update_or_create(
        owner=owner, name=name, defaults={"query": query, "shared": shared})
    return view


def saved_view_delete(view: SavedView, *, by) -> None:
    """Delete a saved view: its owner or an admin may."""
    if view.owner_id != by.pk and not by.is_admin:
        raise PermissionDenied(_("Only its owner (or an admin) deletes a view."))
    view.delete()


def list_columns_set(user, columns: tuple[str, ...]) -> None:
    """Remember the people list's columns for ``user`` (known keys, in the list's order)."""
    ListColumns.objects.update_or_create(user=user, defaults={"columns": ",".join(columns)})
    key = list_columns_key(user)
    cache_delete_quietly(key)
    transaction.on_commit(lambda: cache_delete_quietly(key))
