"""``manage.py analytics_rebuild``: after a mixed run (opens, clicks, replies, a late event
older than the stored one, bounces, complaints, unsubscribes by link; emails sent, calls
logged, tasks completed) the figures kept as things are recorded — each email's outcome times
and the reports' rollups — equal a recount from the raw rows."""

from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from factories import EmailTemplateFactory, PersonFactory, SalesEmailFactory, UserFactory

from activities.models import CallOutcome
from activities.services import CallInput, calls_log
from analytics.models import ActivityRollup, EmailRollup, OpenTaskRollup
from analytics.params import Period
from analytics.selectors import (
    ACTIVITY_GROUPS,
    EMAIL_GROUPS,
    activity_report,
    email_report,
    reports_count,
)
from emails.events import EventIn, events_apply, unsubscribe_by_link
from emails.models import SalesEmail
from emails.sending import emails_send_due
from emails.services import queue_email
from reminders.services import task_complete, task_create, task_delete, task_reopen
from syncing.models import SyncSettings
from unsubscribes.models import Unsubscribe

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
COLUMNS = ("opened_at", "clicked_at", "replied_at", "bounced_at")


@pytest.mark.django_db
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


def _rollups() -> tuple[list, list]:
    """Every rollup row's figures (ids aside), sorted."""
    emails = sorted(EmailRollup.objects.values_list(
        "hours", "start", "sender_id", "template_id", "campaign_id", "step_id", "sent", "opened",
        "clicked", "replied", "bounced", "unsubscribed"))
    activity = sorted(ActivityRollup.objects.values_list("hours", "start", "user_id", "measure",
                                                         "outcome", "n"))
    open_tasks = sorted(OpenTaskRollup.objects.values_list("due_date", "user_id", "n"))
    return emails, activity, open_tasks


@pytest.mark.django_db(transaction=True)
def test_rollups_equal_a_recount_after_a_mixed_run(mailbox, monkeypatch):
    """Emails sent over SMTP and made by hand, their events (repeats, a reply reported late
    and earlier, bounces, a complaint, an unsubscribe by link), calls, and tasks completed,
    reopened and deleted: the rollups kept along the way equal a recount from the raw rows,
    and every report read from them equals the same report counted from the raw rows."""
    from emails.tasks import emails_send_task

    monkeypatch.setattr(emails_send_task, "apply_async", lambda *args, **options: None)
    sync_settings = SyncSettings.load()  # no Marketo here: its check would hold every email
    sync_settings.marketo_unsubscribe_check = False
    sync_settings.save()
    ava, ben = UserFactory(time_zone="UTC"), UserFactory(time_zone="Europe/Paris")
    template = EmailTemplateFactory(owner=ava)
    for n in range(3):
        queue_email(person=PersonFactory(), sender=ava, subject="Hello", body="Hi there",
                    template=template if n else None)
    assert emails_send_due().sent == 3
    for hours in (1, 24):  # sending counted them, in its hour and day
        assert sum(row[6] for row in _rollups()[0] if row[0] == hours) == 3
    now = timezone.now()
    emails = [*SalesEmail.objects.order_by("pk"),
              *[SalesEmailFactory(sender=[ava, ben][n % 2], sent_at=AT + timedelta(hours=5 * n),
                                  template=template if n % 3 == 0 else None)
                for n in range(10)]]
    plan = {0: ["opened", "opened", "clicked"], 1: ["replied"], 3: ["opened", "replied"],
            4: ["bounced"], 5: ["complained"], 6: ["clicked", "opened", "opened"],
            7: ["delivered", "opened"], 9: ["replied"], 11: ["opened"] * 3}
    for index, kinds in plan.items():
        sent = emails[index].sent_at
        events_apply([EventIn(email=emails[index], kind=kind, source="provider",
                              at=sent + timedelta(hours=2, minutes=10 + n))
                      for n, kind in enumerate(kinds)])
    # A reply reported late, earlier than the one stored (another hour): it becomes the first.
    events_apply([EventIn(email=emails[9], kind="replied", source="provider",
                          at=emails[9].sent_at + timedelta(minutes=5))])
    unsubscribe_by_link(emails[8])
    # An earlier transactional test may have flushed the outcomes the migration made.
    CallOutcome.objects.get_or_create(name="Connected")
    calls_log(logged_by=ava, calls=[CallInput(person=PersonFactory(), outcome="Connected",
                                              called_at=now - timedelta(hours=n))
                                    for n in range(3)])
    calls_log(logged_by=ben, calls=[CallInput(person=PersonFactory(), called_at=AT)])
    tasks = [task_create(created_by=ava, person=PersonFactory(), name=f"Task {n}",
                         due_date=AT.date()) for n in range(4)]
    done = task_create(created_by=ben, person=PersonFactory(), name="Done", due_date=AT.date(),
                       status="complete")
    for task in tasks[:3]:
        task_complete(task, by=ava)
    task_reopen(tasks[0], by=ava)
    task_delete(tasks[1], by=ava)
    task_delete(done, by=ben)
    task_complete(tasks[3], by=ava)  # last: no later write in its hour recounts it

    kept = _rollups()
    assert sum(row[6] for row in kept[0] if row[0] == 1) == 13  # every email sent, once
    periods = [Period(AT.date() - timedelta(days=1), now.date(), ZoneInfo(zone))
               for zone in ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo")]
    rolled_up = [(email_report(period, group).as_dict(), activity_report(period, group_as)
                  .as_dict()) for period in periods
                 for group, group_as in zip(EMAIL_GROUPS, [*ACTIVITY_GROUPS, "day"], strict=True)]
    # A page's reports counted together (each rollup table read once for all of them; in a
    # zone whose days are not UTC days, once for the reports by day and once for the others)
    # equal each counted alone.
    asks = [*(("emails", group) for group in EMAIL_GROUPS),
            *(("activity", group) for group in ACTIVITY_GROUPS)]
    together = [reports_count(period, asks) for period in periods]
    assert [{ask: report.as_dict() for ask, report in reports.items()}
            for reports in together] == [
        {(kind, group): (email_report if kind == "emails" else activity_report)(
            period, group).as_dict() for kind, group in asks} for period in periods]
    assert together[0][("activity", "seller")].totals["calls"] == 4
    with monkeypatch.context() as patched:  # a database without GROUPING SETS: UNION ALL
        patched.setattr(connection, "vendor", "sqlite")
        assert [reports_count(period, asks) for period in periods] == together
    monkeypatch.setattr("analytics.selectors.rollup_pieces", lambda period, by_day: None)
    assert [(email_report(period, group).as_dict(), activity_report(period, group_as).as_dict())
            for period in periods
            for group, group_as in zip(EMAIL_GROUPS, [*ACTIVITY_GROUPS, "day"],
                                       strict=True)] == rolled_up

    EmailRollup.objects.update(sent=99)
    ActivityRollup.objects.filter(hours=1).delete()
    OpenTaskRollup.objects.update(n=7)
    out = StringIO()
    call_command("analytics_rebuild", stdout=out)

    assert _rollups() == kept
    assert "days' rollups" in out.getvalue()
