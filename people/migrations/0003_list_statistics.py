"""Planner statistics for the people list, and an index for the email filter (PostgreSQL only).

The planner ignores the statistics of partial indexes, so without these expression statistics
it guesses how many people a search, a company or an email matches, badly: 0.16% for "smith"
(which matches 3%), 0.5% for one email address. Then it picks the wrong plan (reading every
match of a common search through the trigram index; walking the whole name index for one
email). With them, the estimates are close and the plans right.
"""

from django.db import migrations

WORKSPACE = "WHERE in_workspace"
SEARCH_DOCUMENT = "(first_name || ' ' || last_name || ' ' || email || ' ' || company)"

# The email filter (case-insensitive, as Django's iexact compares).
EMAIL_INDEX = ("person_email_upper", f"(UPPER(email::text)) {WORKSPACE}")
STATISTICS = {
    "person_search_stats": SEARCH_DOCUMENT,
    "person_company_stats": "(UPPER(company::text))",
    "person_email_stats": "(UPPER(email::text))",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    name, definition = EMAIL_INDEX
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON people_person {definition}")
    for name, expression in STATISTICS.items():
        schema_editor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {name} ON ({expression}) FROM people_person")
        # Pattern estimates use the histogram only past 100 entries (the default target
        # leaves 99 usable), and 1,000 entries resolve patterns matching a few percent.
        schema_editor.execute(f"ALTER STATISTICS {name} SET STATISTICS 1000")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {EMAIL_INDEX[0]}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("people", "0002_list_indexes"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
