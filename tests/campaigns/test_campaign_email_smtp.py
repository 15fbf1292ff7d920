"""A campaign's automatic email step end to end: the scheduler queues it, the sending pass
delivers it over real SMTP (a server on loopback), and it is logged to Salesforce as a Task
whose subject fills {{sales_campaign_name}} and to Marketo as "Send Sales Email" with the
campaign's name."""

import pytest

from campaigns.models import MemberStep
from campaigns.scheduler import campaign_steps_run
from campaigns.services import members_add
from emails.models import SalesEmail
from emails.sending import emails_send_due
from syncing.models import Delivery, SyncSettings
from syncing.outbox.flush import deliveries_flush

pytestmark = pytest.mark.django_db(transaction=True)

AUTO = {"type": "email", "day_offset": 0, "auto_send": True,
        "subject": "{{first_name}}, a word about {{sales_campaign_name}}",
        "body": "Hi {{first_name}},\n\n{{sender_name}}"}


def test_auto_email_is_sent_over_smtp_and_logged(mailbox, no_enqueue, ava, make_campaign,
                                                 seed_people, salesforce, marketo_connected):
    SyncSettings.objects.update_or_create(pk=1, defaults={
        "marketo_unsubscribe_check": True,
        "task_subject_template": "{{activity_type}} [{{sales_campaign_name}}]: "
                                 "{{activity_subject}}"})
    campaign = make_campaign(ava, [AUTO, {"type": "call", "day_offset": 3, "name": "Call"}],
                             name="Q2 Renewals")
    person, = seed_people("contact")
    members_add(campaign, [person.pk], by=ava)

    assert campaign_steps_run().results == {"queued": 1}
    assert emails_send_due().sent == 1

    [message] = mailbox.store.messages()
    assert message.rcpt_tos == [person.email]
    assert message.header("Subject") == f"{person.first_name}, a word about Q2 Renewals"
    email = SalesEmail.objects.get()
    assert email.status == SalesEmail.Status.SENT
    assert MemberStep.objects.get().email == email

    for target in Delivery.Target.values:
        deliveries_flush(target, until_empty=True)
    task, = [record for record in salesforce.call("GET", "records/Task")["records"]
             if record.get("TaskSubtype") == "Email"]
    assert task["Subject"].startswith("Email [Q2 Renewals]: ")
    assert task["WhoId"] == person.sfdc_contact_id
    activities = marketo_connected.call("GET", "custom-activities",
                                        leadId=person.marketo_id)["result"]
    names = {a["primaryAttributeValue"] for a in activities}
    assert "Q2 Renewals" in names  # Add to Sales Campaign
    sent = [a for a in activities if any(attr["value"] == "Q2 Renewals" and
                                         attr["name"] == "Sales Campaign Name"
                                         for attr in a["attributes"])]
    assert sent, activities
