"""A sent email is logged through the outbox: a completed Salesforce Task (TaskSubtype Email,
Subject from the task subject template, Description the body, WhoId/WhatId as for calls) and
a Marketo "Send Sales Email" activity, both arriving at the sandboxes over real HTTP; the
deliveries are created in the transaction that marks the email sent."""

import io

import pytest
from django.core.management import call_command

from emails.models import SalesEmail
from emails.sending import SKIP_SALESFORCE_OFF, emails_send_due
from emails.services import queue_email
from syncing.models import Delivery, SyncSettings
from syncing.outbox.flush import deliveries_flush

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def both_connected(salesforce_connected, marketo_connected):
    return salesforce_connected, marketo_connected


def _tasks(control) -> list[dict]:
    return control.call("GET", "records/Task")["records"]


def _activities(control, marketo_id: int) -> list[dict]:
    return control.call("GET", "custom-activities", leadId=marketo_id)["result"]


def test_a_sent_email_becomes_a_task_and_a_marketo_activity(seller, seed_people, both_connected,
                                                            mailbox, no_enqueue):
    salesforce, marketo = both_connected
    person, = seed_people("contact_opportunity")
    email = queue_email(person=person, sender=seller, subject="Pricing for {{company}}",
                        body="Hi {{first_name|there}},\nprices attached.")
    assert not Delivery.objects.exists()  # nothing is logged before the email is sent

    emails_send_due()
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.SENT
    assert dict(email.deliveries.values_list("target", "status")) == {
        "salesforce": "pending", "marketo": "pending"}
    for target in Delivery.Target.values:
        deliveries_flush(target, until_empty=True)

    assert dict(email.deliveries.values_list("target", "status")) == {
        "salesforce": "delivered", "marketo": "delivered"}
    [task] = _tasks(salesforce)
    assert task["TaskSubtype"] == "Email" and task["Status"] == "Completed"
    assert task["Subject"] == f"Email: {email.subject}"
    assert task["Description"] == email.body
    assert task["WhoId"] == person.sfdc_contact_id
    assert task["WhatId"] == person.sfdc_opportunity_id
    [activity] = _activities(marketo, person.marketo_id)
    assert activity["primaryAttributeValue"] == email.subject
    attributes = {a["apiName"]: a["value"] for a in activity["attributes"]}
    assert attributes["sentBy"] == seller.email
    assert attributes["source"] == "Sales Actions"


def test_the_salesforce_switch_is_honoured(seller, seed_people, both_connected, mailbox,
                                           no_enqueue):
    SyncSettings(log_emails_to_salesforce=False, marketo_unsubscribe_check=False).save()
    person, = seed_people("lead")
    email = queue_email(person=person, sender=seller, subject="Hi", body="Hello")
    emails_send_due()
    salesforce = email.deliveries.get(target="salesforce")
    assert salesforce.status == "skipped" and salesforce.skip_reason == SKIP_SALESFORCE_OFF


def test_manage_py_sync_sends_and_logs_in_one_pass(seller, seed_people, both_connected,
                                                   mailbox, no_enqueue):
    salesforce, marketo = both_connected
    person, = seed_people("lead")
    email = queue_email(person=person, sender=seller, subject="Hi", body="Hello")
    out = io.StringIO()

    call_command("sync", stdout=out)

    assert "emails: 1 sent" in out.getvalue()
    email.refresh_from_db()
    assert email.status == "sent" and len(mailbox.store.messages()) == 1
    [task] = _tasks(salesforce)
    assert task["WhoId"] == person.sfdc_lead_id and task["TaskSubtype"] == "Email"
    assert len(_activities(marketo, person.marketo_id)) == 1
