"""Marketo custom activities as a destination (SPEC section 4): the eight activity types the
app registers, and adding a claimed batch of activities without duplicates. A kind's sender
(e.g. ``syncing/calls/senders.py``) opens the destination with ``marketo_open``, builds each
record's activity for a type id, and sends them with ``activities_add``.

Types are registered idempotently (list, create the missing ones, add their attributes,
approve) when Marketo is connected, when a Celery worker starts, and whenever a delivery finds
the stream does not know them (or Marketo no longer does); the type ids are kept on the
Marketo delivery stream. An instance holds at most 10 custom types:
when it is full the stream says so (the settings page shows it) and deliveries fail with that
reason until an admin frees room and retries them.

Add Custom Activities has no idempotency key, so a batch whose answer was lost is looked up in
the activity feed of its leads before it is sent again.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from syncing.clients.marketo import (
    MAX_ACTIVITY_LEAD_IDS,
    MarketoClient,
    MarketoError,
    record_reasons,
)
from syncing.models import Delivery, MarketoConnection
from syncing.queueing import task_named
from syncing.settings.selectors import marketo_connection_get

from .batch import Batch, Outcome, SenderResult, ms_since
from .registry import on_retry
from .streams import delivery_client, delivery_stream, delivery_stream_state_save

log = logging.getLogger(__name__)

MAX_CUSTOM_ACTIVITY_TYPES = 10
SOURCE = "Sales Actions"
TYPE_LIMIT_CODE = "1027"
ALREADY_EXISTS_CODE = "1017"
NO_DRAFT_CODE = "709"
# A full instance is checked again after this long even without an admin's retry.
FULL_RECHECK = timedelta(minutes=10)
#: The Celery task that registers the types (``syncing/tasks.py``), enqueued by name.
REGISTER_TASK = "syncing.tasks.marketo_activity_types_register_task"
NOT_CONNECTED = "Marketo is not connected: fill in the Marketo card on Settings."
# Record-level codes that mean the lead itself is the problem; anything else is retried.
_LEAD_CODES = frozenset({"1004"})


@dataclass(frozen=True)
class ActivityType:
    """A custom activity type definition, with Marketo's glossary attribute names."""

    api_name: str
    name: str
    trigger_name: str
    filter_name: str
    primary: tuple[str, str, str]  # apiName, name, dataType
    attributes: tuple[tuple[str, str, str], ...]

    def definition(self) -> dict:
        api_name, name, data_type = self.primary
        return {"apiName": self.api_name, "name": self.name, "triggerName": self.trigger_name,
                "filterName": self.filter_name,
                "description": f"Logged by {SOURCE}",
                "primaryAttribute": {"apiName": api_name, "name": name, "dataType": data_type}}

    def attribute_definitions(self) -> list[dict]:
        return [{"apiName": api_name, "name": name, "dataType": data_type}
                for api_name, name, data_type in self.attributes]


_SENT_BY = ("sentBy", "Sent By", "email")
_SOURCE = ("source", "Source", "string")
_SALES_PERSON = ("marketoSalesPersonId", "Marketo Sales Person ID", "string")
_EMAIL_ATTRIBUTES = (_SENT_BY, _SOURCE, ("templateId", "Template ID", "string"),
                     ("salesTemplateUrl", "Sales Template URL", "link"),
                     ("salesCampaignUrl", "Sales Campaign URL", "link"),
                     ("salesTemplateName", "Sales Template Name", "string"),
                     ("salesCampaignName", "Sales Campaign Name", "string"), _SALES_PERSON)
_EMAIL_SUBJECT = ("emailSubject", "Email Subject", "string")
_CAMPAIGN_ATTRIBUTES = (("salesCallStatus", "Sales Call Status", "string"),
                        ("salesCampaignUrl", "Sales Campaign URL", "link"), _SENT_BY, _SOURCE,
                        ("salesCampaignId", "Sales Campaign ID", "string"))
_CAMPAIGN_NAME = ("salesCampaignName", "Sales Campaign Name", "string")

