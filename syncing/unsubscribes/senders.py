"""Unsubscribes pushed to Salesforce at once: the outbox kind ``"unsubscribe"``.

Each recorded unsubscribe has a Salesforce delivery (``unsubscribes.services`` creates it in
the transaction that records it). This sender sets the opt-out checkboxes to true on the
person's contact, else lead, 200 records per ``composite/sobjects`` PATCH (contacts and leads
together). Setting a checkbox to true twice changes nothing, so a delivery whose earlier
attempt may have been applied is simply sent again: no reconcile step is needed, and no
opt-out is lost or doubled under dropped responses. It is always on: the periodic sync's
switch does not stop it (SPEC section 7).
"""

from __future__ import annotations

import time

from syncing.clients.salesforce import SalesforceError
from syncing.models import Delivery
from syncing.outbox.batch import Batch, Outcome, SenderResult, ms_since
from syncing.outbox.registry import sender
from syncing.outbox.salesforce_tasks import salesforce_open
from syncing.settings.selectors import sync_settings_get
from unsubscribes.models import Unsubscribe

from .optout_fields import optout_fields

KIND = "unsubscribe"
NO_SALESFORCE_ID = ("The person has no Salesforce contact or lead id, so the opt-out could not "
                    "be pushed; retry once Marketo gives them one.")


def salesforce_record_of(person) -> tuple[str, str] | None:
    """``(sObject, id)`` of the person's opt-out: the contact, else the lead."""
    if person.sfdc_contact_id:
        return "Contact", person.sfdc_contact_id
    if person.sfdc_lead_id:
        return "Lead", person.sfdc_lead_id
    return None


@sender(Delivery.Target.SALESFORCE, KIND)
def unsubscribes_send(batch: Batch) -> SenderResult:
    """Set the opt-out checkboxes of each unsubscribed person's contact, else lead."""
    opened = salesforce_open(batch, enabled=True, switched_off="")
    if isinstance(opened, SenderResult):
        return opened
    client, _ = opened
    checked = dict.fromkeys(optout_fields(sync_settings_get()), True)
    unsubscribes = Unsubscribe.objects.select_related("person").in_bulk(batch.record_ids())
    result = SenderResult()
    records: dict[int, dict] = {}
    for delivery in batch.deliveries:
        unsubscribe = unsubscribes.get(delivery.record_id)
        target = unsubscribe and salesforce_record_of(unsubscribe.person)
        if not target:
            result.outcomes[delivery.pk] = Outcome.failed("NO_SALESFORCE_ID", NO_SALESFORCE_ID)
            continue
        sobject, record_id = target
        records[delivery.pk] = {"attributes": {"type": sobject}, "Id": record_id, **checked}
    if not records:
        return result
    ids = list(records)
    batch.mark_sending(ids)
    started = time.monotonic()
    try:
        answers = client.composite_update_records([records[pk] for pk in ids])
    except SalesforceError as error:
        elapsed = ms_since(started)
        if error.code == "REQUEST_LIMIT_EXCEEDED":
            result.pause_reason = f"Salesforce refused calls: {error} (REQUEST_LIMIT_EXCEEDED)"
            outcome = Outcome.paused(error.code, str(error), elapsed)
        elif error.permanent:
            outcome = Outcome.failed(error.code or f"HTTP_{error.status}", str(error), elapsed)
        else:
            # Maybe applied, maybe not: sending it again is harmless.
            outcome = Outcome.retry(error.code or f"HTTP_{error.status}", str(error), elapsed)
        result.outcomes.update(dict.fromkeys(ids, outcome))
        return result
    elapsed = ms_since(started)
    for pk, answer in zip(ids, answers, strict=True):
        if answer.success:
            result.outcomes[pk] = Outcome.delivered(records[pk]["Id"], elapsed)
        elif answer.transient:
            result.outcomes[pk] = Outcome.retry(answer.error_code, answer.error_message, elapsed)
        else:
            result.outcomes[pk] = Outcome.failed(answer.error_code or "FAILED",
                                                 answer.error_message, elapsed)
    return result
