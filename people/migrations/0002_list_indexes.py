"""Indexes that keep the people list fast at a million people (PostgreSQL only).

Every sort order of the list has a partial index over the workspace ending in ``id``, so a
keyset page (``WHERE (key, id) > (...) ORDER BY key, id LIMIT n``) is one index range scan in
either direction. Search is a trigram index on the same expression ``people.selectors`` matches
with ``ILIKE``. They are raw SQL, not ``Meta.indexes``: trigram operator classes and the
``COALESCE`` sort key are PostgreSQL's, and SQLite (development) does not need them.

Built ``CONCURRENTLY`` so applying this to a full table does not block the sync's writes.
"""

from django.db import migrations

WORKSPACE = "WHERE in_workspace"
SEARCH_DOCUMENT = "(first_name || ' ' || last_name || ' ' || email || ' ' || company)"
# Must match people.selectors.NEVER as PostgreSQL sees it.
UPDATED_KEY = "(COALESCE(marketo_updated_at, '1970-01-01 00:00:00+00'::timestamptz))"

INDEXES = {
    "person_search_trgm": f"USING gin ({SEARCH_DOCUMENT} gin_trgm_ops) {WORKSPACE}",
    "person_sort_name": f"(last_name, first_name, id) {WORKSPACE}",
    "person_sort_company": f"(company, id) {WORKSPACE}",
    "person_sort_title": f"(title, id) {WORKSPACE}",
    "person_sort_email": f"(email, id) {WORKSPACE}",
    "person_sort_owner": f"(owner_last_name, owner_first_name, id) {WORKSPACE}",
    "person_sort_updated": f"({UPDATED_KEY}, id) {WORKSPACE}",
    # A seller's default view: their own people by name.
    "person_owner_name": f"(owner_email, last_name, first_name, id) {WORKSPACE}",
    # The company filter (case-insensitive, as Django's iexact compares).
    "person_company_upper": f"(UPPER(company::text), last_name, first_name, id) {WORKSPACE}",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON people_person {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("people", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