RECEIVED_SALES_CALL = "receivedSalesCall"
#: The eight types of SPEC section 4; the one in use comes first, so a nearly full instance
#: still gets it.
ACTIVITY_TYPES = (
    ActivityType(RECEIVED_SALES_CALL, "Received Sales Call", "Receives Sales Call",
                 "Received Sales Call", ("salesCallSubject", "Sales Call Subject", "string"), (
                     ("salesCallMadeBy", "Sales Call Made By", "email"),
                     ("salesCallStatus", "Sales Call Status", "string"),
                     ("salesCampaignName", "Sales Campaign Name", "string"),
                     ("salesCampaignUrl", "Sales Campaign URL", "link"),
                     ("salesPhoneNumberCalled", "Sales Phone Number Called", "phone"),
                     _SOURCE,
                     ("salesCallDuration", "Sales Call Duration", "integer"),
                     ("salesCallRecordingUrl", "Sales Call Recording URL", "link"),
                     ("salesCallAnsweredBy", "Sales Call Answered By", "string"),
                     _SALES_PERSON)),
    ActivityType("sendSalesEmail", "Send Sales Email", "Is Sent Sales Email",
                 "Was Sent Sales Email", _EMAIL_SUBJECT, _EMAIL_ATTRIBUTES),
    ActivityType("openSalesEmail", "Open Sales Email", "Opens Sales Email",
                 "Opened Sales Email", _EMAIL_SUBJECT, _EMAIL_ATTRIBUTES),
    ActivityType("clickSalesEmail", "Click Sales Email", "Clicks Sales Email",
                 "Clicked Sales Email", ("link", "Link", "link"),
                 (_EMAIL_SUBJECT, *_EMAIL_ATTRIBUTES)),
    ActivityType("salesEmailReplied", "Sales Email Replied", "Replies to Sales Email",
                 "Replied to Sales Email", _EMAIL_SUBJECT,
                 (("receivedBy", "Received By", "email"), _SOURCE, _SALES_PERSON)),
    ActivityType("salesEmailBounced", "Sales Email Bounced", "Sales Email Bounces",
                 "Sales Email Bounced", _EMAIL_SUBJECT,
                 (("details", "Details", "text"), ("email", "Email", "email"), _SENT_BY,
                  _SALES_PERSON, ("templateId", "Template ID", "string"))),
    ActivityType("addToSalesCampaign", "Add to Sales Campaign", "Is Added to Sales Campaign",
                 "Was Added to Sales Campaign", _CAMPAIGN_NAME, _CAMPAIGN_ATTRIBUTES),
    ActivityType("removedFromSalesCampaign", "Removed from Sales Campaign",
                 "Is Removed from Sales Campaign", "Was Removed from Sales Campaign",
                 _CAMPAIGN_NAME, _CAMPAIGN_ATTRIBUTES),
)


@dataclass
class Registration:
    """What registering the types achieved: ids of the live ones, and the ones missing."""

    type_ids: dict[str, int]
    missing: list[str]
    full: bool

    @property
    def message(self) -> str:
        if not self.missing:
            return ""
        names = ", ".join(t.name for t in ACTIVITY_TYPES if t.api_name in self.missing)
        if self.full:
            return (f"The Marketo instance is full: it allows at most "
                    f"{MAX_CUSTOM_ACTIVITY_TYPES} custom activity types and has no room for "
                    f"{names}. Delete unused types in Marketo (Admin > Marketo Custom "
                    f"Activities), then retry the failed deliveries on Diagnostics.")
        return f"These Marketo custom activity types are not available yet: {names}."


def activity_types_register(client: MarketoClient) -> Registration:
    """Make sure the eight types exist and are approved; safe to run again at any time."""
    existing = {item["apiName"]: item for item in client.custom_activity_types()}
    type_ids: dict[str, int] = {}
    missing: list[str] = []
    full = False
    for activity_type in ACTIVITY_TYPES:
        item = existing.get(activity_type.api_name)
        if item is None:
            try:
                client.create_custom_activity_type(activity_type.definition())
            except MarketoError as error:
                if error.code == TYPE_LIMIT_CODE:
                    full = True
                    missing.append(activity_type.api_name)
                    continue
                if error.code != ALREADY_EXISTS_CODE:  # another worker was first
                    raise
            item = {"status": "draft"}
        if item.get("status") == "draft":
            # New, or left half-made by an earlier run: add what is missing.
            _attributes_add(client, activity_type)
        if item.get("status") == "approved" and item.get("id"):
            type_ids[activity_type.api_name] = int(item["id"])
            continue
        try:
            approved = client.approve_custom_activity_type(activity_type.api_name)
        except MarketoError as error:
            if error.code != NO_DRAFT_CODE:  # approved meanwhile by another worker
                raise
            approved = {}
        if approved.get("id"):
            type_ids[activity_type.api_name] = int(approved["id"])
    unresolved = [t.api_name for t in ACTIVITY_TYPES
                  if t.api_name not in type_ids and t.api_name not in missing]
    if unresolved:
        listed = {item["apiName"]: item for item in client.custom_activity_types()}
        for api_name in unresolved:
            if listed.get(api_name, {}).get("id"):
                type_ids[api_name] = int(listed[api_name]["id"])
            else:
                missing.append(api_name)
    return Registration(type_ids, missing, full)


