"""The two senders of the kind "email" (see ``__init__``)."""

from __future__ import annotations

from django.utils import timezone

from emails.models import SalesEmail
from syncing.models import Delivery
from syncing.outbox.batch import Batch, SenderResult
from syncing.outbox.marketo_activities import (
    SOURCE,
    activities_add,
    marketo_datetime,
    marketo_open,
)
from syncing.outbox.registry import sender
from syncing.outbox.salesforce_tasks import (
    SUBJECT_MAX,
    records_as_tasks,
    task_description,
    task_subject,
    task_who_what,
)
from syncing.settings.selectors import sync_settings_get

KIND = "email"
SEND_SALES_EMAIL = "sendSalesEmail"
SALESFORCE_SWITCHED_OFF = ("Logging emails to Salesforce was switched off before this email "
                           "was sent.")
MARKETO_SWITCHED_OFF = ("Logging sales activities to Marketo was switched off before this was "
                        "sent.")


def _emails(batch: Batch) -> dict[int, SalesEmail]:
    return SalesEmail.objects.select_related("person", "sender", "template").in_bulk(
        batch.record_ids())


def email_task_fields(email: SalesEmail, template: str,
                      available: list[str] | frozenset[str]) -> dict:
    """The completed Task a sent email becomes; raises ValueError without a Salesforce id."""
    who, what = task_who_what(email.person)
    if not who:
        raise ValueError("The person has no Salesforce contact or lead id.")
    subject = task_subject(template, activity_type="Email", activity_subject=email.subject,
                           call_outcome="", call_reason="",
                           sales_campaign_name=email.sales_campaign_name)
    fields = {"WhoId": who, "Subject": subject[:SUBJECT_MAX], "Status": "Completed",
              "Type": "Email",
              "ActivityDate": timezone.localdate(email.sent_at or email.created_at).isoformat(),
              "Description": task_description(email.body)}
    if what:
        fields["WhatId"] = what
    if "TaskSubtype" in available:
        fields["TaskSubtype"] = "Email"
    return fields


@sender(Delivery.Target.SALESFORCE, KIND)
def email_tasks_send(batch: Batch) -> SenderResult:
    """Sent emails as completed Salesforce Tasks (switch: "Log emails to Salesforce")."""
    sync_settings = sync_settings_get()
    template = sync_settings.task_subject_template
    return records_as_tasks(
        batch, enabled=sync_settings.log_emails_to_salesforce, switched_off=SALESFORCE_SWITCHED_OFF,
        load=_emails, build=lambda email, available: email_task_fields(email, template, available))


def email_activity(email: SalesEmail, type_id: int) -> dict:
    """A sent email as a "Send Sales Email" record for Add Custom Activities."""
    attributes = {
        "sentBy": email.sender.email,
        "source": SOURCE,
        "salesTemplateName": email.template.name if email.template else "",
        "templateId": str(email.template_id) if email.template_id else "",
        "salesCampaignName": email.sales_campaign_name,
    }
    return {"leadId": email.person.marketo_id,
            "activityDate": marketo_datetime(email.sent_at or email.created_at),
            "activityTypeId": type_id, "primaryAttributeValue": email.subject[:255],
            "attributes": [{"apiName": name, "value": value}
                           for name, value in attributes.items() if value not in ("", None)]}


@sender(Delivery.Target.MARKETO, KIND)
def email_activities_send(batch: Batch) -> SenderResult:
    """Sent emails as "Send Sales Email" activities (switch: "Log sales activities to
    Marketo")."""
    opened = marketo_open(batch, enabled=sync_settings_get().log_activities_to_marketo,
                          switched_off=MARKETO_SWITCHED_OFF, type_name=SEND_SALES_EMAIL)
    if isinstance(opened, SenderResult):
        return opened
    client, type_id = opened
    emails = _emails(batch)
    records = {delivery.pk: email_activity(emails[delivery.record_id], type_id)
               for delivery in batch.deliveries}
    return activities_add(client, batch, records, type_id)
