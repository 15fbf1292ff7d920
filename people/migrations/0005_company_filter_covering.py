"""The company filter's index also holds ``company`` and ``owner_email`` (PostgreSQL only).

The people API counts a filtered list exactly below a million matches (issue #27). PostgreSQL
only counts from an index alone when every column the query names is in it, and the filter
names ``company`` inside ``UPPER(company)``: with the key alone, counting the 400,000 people
of one company among ten million walked the whole company sort index instead (3.4 s). With
``company`` included the count reads only that company's entries, and with ``owner_email``
too a seller's own people of one company are counted the same way. It replaces
``person_company_upper`` of 0002, whose key it keeps, so the list's pages are read as before.

Built ``CONCURRENTLY`` so applying this to a full table does not block the sync's writes.
"""

from django.db import migrations

WORKSPACE = "WHERE in_workspace"
INDEX = ("person_company_filter",
         f"(UPPER(company::text), last_name, first_name, id) INCLUDE (company, owner_email) "
         f"{WORKSPACE}")
REPLACES = ("person_company_upper",
            f"(UPPER(company::text), last_name, first_name, id) {WORKSPACE}")


def _swap(schema_editor, new, old):
    if schema_editor.connection.vendor != "postgresql":
        return
    name, definition = new
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON people_person {definition}")
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {old[0]}")


def forwards(apps, schema_editor):
    _swap(schema_editor, INDEX, REPLACES)


def backwards(apps, schema_editor):
    _swap(schema_editor, REPLACES, INDEX)


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("people", "0004_saved_views_and_columns"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