def _attributes_add(client: MarketoClient, activity_type: ActivityType) -> None:
    attributes = activity_type.attribute_definitions()
    try:
        client.create_custom_activity_type_attributes(activity_type.api_name, attributes)
    except MarketoError as error:
        if error.code != ALREADY_EXISTS_CODE:
            raise
        # An earlier run added some of them: add the rest one by one.
        for attribute in attributes:
            try:
                client.create_custom_activity_type_attributes(activity_type.api_name,
                                                              [attribute])
            except MarketoError as each_error:
                if each_error.code != ALREADY_EXISTS_CODE:
                    raise


def marketo_activity_types_ensure(client: MarketoClient | None = None, *,
                                  force: bool = False) -> dict:
    """The registration as kept on the Marketo stream, registering first when needed.

    Registers when the stream knows nothing for this connection, when a full instance was
    last checked a while ago, or with ``force``.
    Returns ``{"connection", "type_ids", "missing", "full", "message", "checked_at"}``.
    """
    connection = marketo_connection_get()
    stream = delivery_stream(Delivery.Target.MARKETO)
    state = stream.state.get("activity_types") or {}
    stale = (state.get("connection") != connection.base_url
             or (state.get("full") and timezone.now() - datetime.fromisoformat(
                 state["checked_at"]) > FULL_RECHECK))
    if not (force or stale):
        return state
    registration = activity_types_register(client or delivery_client(connection))
    state = {"connection": connection.base_url, "type_ids": registration.type_ids,
             "missing": registration.missing, "full": registration.full,
             "message": registration.message, "checked_at": timezone.now().isoformat()}
    delivery_stream_state_save(Delivery.Target.MARKETO,
                               {**stream.state, "activity_types": state})
    return state


def marketo_activity_types_forget() -> None:
    """Drop what the stream knows, so the next delivery registers the types again."""
    stream = delivery_stream(Delivery.Target.MARKETO)
    state = dict(stream.state)
    state.pop("activity_types", None)
    delivery_stream_state_save(Delivery.Target.MARKETO, state)


# A full instance may have been cleaned up before an admin retries: register the types again.
on_retry(Delivery.Target.MARKETO, marketo_activity_types_forget)


# --------------------------------------------------------------------------- sending


def marketo_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _match_key(record: dict) -> tuple:
    moment = parse_datetime(str(record.get("activityDate") or ""))
    second = moment.astimezone(UTC).replace(microsecond=0) if moment else None
    return (int(record.get("leadId") or 0), second, str(record.get("primaryAttributeValue")))


def activities_reconcile(client: MarketoClient, records: dict[int, dict], type_id: int,
                         taken) -> dict[int, str]:
    """Which of ``records`` (delivery id -> activity) Marketo already has, by their leads'
    activity feeds since the earliest activity date; ``taken`` as in ``tasks_reconcile``.
    Returns delivery id -> marketoGUID."""
    earliest = min(parse_datetime(record["activityDate"]) for record in records.values())
    token = client.paging_token(earliest - timedelta(seconds=1))
    lead_ids = sorted({record["leadId"] for record in records.values()})
    logged: list[dict] = []
    for start in range(0, len(lead_ids), MAX_ACTIVITY_LEAD_IDS):
        page_token = token
        while True:
            page = client.activities(page_token, [type_id],
                                     lead_ids=lead_ids[start:start + MAX_ACTIVITY_LEAD_IDS])
            logged.extend(page.results)
            if not page.more_result:
                break
            page_token = page.next_page_token
    guids = [str(item.get("marketoGUID") or item.get("id")) for item in logged]
    owned = taken(guids)
    found: dict[tuple, list[str]] = defaultdict(list)
    for item, guid in sorted(zip(logged, guids, strict=True), key=lambda pair: pair[1]):
        if guid not in owned:
            found[_match_key(item)].append(guid)
    matched = {}
    for delivery_id, record in sorted(records.items()):
        candidates = found.get(_match_key(record))
        if candidates:
            matched[delivery_id] = candidates.pop(0)
    return matched


