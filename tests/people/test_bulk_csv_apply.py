"""A bulk export file's records applied whole (COPY + SQL on PostgreSQL) give exactly what
applying the same leads one by one through lead_row gives."""

import csv
import io
import logging

import pytest
from django.db import connection

from people.models import Person
from people.services import (
    SYNCED_MARKETO_FIELDS,
    person_apply_csv,
    person_apply_leads,
)
from syncing.mirror.initial import _records_end

pytestmark = pytest.mark.django_db

OWNER = "005000000000001AAA"
STORED = ["marketo_id", "first_name", "last_name", "company", "title", "email", "phone",
          "sfdc_owner_id", "owner_email", "owner_first_name", "marketo_created_at",
          "marketo_updated_at", "in_workspace", "removed_reason", "seen_in_run"]


def lead(marketo_id, **fields):
    values = {"id": marketo_id, "firstName": "Ada", "lastName": "Lovelace",
              "company": "Analytical", "email": "ada@example.com", "sfdcLeadOwnerId": OWNER,
              "leadOwnerEmailAddress": "Owner@Example.com", "leadOwnerFirstName": "Olly",
              "createdAt": "2024-05-01T12:00:00Z", "updatedAt": "2024-06-01T08:30:00Z"}
    return values | fields


# Every way a record may differ from the plain case, as Marketo's files spell them.
TRICKY = [
    lead("1"),
    lead("2", firstName="null", title="null", phone=""),
    lead("3", firstName=" \t\u00a0Padded\u2003 ", company="Nul\x00Byte"),
    lead("4", company="C" * 400, email="x" * 300),
    lead("5", sfdcLeadOwnerId="", leadOwnerEmailAddress="null"),  # unknown, no owner
    lead("6", leadOwnerEmailAddress="\u00c9VA@Example.com"),  # non-ASCII: lead_row's lower()
    lead("twelve"), lead(""), lead("0"), lead("-4"), lead(" 7 "), lead("+8"),
    lead("9", createdAt="2024-05-01", updatedAt="last Tuesday"),
    lead("10", createdAt="2024-05-01T12:00:00.123456+02:00", updatedAt="null"),
    lead("11", title='Head of "R&D",\nEurope'),
    lead("12", title="first version"), lead("12", title="last version wins"),
    lead("13", firstName="\u00e9l\u00e8ve \U0001f600"),
]


def as_csv(leads):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for values in leads:
        writer.writerow([values.get(name, "null") for name in SYNCED_MARKETO_FIELDS])
    return out.getvalue()


def stored():
    return list(Person.objects.order_by("marketo_id").values_list(*STORED))


def outcome_one_by_one(text, before=()):
    Person.objects.all().delete()
    if before:
        person_apply_leads(before, run_id=1)
    rows = csv.reader(io.StringIO(text))
    result = person_apply_leads([dict(zip(SYNCED_MARKETO_FIELDS, row, strict=False))
                                 for row in rows], run_id=1)
    return result, stored()


def outcome_whole(text, before=(), none_stored=False):
    Person.objects.all().delete()
    if before:
        person_apply_leads(before, run_id=1)
    result, read = person_apply_csv(text.encode(), SYNCED_MARKETO_FIELDS, run_id=1,
                                    none_stored=none_stored)
    return result, read, stored()


def same(expected, got):
    assert (got.written, got.left, got.ignored) == (expected.written, expected.left,
                                                    expected.ignored)
    assert sorted(map(str, got.skipped)) == sorted(map(str, expected.skipped))


@pytest.mark.parametrize("none_stored", [False, True])
def test_a_file_of_tricky_records_is_stored_as_lead_row_stores_it(none_stored, caplog):
    text = as_csv(TRICKY)
    expected, people = outcome_one_by_one(text)

    with caplog.at_level(logging.INFO, logger="people.services"):
        result, read, whole = outcome_whole(text, none_stored=none_stored)

    assert whole == people
    same(expected, result)
    assert read == len(TRICKY)
    assert {marketo_id for marketo_id, _ in result.skipped} == {"twelve", "", "0", "-4"}
    by_id = {row[0]: row for row in whole}
    assert by_id[12][STORED.index("title")] == "last version wins"
    assert by_id[3][STORED.index("first_name")] == "Padded"
    assert "through lead_row" not in caplog.text  # COPY and SQL took the file


