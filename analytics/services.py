"""Writes of the analytics: recounting, from the raw rows, what is kept as things are recorded —
each email's first open, click, reply and bounce (``emails.events`` keeps them in the event's
transaction), and the email behind each unsubscribe by link or bounce."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef, Subquery

from emails.events import OUTCOME_COLUMNS, outcome_times_recount
from emails.models import EmailEvent, SalesEmail
from unsubscribes.models import Unsubscribe

SLACK = timedelta(minutes=1)
#: Emails per transaction of a rebuild.
BATCH = 20_000


@dataclass
class Rebuilt:
    emails: int = 0
    unsubscribes_linked: int = 0


def analytics_rebuild(batch: int = BATCH) -> Rebuilt:
    """Recount every email's outcome times from its events (in batches of ``batch`` emails,
    one transaction each), and link each unsubscribe by link or bounce that names no email to
    the email that caused it (its person's latest unsubscribe, bounce or complaint event up to
    the moment it was recorded, with a minute's slack). ``manage.py analytics_rebuild``."""
    rebuilt = Rebuilt()
    bounds = SalesEmail.objects.aggregate(first=Min("pk"), last=Max("pk"))
    if bounds["first"] is not None:
        for start in range(bounds["first"], bounds["last"] + 1, batch):
            emails = SalesEmail.objects.filter(pk__gte=start, pk__lt=start + batch)
            with transaction.atomic():
                for kind, column in OUTCOME_COLUMNS.items():
                    outcome_times_recount(emails, column, kind)
            rebuilt.emails += emails.count()
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
    return rebuilt
