"""``manage.py analytics_rebuild``: after a mixed run (opens, clicks, replies, a late event
older than the stored one, bounces, complaints, unsubscribes by link) the figures kept as
events are recorded equal a recount from the raw rows."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from factories import SalesEmailFactory, UserFactory

from analytics.params import Period
from analytics.selectors import EMAIL_GROUPS, email_report
from emails.events import EventIn, events_apply, unsubscribe_by_link
from emails.models import SalesEmail
from unsubscribes.models import Unsubscribe

pytestmark = pytest.mark.django_db
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
COLUMNS = ("opened_at", "clicked_at", "replied_at", "bounced_at")


def test_kept_figures_equal_a_recount_after_a_mixed_run():
    sellers = UserFactory.create_batch(2)
    emails = [SalesEmailFactory(sender=sellers[n % 2], sent_at=AT + timedelta(hours=n))
              for n in range(12)]
    plan = {0: ["opened", "opened", "clicked"], 1: ["opened", "replied"], 2: ["bounced"],
            3: ["complained"], 4: ["clicked", "opened", "opened"], 5: ["delivered", "opened"],
            6: ["replied"], 7: ["opened"] * 4}
    for index, kinds in plan.items():
        events_apply([EventIn(email=emails[index], kind=kind, source="provider",
                              at=AT + timedelta(hours=index, minutes=10 + n))
                      for n, kind in enumerate(kinds)])
    # A provider reports an earlier open late: it becomes the first.
    events_apply([EventIn(email=emails[7], kind="opened", source="provider",
                          at=AT + timedelta(hours=7, minutes=1))])
    unsubscribe_by_link(emails[8])
    period = Period(AT.date(), AT.date() + timedelta(days=1), UTC)
    kept = {group: email_report(period, group).as_dict() for group in EMAIL_GROUPS}
    kept_columns = list(SalesEmail.objects.order_by("pk").values_list(*COLUMNS))
    assert kept["sender"]["totals"]["opened"] == 5
    assert kept["sender"]["totals"]["unsubscribed"] == 3
    assert kept_columns[7][0] == AT + timedelta(hours=7, minutes=1)

    SalesEmail.objects.update(**dict.fromkeys(COLUMNS))
    Unsubscribe.objects.update(sales_email=None)
    out = StringIO()
    call_command("analytics_rebuild", stdout=out)

    assert "Recounted 12 emails (7 corrected), linked 3 unsubscribes" in out.getvalue()
    assert list(SalesEmail.objects.order_by("pk").values_list(*COLUMNS)) == kept_columns
    assert {group: email_report(period, group).as_dict() for group in EMAIL_GROUPS} == kept
    again = StringIO()
    call_command("analytics_rebuild", stdout=again)
    assert "Recounted 12 emails (0 corrected), linked 0 unsubscribes" in again.getvalue()
