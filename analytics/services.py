"""Writes of the analytics: recounting, from the raw rows, what is kept as things are recorded —
each email's first open, click, reply and bounce (``emails.events`` keeps them in the event's
transaction), and the email behind each unsubscribe by link or bounce."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef, Subquery

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


def analytics_rebuild(batch: int = BATCH) -> Rebuilt:
    """Recount every email's outcome times from its events (in batches of ``batch`` emails,
    one transaction each: one aggregate over their events, and an UPDATE of the emails whose
    times differ), and link each unsubscribe by link or bounce that names no email to the
    email that caused it (its person's latest unsubscribe, bounce or complaint event up to the
    moment it was recorded, with a minute's slack). ``manage.py analytics_rebuild``."""
    rebuilt = Rebuilt()
    columns = list(OUTCOME_COLUMNS.values())
    bounds = SalesEmail.objects.aggregate(first=Min("pk"), last=Max("pk"))
    if bounds["first"] is not None:
        for start in range(bounds["first"], bounds["last"] + 1, batch):
            ids = {"pk__gte": start, "pk__lt": start + batch}
            with transaction.atomic():
                counted: dict[int, dict] = defaultdict(lambda: dict.fromkeys(columns))
                for email_id, kind, first in (
                        EmailEvent.objects.filter(kind__in=OUTCOME_COLUMNS,
                                                  email_id__gte=start, email_id__lt=start + batch)
                        .values_list("email_id", "kind").annotate(first=Min("at")).order_by()):
                    counted[email_id][OUTCOME_COLUMNS[kind]] = first
                changed = [SalesEmail(pk=pk, **counted[pk])
                           for pk, *kept in SalesEmail.objects.filter(**ids).select_for_update()
                           .values_list("pk", *columns).order_by()
                           if dict(zip(columns, kept, strict=True)) != counted[pk]]
                SalesEmail.objects.bulk_update(changed, columns, batch_size=1000)
            rebuilt.emails += SalesEmail.objects.filter(**ids).count()
            rebuilt.changed += len(changed)
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