def test_known_people_whose_owner_was_cleared_leave_the_workspace():
    before = [lead("1"), lead("2"), lead("3", sfdcLeadOwnerId="")]
    text = as_csv([lead("1", sfdcLeadOwnerId="null"), lead("2", title="Still owned"),
                   lead("4", sfdcLeadOwnerId="")])
    expected, people = outcome_one_by_one(text, before)

    # none_stored is only a hint: a stored lead makes the batch an ordinary upsert.
    result, _, whole = outcome_whole(text, before, none_stored=True)

    assert whole == people
    same(expected, result)
    assert (result.written, result.left, result.ignored) == (1, 1, 1)


def test_a_date_sql_cannot_read_sends_the_batch_through_lead_row(caplog):
    text = as_csv([lead("1"), lead("2", createdAt="2024-02-30T00:00:00Z")])
    expected, people = outcome_one_by_one(text)

    with caplog.at_level(logging.INFO, logger="people.services"):
        result, read, whole = outcome_whole(text)

    assert whole == people
    same(expected, result)
    assert read == 2
    assert "through lead_row" in caplog.text or connection.vendor != "postgresql"
    assert dict((row[0], row[STORED.index("marketo_created_at")]) for row in whole)[2] is None


def test_a_short_record_sends_the_batch_through_lead_row():
    text = as_csv([lead("1")]) + "2,Short\n"
    expected, people = outcome_one_by_one(text)

    result, _, whole = outcome_whole(text)

    assert whole == people
    same(expected, result)


def test_a_piece_of_a_file_ends_after_a_whole_record():
    text = as_csv([lead("1"), lead("2", title="two\nlines"), lead("3")]).encode()
    inside_quotes = text.index(b"two\n") + 4

    assert _records_end(text[:inside_quotes]) == text.index(b"2,")
    assert _records_end(text) == len(text)
    assert _records_end(text[:5]) == 0


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the staging tables are PostgreSQL's (COPY); elsewhere records go "
                           "through lead_row")
def test_the_temporary_tables_do_not_grow_from_one_piece_to_the_next():
    """Autovacuum never visits temporary tables: rows deleted from them would stay as dead
    space that every later piece appends after and scans through."""
    def sizes():
        with connection.cursor() as cursor:
            cursor.execute("SELECT relname, pg_relation_size(oid) FROM pg_class "
                           "WHERE relpersistence = 't' AND relkind = 'r' "
                           "AND pg_table_is_visible(oid) ORDER BY relname")
            return dict(cursor.fetchall())

    piece = as_csv([lead(str(marketo_id)) for marketo_id in range(1, 501)]).encode()
    person_apply_csv(piece, SYNCED_MARKETO_FIELDS, run_id=1, none_stored=True)
    person_apply_csv(piece, SYNCED_MARKETO_FIELDS, run_id=1)  # an upsert: person_incoming

    tables = sizes()
    assert {"person_incoming", f"person_csv_{len(SYNCED_MARKETO_FIELDS)}"} <= tables.keys()
    assert set(tables.values()) == {0}
    assert Person.objects.count() == 500


def test_changed_only_rewrites_only_the_people_whose_values_changed():
    """The incremental sync's exports: a person stored exactly as the record says keeps its
    row (on PostgreSQL not even its sync stamps move); the others are written as ever, so the
    stored values are those of a plain upsert."""
    before = [lead("1"), lead("2"), lead("3", createdAt="null"), lead("4", updatedAt="null"),
              lead("5", sfdcLeadOwnerId="")]
    text = as_csv([lead("1"), lead("2", title="Changed"), lead("3"),
                   lead("4", updatedAt="null"), lead("5", sfdcLeadOwnerId=""), lead("6")])
    _, _, plain = outcome_whole(text, before)
    Person.objects.all().delete()
    person_apply_leads(before, run_id=1)
    stamps = dict(Person.objects.values_list("marketo_id", "synced_at"))

    result, read = person_apply_csv(text.encode(), SYNCED_MARKETO_FIELDS, run_id=2,
                                    changed_only=True)

    without_run = STORED.index("seen_in_run")
    assert ([row[:without_run] for row in stored()]
            == [row[:without_run] for row in plain])
    assert (result.written, result.left, result.ignored, read) == (5, 0, 1, 6)
    runs = dict(Person.objects.values_list("marketo_id", "seen_in_run"))
    synced = dict(Person.objects.values_list("marketo_id", "synced_at"))
    assert runs[2] == runs[3] == runs[6] == 2  # changed (3: a date where there was none), new
    assert synced[2] > stamps[2]
    if connection.vendor == "postgresql":  # elsewhere the batch is upserted whole
        assert runs[1] == runs[4] == 1  # the same values (4: with no date on either side)
        assert synced[1] == stamps[1] and synced[4] == stamps[4]
