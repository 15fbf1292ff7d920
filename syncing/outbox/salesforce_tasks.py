"""Salesforce Tasks as a destination (SPEC section 5): what every kind sent as Tasks shares —
the subject template, Who/What ids, which optional Task fields the org has, the org's daily
API share, and creating a claimed batch of Tasks without duplicates.

A kind's sender (e.g. ``syncing/calls/senders.py``) opens the destination with
``salesforce_open`` and builds each record's Task fields; ``tasks_create`` sends them in one
``composite/sobjects`` request (200 records at most). A delivery that may already have been
applied (a dropped connection after Salesforce wrote it, a worker killed mid-request) is first
looked up among the Tasks created since its first attempt and matched on what it would create;
only the unmatched ones are sent again, so no Task is written twice.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from syncing.clients.salesforce import SalesforceClient, SalesforceError
from syncing.models import Delivery, SalesforceConnection, SyncStream
from syncing.settings.selectors import salesforce_connection_get, sync_settings_get

from .batch import Batch, Outcome, SenderResult, ms_since
from .streams import delivery_client, delivery_resume, delivery_stream, delivery_stream_state_save

TASK_SOBJECT = "Task"
SUBJECT_MAX = 255
#: A Task's Description holds 32,000 characters; longer text is cut with a marker (below).
DESCRIPTION_MAX = 32_000
DESCRIPTION_CUT = "\n[… cut: a Salesforce Task holds 32,000 characters; the whole text is in " \
                  "Sales Actions]"
#: Task fields some orgs lack (the call fields need the Call Center/CTI setup).
OPTIONAL_TASK_FIELDS = ("TaskSubtype", "CallDurationInSeconds", "CallType", "CallDisposition")
#: Salesforce may have written a lost request a little before our clock said we sent it.
RECONCILE_CLOCK_MARGIN = timedelta(minutes=5)
#: The org's Task fields are described again after this long (an admin may add call fields).
DESCRIBE_MAX_AGE = timedelta(days=1)
NOT_CONNECTED = "Salesforce is not connected: fill in the Salesforce card on Settings."
_PLACEHOLDER = re.compile(r"{{\s*(\w+)\s*}}")
_DANGLING = " :;,-|/()[]"


def task_subject(template: str, **values: str) -> str:
    """The template with its ``{{placeholders}}`` filled in, on one line, at most 255 characters.

    Placeholders without a value render empty, and a separator left dangling at either end
    goes with them ("Call: " becomes "Call"). Unknown placeholders (the form rejects them)
    render empty too.
    """
    text = _PLACEHOLDER.sub(lambda match: values.get(match.group(1)) or "", template)
    text = " ".join(text.split()).strip(_DANGLING)
    return text[:SUBJECT_MAX].rstrip() or values.get("activity_type") or "Activity"


def task_description(text: str) -> str:
    """``text`` as a Task's Description: whole when it fits, else its start and a marker that
    says so — never a delivery Salesforce refuses forever (STRING_TOO_LONG)."""
    if len(text) <= DESCRIPTION_MAX:
        return text
    return text[:DESCRIPTION_MAX - len(DESCRIPTION_CUT)] + DESCRIPTION_CUT


def task_who_what(person) -> tuple[str | None, str | None]:
    """``(WhoId, WhatId)``: the contact, else the lead; the opportunity, else the account, only
    next to a contact (Salesforce rejects a WhatId on a Task whose WhoId is a lead)."""
    if person.sfdc_contact_id:
        return (person.sfdc_contact_id,
                person.sfdc_opportunity_id or person.sfdc_account_id or None)
    return (person.sfdc_lead_id or None), None


def task_fields_available(describe: dict) -> list[str]:
    """Which of the optional Task fields this org lets the integration user create."""
    createable = {field["name"] for field in describe.get("fields", [])
                  if field.get("createable")}
    return [name for name in OPTIONAL_TASK_FIELDS if name in createable]


def _match_key(fields: dict) -> tuple:
    """What identifies a Task we created: who, subject, day, duration and notes."""
    description = (fields.get("Description") or "").replace("\r\n", "\n").strip()
    return ((fields.get("WhoId") or "")[:15], fields.get("Subject") or "",
            fields.get("ActivityDate") or "", fields.get("CallDurationInSeconds"), description)


def _soql_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tasks_reconcile(client: SalesforceClient, records: dict[int, dict], since: datetime,
                    taken: Callable[[list[str]], set[str]], *,
                    key: Callable[[dict], tuple] | None = None, where: str = "",
                    ) -> dict[int, str]:
    """Which of ``records`` (delivery id -> Task fields) Salesforce already has.

    Looks at Tasks created since ``since`` for the same people (and matching ``where``, a SOQL
    condition), leaves out those ``taken`` (given Task ids, returns the ones other deliveries
    already own), and pairs the rest one to one, in creation order, on ``key`` (default
    ``_match_key``). Returns delivery id -> Task id for the ones found.
    """
    key = key or _match_key
    who_ids = sorted({fields["WhoId"] for fields in records.values()})
    duration = "CallDurationInSeconds" if any(
        "CallDurationInSeconds" in fields for fields in records.values()) else None
    columns = ["Id", "WhoId", "Subject", "ActivityDate", "Description",
               *([duration] if duration else [])]
    quoted = ",".join(f"'{who}'" for who in who_ids)
    soql = (f"SELECT {', '.join(columns)} FROM Task WHERE WhoId IN ({quoted}) "
            f"AND CreatedDate >= {_soql_datetime(since - RECONCILE_CLOCK_MARGIN)}"
            f"{' AND ' + where if where else ''}")
    tasks = client.query_all(soql)
    owned = taken([task["Id"] for task in tasks])
    found: dict[tuple, list[str]] = defaultdict(list)
    for task in sorted(tasks, key=lambda task: task["Id"]):
        if task["Id"] not in owned:
            found[key(task)].append(task["Id"])
    matched: dict[int, str] = {}
    for delivery_id, fields in sorted(records.items()):
        candidates = found.get(key(fields))
        if candidates:
            matched[delivery_id] = candidates.pop(0)
    return matched


def tasks_create(client: SalesforceClient, batch: Batch, records: dict[int, dict],
                 result: SenderResult | None = None, *,
                 key: Callable[[dict], tuple] | None = None, where: str = "") -> SenderResult:
    """Create ``records`` (delivery id -> Task fields) as Tasks, one Outcome per delivery
    (added to ``result``, which may already hold outcomes of deliveries not sent).

    Deliveries an earlier attempt may have applied are reconciled first (``tasks_reconcile``,
    with ``key`` and ``where``).
    """
    result = result or SenderResult()

    def find_earlier(unknown: dict[int, dict]) -> dict[int, str]:
        since = min(batch.by_id[pk].first_attempt_at or timezone.now() for pk in unknown)
        return tasks_reconcile(client, unknown, since, batch.taken_remote_ids, key=key,
                               where=where)

    records = batch.reconcile_earlier_sends(records, result, find_earlier, SalesforceError)

    if not records:
        return result
    ids = list(records)
    batch.mark_sending(ids)
    started = time.monotonic()
    try:
        answers = client.composite_create(TASK_SOBJECT, [records[pk] for pk in ids])
    except SalesforceError as error:
        elapsed = ms_since(started)
        if error.code == "REQUEST_LIMIT_EXCEEDED":
            result.pause_reason = f"Salesforce refused calls: {error} (REQUEST_LIMIT_EXCEEDED)"
            outcome = Outcome.paused(error.code, str(error), elapsed)
        elif error.maybe_applied:
            outcome = Outcome.unknown(error.code or "NO_RESPONSE", str(error), elapsed)
        elif error.permanent:
            outcome = Outcome.failed(error.code or f"HTTP_{error.status}", str(error), elapsed)
        else:
            outcome = Outcome.retry(error.code or f"HTTP_{error.status}", str(error), elapsed)
        for pk in ids:
            result.outcomes[pk] = outcome
        return result
    elapsed = ms_since(started)
    for pk, answer in zip(ids, answers, strict=True):
        if answer.success:
            result.outcomes[pk] = Outcome.delivered(answer.id, elapsed)
        elif answer.transient:
            result.outcomes[pk] = Outcome.retry(answer.error_code, answer.error_message, elapsed)
        else:
            result.outcomes[pk] = Outcome.failed(answer.error_code or "FAILED",
                                                 answer.error_message, elapsed)
    return result


def records_as_tasks(batch: Batch, *, enabled: bool, switched_off: str,
                     load: Callable[[Batch], dict], build: Callable[[object, list[str]], dict]
                     ) -> SenderResult:
    """Send a batch's records as Tasks (calls, sent emails): ``load`` reads the records by id,
    ``build(record, available)`` makes each one's Task fields, raising ValueError for a person
    with no Salesforce id (that delivery fails, the others go)."""
    opened = salesforce_open(batch, enabled=enabled, switched_off=switched_off)
    if isinstance(opened, SenderResult):
        return opened
    client, available = opened
    loaded = load(batch)
    result = SenderResult()
    records: dict[int, dict] = {}
    for delivery in batch.deliveries:
        try:
            records[delivery.pk] = build(loaded[delivery.record_id], available)
        except ValueError as error:
            result.outcomes[delivery.pk] = Outcome.failed("NO_SALESFORCE_ID", str(error))
    return tasks_create(client, batch, records, result)


def salesforce_open(batch: Batch, *, enabled: bool, switched_off: str
                    ) -> tuple[SalesforceClient, list[str]] | SenderResult:
    """Get ready to send a batch: ``(client, optional Task fields the org has)``, or the
    SenderResult that ends the batch here (switched off, not connected, API limit or share
    reached, Salesforce unreachable)."""
    if not enabled:
        return SenderResult({pk: Outcome.skipped(switched_off) for pk in batch.by_id})
    connection = salesforce_connection_get()
    if not connection.is_configured:
        return SenderResult({pk: Outcome.retry("NOT_CONNECTED", NOT_CONNECTED)
                             for pk in batch.by_id})
    client = delivery_client(connection)
    stream = delivery_stream(Delivery.Target.SALESFORCE)
    try:
        if stream.paused_until is not None:
            # The pause is over: read the org's usage (and whether it still refuses calls)
            # before sending a batch.
            client.limits()
            delivery_resume(Delivery.Target.SALESFORCE)
        over = _share_used(client, sync_settings_get().salesforce_daily_api_share_percent)
        if over:
            return SenderResult(pause_reason=over)
        available = _task_fields(client, connection, stream)
    except SalesforceError as error:
        if error.code == "REQUEST_LIMIT_EXCEEDED":
            return SenderResult(pause_reason=f"Salesforce refused calls: {error} "
                                             "(REQUEST_LIMIT_EXCEEDED)")
        outcome = (Outcome.failed if error.permanent else Outcome.retry)(
            error.code or f"HTTP_{error.status}", str(error))
        return SenderResult({pk: outcome for pk in batch.by_id})
    return client, available


def _share_used(client: SalesforceClient, percent: int) -> str:
    """Why to pause, if the org's daily API usage reached the admin's share (else "")."""
    usage = client.api_usage
    if usage is None or usage.share < percent / 100:
        return ""
    return (f"The app has used its share of the org's daily API calls: {usage.used:,} of "
            f"{usage.limit:,} ({usage.share:.0%}; the share set on Settings is {percent}%).")


def _task_fields(client: SalesforceClient, connection: SalesforceConnection,
                 stream: SyncStream) -> list[str]:
    """The optional Task fields the org has: described once, then read from the stream."""
    key = f"{connection.url} v{connection.api_version}"
    cached = stream.state.get("task_fields") or {}
    checked_at = cached.get("checked_at")
    if (cached.get("connection") == key and checked_at
            and timezone.now() - datetime.fromisoformat(checked_at) < DESCRIBE_MAX_AGE):
        return cached["fields"]
    available = task_fields_available(client.describe(TASK_SOBJECT))
    stream.state = {**stream.state, "task_fields": {
        "connection": key, "fields": available, "checked_at": timezone.now().isoformat()}}
    delivery_stream_state_save(Delivery.Target.SALESFORCE, stream.state)
    return available
