"""Planner statistics for "is this address suppressed?" (PostgreSQL only).

The planner ignores the statistics of partial indexes, so without these it guesses that an
address matches 0.5% of the unsubscribes in force, and for the people list's per-row probe
picks a sequential scan it expects to stop early (seconds at 50,000 unsubscribes, instead of
one BitmapOr of the two indexes: microseconds).
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE STATISTICS IF NOT EXISTS unsubscribe_address_stats "
                              "ON (UPPER(email::text)) FROM unsubscribes_unsubscribe")
        schema_editor.execute("ANALYZE unsubscribes_unsubscribe")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP STATISTICS IF EXISTS unsubscribe_address_stats")


class Migration(migrations.Migration):

    dependencies = [
        ("unsubscribes", "0002_one_in_force_and_address_index"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
