"""Calls on their way out (SPEC sections 4 and 5): a call becomes a Salesforce Task and a
Marketo "Received Sales Call" activity. The two senders of the kind "call", registered with
the outbox; ``activities.services.calls_log`` creates the deliveries.
"""

from __future__ import annotations

from django.utils import timezone

from activities.models import Call
from syncing.models import Delivery
from syncing.outbox.batch import Batch, SenderResult
from syncing.outbox.marketo_activities import (
    RECEIVED_SALES_CALL,
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

KIND = "call"
SALESFORCE_SWITCHED_OFF = "Logging calls to Salesforce was switched off before this call was sent."
MARKETO_SWITCHED_OFF = ("Logging sales activities to Marketo was switched off before this was "
                        "sent.")


#: What the senders read of a call's person and seller (the Task's WhoId/WhatId, the
#: activity's lead and "made by"): a batch of 200 calls with every column of both costs a
#: worker more CPU than sending it.
_CALL_RELATED_FIELDS = ("person__marketo_id", "person__sfdc_contact_id", "person__sfdc_lead_id",
                        "person__sfdc_account_id", "person__sfdc_opportunity_id",
                        "logged_by__email")


def _calls(batch: Batch) -> dict[int, Call]:
    return (Call.objects.select_related("person", "logged_by")
            .only(*(field.name for field in Call._meta.concrete_fields), *_CALL_RELATED_FIELDS)
            .in_bulk(batch.record_ids()))


def call_task_fields(call, template: str, available: list[str] | frozenset[str]) -> dict:
    """The Task a call becomes; ``available``: the optional fields the org has.

    Raises ValueError when the person has no Salesforce contact or lead id.
    """
    who, what = task_who_what(call.person)
    if not who:
        raise ValueError("The person has no Salesforce contact or lead id.")
    subject = task_subject(template, activity_type="Call",
                           activity_subject=call.outcome or call.reason,
                           call_outcome=call.outcome, call_reason=call.reason,
                           sales_campaign_name="")
    fields = {"WhoId": who, "Subject": subject, "Status": "Completed", "Type": "Call",
              "ActivityDate": timezone.localdate(call.called_at).isoformat(),
              "Description": task_description(call.notes)}
    if what:
        fields["WhatId"] = what
    optional = {"TaskSubtype": "Call", "CallDurationInSeconds": call.duration_seconds,
                "CallType": "Outbound", "CallDisposition": call.outcome[:SUBJECT_MAX] or None}
    fields.update((name, value) for name, value in optional.items()
                  if name in available and value is not None)
    return fields


@sender(Delivery.Target.SALESFORCE, KIND)
def call_tasks_send(batch: Batch) -> SenderResult:
    """Calls as Salesforce Tasks (switch: "Log calls to Salesforce")."""
    sync_settings = sync_settings_get()
    template = sync_settings.task_subject_template
    return records_as_tasks(
        batch, enabled=sync_settings.log_calls_to_salesforce, switched_off=SALESFORCE_SWITCHED_OFF,
        load=_calls, build=lambda call, available: call_task_fields(call, template, available))


def call_activity(call, type_id: int) -> dict:
    """A call as a "Received Sales Call" record for Add Custom Activities."""
    attributes = {
        "salesCallMadeBy": call.logged_by.email,
        "salesCallStatus": call.marketo_call_status,
        "salesPhoneNumberCalled": call.phone_number,
        "salesCallDuration": call.duration_seconds,
        "source": SOURCE,
    }
    return {"leadId": call.person.marketo_id, "activityDate": marketo_datetime(call.called_at),
            "activityTypeId": type_id, "primaryAttributeValue": call.outcome or "Call",
            "attributes": [{"apiName": name, "value": value}
                           for name, value in attributes.items() if value not in ("", None)]}


@sender(Delivery.Target.MARKETO, KIND)
def call_activities_send(batch: Batch) -> SenderResult:
    """Calls as "Received Sales Call" activities (switch: "Log sales activities to Marketo")."""
    opened = marketo_open(batch, enabled=sync_settings_get().log_activities_to_marketo,
                          switched_off=MARKETO_SWITCHED_OFF, type_name=RECEIVED_SALES_CALL)
    if isinstance(opened, SenderResult):
        return opened
    client, type_id = opened
    calls = _calls(batch)
    records = {delivery.pk: call_activity(calls[delivery.record_id], type_id)
               for delivery in batch.deliveries}
    return activities_add(client, batch, records, type_id)
