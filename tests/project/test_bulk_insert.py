"""``bulk_insert`` writes the rows ``bulk_create`` writes, value for value, and sets the
objects' primary keys in their order (on PostgreSQL with one statement that sends the values
every row shares once; elsewhere it is ``bulk_create``)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from factories import PersonFactory

from emails.models import EmailEvent, SalesEmail
from salesactions.bulk_insert import bulk_insert
from syncing.models import Delivery

pytestmark = pytest.mark.django_db

TRICKY = ["", "plain", 'a "quoted" word', "back\\slash \\\\ two", "{braces, commas}", "NULL",
          "line\nbreak\ttab", "accents éà ✓ 中文", "it's", "  spaced  "]
WHEN = datetime(2027, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


def _emails(seller, people, tag: str) -> list[SalesEmail]:
    """Emails whose columns vary in every way: text each row its own or shared, nulls and
    times in some rows only, times in another zone, a boolean that differs."""
    paris = ZoneInfo("Europe/Paris")
    return [SalesEmail(person=person, sender=seller, to_email=person.email,
                       subject=TRICKY[index % len(TRICKY)] or "empty",
                       body=TRICKY[-1 - index % len(TRICKY)],
                       track=index % 3 != 0, sales_campaign_name=TRICKY[index % len(TRICKY)],
                       status=SalesEmail.Status.HELD if index % 4 == 0 else "queued",
                       hold_reason="", message_id=f"<{tag}-{index}@example.com>",
                       attempts=index % 2,
                       next_attempt_at=(WHEN + timedelta(seconds=index)).astimezone(paris)
                       if index % 5 else None,
                       send_at=WHEN if index == 3 else None)
            for index, person in enumerate(people)]


def _rows(emails) -> list[dict]:
    fields = [f.name for f in SalesEmail._meta.concrete_fields
              if f.name not in ("id", "message_id", "created_at", "updated_at")]
    return [model_to_dict(SalesEmail.objects.get(pk=email.pk), fields=fields) for email in emails]


def test_rows_match_bulk_create_value_for_value(seller):
    people = PersonFactory.create_batch(len(TRICKY) * 2)
    made = bulk_insert(_emails(seller, people, "tag"))
    expected = SalesEmail.objects.bulk_create(_emails(seller, people, "tag2"))

    assert [email.person_id for email in made] == [person.pk for person in people]
    assert all(email.pk and not email._state.adding for email in made)
    assert _rows(made) == _rows(expected)
    stored = {email.pk: email for email in SalesEmail.objects.filter(pk__in=[e.pk for e in made])}
    for index, email in enumerate(made):  # each object got its own row's id
        assert stored[email.pk].message_id == f"<tag-{index}@example.com>"
        assert stored[email.pk].created_at == email.created_at  # pre_save ran on each row


def test_a_constant_null_and_a_related_object_saved_just_before(seller):
    """Events take their email's id from the email saved in the same breath (as the
    campaign's emails do), with a detail every row shares and a null url."""
    emails = bulk_insert(_emails(seller, PersonFactory.create_batch(3), "ev"))
    events = [EmailEvent(at=WHEN, kind=EmailEvent.Kind.QUEUED, detail="same") for _ in emails]
    for email, event in zip(emails, events, strict=True):
        event.email = email

    bulk_insert(events)

    stored = EmailEvent.objects.order_by("id")
    assert [(e.email_id, e.kind, e.detail, e.at) for e in stored] == [
        (email.pk, "queued", "same", WHEN) for email in emails]
    assert [e.pk for e in events] == [e.pk for e in stored]


def test_generic_relations_and_one_statement_on_postgresql(seller):
    emails = bulk_insert(_emails(seller, PersonFactory.create_batch(4), "gen"))
    deliveries = [Delivery(target=Delivery.Target.MARKETO, kind="email_sent", record=email,
                           status=Delivery.Status.PENDING, next_attempt_at=WHEN)
                  for email in emails]

    with CaptureQueriesContext(connection) as queries:
        bulk_insert(deliveries)

    assert [(d.record_id, d.record) for d in Delivery.objects.order_by("id")] == [
        (email.pk, email) for email in emails]
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    if connection.vendor == "postgresql":
        assert "ROWS FROM" in inserts[0]  # this module's statement, not bulk_create's


def test_one_object_and_none():
    assert bulk_insert([]) == []
    person = PersonFactory.build()
    person.synced_at = WHEN
    bulk_insert([person])
    assert person.pk is not None and not person._state.adding


def test_json_columns_go_as_arrays_and_come_back_whole(seller):
    """A column bulk_insert cannot send as JSON text (a JSON field's values) goes as an array
    of its own type, beside the others."""
    from reminders.models import ReminderTask

    changed = [{"subject": "2027-03-01T08:00:00+00:00"}, {}, {"a": [1, "two", None]}]
    person = PersonFactory()
    tasks = [ReminderTask(created_by=seller, assignee=seller, person=person, name=f"Task {index}",
                          due_date=WHEN.date(), field_changed_at=value,
                          synced_values={"same": True})
             for index, value in enumerate(changed)]

    with CaptureQueriesContext(connection) as queries:
        bulk_insert(tasks)

    stored = {task.pk: task for task in ReminderTask.objects.all()}
    assert [(stored[t.pk].name, stored[t.pk].field_changed_at, stored[t.pk].synced_values)
            for t in tasks] == [(f"Task {index}", value, {"same": True})
                                for index, value in enumerate(changed)]
    if connection.vendor == "postgresql":
        insert, = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
        assert "UNNEST" in insert and "ROWS FROM" in insert
