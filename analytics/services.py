"""Writes of the analytics: recounting, from the raw rows, what is kept as things are recorded —
each email's first open, click, reply and bounce (``emails.events`` keeps them in the event's
transaction), the email behind each unsubscribe by link or bounce, and the rollups the reports
read (``analytics.rollups``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Subquery

from analytics.rollups import rollups_rebuild
from emails.events import OUTCOME_COLUMNS
from emails.models import EmailEvent, SalesEmail
from unsubscribes.models import Unsubscribe

SLACK = timedelta(minutes=1)
#: Emails per transaction of a rebuild.
BATCH = 20_000


@dataclass
class Rebuilt:
    emails: int = 0
    changed: int = 0  # emails whose outcome times were not what their events say
    unsubscribes_linked: int = 0
    rollup_days: int = 0  # UTC days whose rollups were recounted


def analytics_rebuild(batch: int = BATCH) -> Rebuilt:
    """Recount every email's outcome times from its events (in batches of ``batch`` emails,
    one UPDATE each, writing only the emails whose times differ), and link each unsubscribe
    by link or bounce that names no email to the email that caused it (its person's latest
    unsubscribe, bounce or complaint event up to the moment it was recorded, with a minute's
    slack); then recount every rollup (``analytics.rollups``) from the raw rows.
    ``manage.py analytics_rebuild``."""
    rebuilt = Rebuilt()
    bounds = SalesEmail.objects.aggregate(first=Min("pk"), last=Max("pk"))
    if bounds["first"] is not None:
        statement = _recount_sql()
        for start in range(bounds["first"], bounds["last"] + 1, batch):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [start, start + batch])
                rebuilt.changed += cursor.rowcount
            rebuilt.emails += SalesEmail.objects.filter(pk__gte=start,
                                                        pk__lt=start + batch).count()
    causes = {Unsubscribe.Source.LINK: [EmailEvent.Kind.UNSUBSCRIBED],
              Unsubscribe.Source.BOUNCE: [EmailEvent.Kind.BOUNCED, EmailEvent.Kind.COMPLAINED]}
    for source, kinds in causes.items():
        # The link's event is written just after its unsubscribe: a minute of slack.
        cause = (EmailEvent.objects.filter(email__person=OuterRef("person"), kind__in=kinds,
                                           at__lte=OuterRef("created_at") + SLACK)
                 .order_by("-at", "-pk").values("email")[:1])
        unlinked = Unsubscribe.objects.filter(Exists(cause), source=source,
                                              sales_email__isnull=True)
        rebuilt.unsubscribes_linked += unlinked.update(sales_email=Subquery(cause))
    rebuilt.rollup_days = rollups_rebuild()
    return rebuilt


def _recount_sql() -> str:
    """One UPDATE for a range of email ids: each email's first event of each outcome (NULL
    without one), written only where it differs. Plain SQL that PostgreSQL and SQLite (3.39+)
    both run: Django's ORM cannot update from an aggregate."""
    quote = connection.ops.quote_name
    email, event = quote(SalesEmail._meta.db_table), quote(EmailEvent._meta.db_table)
    firsts = ", ".join(f"MIN(CASE WHEN ev.kind = '{kind}' THEN ev.at END) AS {column}"
                       for kind, column in OUTCOME_COLUMNS.items())
    kinds = ", ".join(f"'{kind}'" for kind in OUTCOME_COLUMNS)
    assignments = ", ".join(f"{column} = f.{column}" for column in OUTCOME_COLUMNS.values())
    differs = " OR ".join(f"{email}.{column} IS DISTINCT FROM f.{column}"
                          for column in OUTCOME_COLUMNS.values())
    return (f"UPDATE {email} SET {assignments} FROM ("
            f"SELECT e.id AS email_id, {firsts} FROM {email} e "
            f"LEFT JOIN {event} ev ON ev.email_id = e.id AND ev.kind IN ({kinds}) "
            f"WHERE e.id >= %s AND e.id < %s GROUP BY e.id) f "
            f"WHERE {email}.id = f.email_id AND ({differs})")
