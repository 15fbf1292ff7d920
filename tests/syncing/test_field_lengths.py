"""No delivery can fail forever on a length: every text the app sends to a Salesforce Task
fits the field as the org describes it (the sandbox's describe), the long ones cut with a
marker that says so; Marketo's string attributes stay within 255 characters."""

import pytest
from factories import CallFactory, PersonFactory, SalesEmailFactory

from sandbox.salesforce.schema import build_schema
from syncing.calls.senders import call_activity, call_task_fields
from syncing.email.senders import email_task_fields
from syncing.outbox.salesforce_tasks import DESCRIPTION_CUT, DESCRIPTION_MAX, task_description
from syncing.reminders.mapping import task_fields

pytestmark = pytest.mark.django_db
TASK_LENGTHS = {name: field.length for name, field in build_schema()["Task"].fields.items()
                if field.length}
ALL_FIELDS = ("TaskSubtype", "CallDurationInSeconds", "CallType", "CallDisposition")


def assert_fits(fields: dict):
    for name, value in fields.items():
        if isinstance(value, str) and name in TASK_LENGTHS:
            assert len(value) <= TASK_LENGTHS[name], (name, len(value))


def test_a_description_that_fits_is_sent_whole_and_a_longer_one_cut_with_a_marker():
    assert task_description("x" * DESCRIPTION_MAX) == "x" * DESCRIPTION_MAX
    cut = task_description("y" * (DESCRIPTION_MAX + 1))
    assert len(cut) == DESCRIPTION_MAX == TASK_LENGTHS["Description"]
    assert cut.endswith(DESCRIPTION_CUT)


def person():
    return PersonFactory(sfdc_contact_id="003000000000004AAA", company="C" * 255)


def test_a_long_sales_email_still_becomes_a_task_salesforce_takes():
    email = SalesEmailFactory(person=person(), subject="S" * 998, body="B" * 100_000)
    fields = email_task_fields(email, "{{activity_type}}: {{activity_subject}}", ALL_FIELDS)
    assert_fits(fields)
    assert fields["Description"].endswith(DESCRIPTION_CUT)


def test_a_call_with_the_longest_values_the_app_takes_fits(settings):
    call = CallFactory(person=person(), outcome="O" * 80, reason="R" * 80, notes="N" * 32_000,
                       phone_number="9" * 40)
    fields = call_task_fields(call, "{{activity_type}} {{call_outcome}} {{call_reason}}",
                              ALL_FIELDS)
    assert_fits(fields)
    assert fields["Description"] == "N" * 32_000
    activity = call_activity(call, 1)
    assert len(activity["primaryAttributeValue"]) <= 255
    assert all(len(str(a["value"])) <= 255 for a in activity["attributes"])


def test_reminder_task_details_longer_than_a_description_are_cut_with_the_marker():
    fields = task_fields({"name": "N" * 300, "details": "D" * 40_000}, person=person(),
                         owner_id="005000000000001AAA")
    assert_fits(fields)
    assert fields["Description"].endswith(DESCRIPTION_CUT)