def marketo_open(batch: Batch, *, enabled: bool, switched_off: str, type_name: str
                 ) -> tuple[MarketoClient, int] | SenderResult:
    """Get ready to send a batch of activities of the custom type ``type_name`` (its apiName):
    ``(client, type id)``, or the SenderResult that ends the batch here (switched off, not
    connected, the type not registered)."""
    if not enabled:
        return SenderResult({pk: Outcome.skipped(switched_off) for pk in batch.by_id})
    connection: MarketoConnection = marketo_connection_get()
    if not connection.is_configured:
        return SenderResult({pk: Outcome.retry("NOT_CONNECTED", NOT_CONNECTED)
                             for pk in batch.by_id})
    client = delivery_client(connection)
    try:
        registration = marketo_activity_types_ensure(client)
    except MarketoError as error:
        return _whole_batch(batch, error, 0, sent=False)
    type_id = registration["type_ids"].get(type_name)
    if type_id is None:
        code = "CUSTOM_ACTIVITY_TYPES_FULL" if registration.get("full") else "ACTIVITY_TYPE_MISSING"
        return SenderResult({pk: Outcome.failed(code, registration.get("message", ""))
                             for pk in batch.by_id})
    return client, type_id


def activities_add(client: MarketoClient, batch: Batch, records: dict[int, dict], type_id: int
                   ) -> SenderResult:
    """Add ``records`` (delivery id -> activity of type ``type_id``) in one Add Custom
    Activities call, one Outcome per delivery; deliveries an earlier attempt may have applied
    are looked up in their leads' activity feeds first (``activities_reconcile``)."""
    result = SenderResult()
    records = batch.reconcile_earlier_sends(
        records, result, lambda unknown: activities_reconcile(client, unknown, type_id,
                                                              batch.taken_remote_ids),
        MarketoError)
    if not records:
        return result

    ids = list(records)
    batch.mark_sending(ids)
    started = time.monotonic()
    try:
        answers = client.add_custom_activities([records[pk] for pk in ids])
    except MarketoError as error:
        whole = _whole_batch(batch, error, ms_since(started), ids=ids)
        result.outcomes.update(whole.outcomes)
        result.pause_reason = whole.pause_reason
        return result
    elapsed = ms_since(started)
    types_in_doubt = False
    for pk, answer in zip(ids, answers, strict=True):
        if answer.get("status") in ("added", "updated"):
            result.outcomes[pk] = Outcome.delivered(answer.get("marketoGUID") or answer.get("id"),
                                                    elapsed)
            continue
        reasons = record_reasons(answer)
        code = str(reasons[0].get("code")) if reasons else "SKIPPED"
        message = "; ".join(str(reason.get("message")) for reason in reasons) or "skipped"
        if code in _LEAD_CODES:
            result.outcomes[pk] = Outcome.failed(code, message, elapsed)
        else:
            types_in_doubt = True
            result.outcomes[pk] = Outcome.retry(code, message, elapsed)
    if types_in_doubt:
        # The type may have been deleted or changed in Marketo: register again next time.
        marketo_activity_types_forget()
    return result


def _whole_batch(batch: Batch, error: MarketoError, elapsed: int, *, ids=None,
                 sent: bool = True) -> SenderResult:
    """Outcomes when a whole request failed."""
    ids = ids or list(batch.by_id)
    code = error.code or (f"HTTP_{error.status}" if error.status else "NO_RESPONSE")
    if error.code == "607":  # daily quota: nothing goes through until it resets
        outcome = Outcome.paused(code, str(error), elapsed)
        return SenderResult({pk: outcome for pk in ids},
                            pause_reason=f"Marketo's daily API quota is used up: {error}")
    if sent and error.code is None and (error.status is None or error.status >= 500):
        # No answer or a 5xx: Marketo may have logged the batch.
        outcome = Outcome.unknown(code, str(error), elapsed)
    elif error.permanent:
        outcome = Outcome.failed(code, str(error), elapsed)
    else:
        outcome = Outcome.retry(code, str(error), elapsed)
    return SenderResult({pk: outcome for pk in ids})


def marketo_activity_types_register_soon() -> None:
    """Register the types in a worker (Marketo just connected, a worker started); never
    raises."""
    if not marketo_connection_get().is_configured:
        return
    try:
        task_named(REGISTER_TASK).apply_async(retry=False)
    except Exception:  # broker down: the first delivery registers them instead
        log.warning("could not enqueue the Marketo activity type registration", exc_info=True)
