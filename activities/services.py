"""Writes: logging calls (with their outbox deliveries) and the admin's dialer settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from analytics.rollups import rollups_recount, slices
from syncing.calls.senders import KIND as CALL_KIND
from syncing.models import Delivery
from syncing.outbox.queue import deliveries_build, deliveries_save
from syncing.outbox.skips import person_skip_rules

from .models import (
    MAX_CALL_NOTES,
    MAX_CALL_OUTCOMES,
    MAX_CALL_REASONS,
    Call,
    CallOutcome,
    CallReason,
    CallSettings,
    CallStatus,
)
from .selectors import call_settings_get

MAX_CALL_DURATION = 24 * 3600
# Older dates are typos (year 1, 0202); no system the app feeds holds calls from before.
EARLIEST_CALL = datetime(2000, 1, 1, tzinfo=UTC)
# Clocks of browsers and API clients drift a little; a call further ahead is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)

SKIP_SALESFORCE_OFF = "Logging calls to Salesforce is switched off on Settings."


@dataclass
class CallInput:
    """A call as a seller or an API client gives it, before it is checked."""

    person: object
    outcome: str = ""
    reason: str = ""
    notes: str = ""
    duration_seconds: int = 0
    phone_number: str | None = None  # None: the person's phone
    called_at: datetime | None = None  # None: now


def _clean(data: CallInput, call_settings: CallSettings, outcomes: dict[str, CallOutcome],
           reasons: dict[str, CallReason], now: datetime) -> Call:
    """The call to save, or ValidationError with the offending fields."""
    errors: dict[str, str] = {}
    person = data.person
    if person is None or not getattr(person, "in_workspace", False):
        errors["person"] = _("No such person in the workspace.")
    outcome = None
    mode = call_settings.outcome_mode
    name = (data.outcome or "").strip()
    if name:
        outcome = outcomes.get(name.casefold())
        if mode == CallSettings.OutcomeMode.OFF:
            errors["outcome"] = _("Call outcomes are switched off.")
        elif outcome is None:
            errors["outcome"] = _("Unknown outcome %(name)s; choose one of the outcomes on "
                                      "Settings.") % {"name": repr(name)}
    elif mode == CallSettings.OutcomeMode.REQUIRED:
        errors["outcome"] = _("Choose the call's outcome.")
    reason = None
    reason_name = (data.reason or "").strip()
    if reason_name:
        reason = reasons.get(reason_name.casefold())
        if reason is None:
            errors["reason"] = _("Unknown reason %(name)s.") % {"name": repr(reason_name)}
    duration = data.duration_seconds or 0
    if not 0 <= duration <= MAX_CALL_DURATION:
        errors["duration_seconds"] = _("The duration must be between 0 and 24 hours.")
    called_at = data.called_at or now
    if called_at > now + FUTURE_TOLERANCE:
        errors["called_at"] = _("A call cannot be in the future.")
    elif called_at < EARLIEST_CALL:
        errors["called_at"] = _("A call cannot be before %(date)s.") % {
            "date": EARLIEST_CALL.date().isoformat()}
    notes = (data.notes or "").strip()
    if len(notes) > MAX_CALL_NOTES:
        errors["notes"] = _("At most %(limit)s characters (what a Salesforce Task's "
                            "Description holds); this note has %(show_value)s.") % {
            "limit": number_format(MAX_CALL_NOTES, force_grouping=True),
            "show_value": number_format(len(notes), force_grouping=True)}
    phone = data.phone_number
    if phone is None:
        phone = getattr(person, "phone", "") or ""
    if len(phone) > 40:
        errors["phone_number"] = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", 40) % {"count": 40}
    if errors:
        raise ValidationError(errors)
    return Call(person=person, outcome=outcome.name if outcome else "",
                reason=reason.name if reason else "",
                status=outcome.call_status if outcome else CallStatus.COMPLETED,
                notes=notes, duration_seconds=duration,
                phone_number=phone.strip(), called_at=called_at)


def _skip_rules():
    """Why a call for a given person is not sent to a target: a function of the person."""
    return person_skip_rules(salesforce_switch="log_calls_to_salesforce",
                             salesforce_off=SKIP_SALESFORCE_OFF)


def _clean_all(calls: list[CallInput]) -> tuple[list[Call], list[dict[str, list[str]]]]:
    call_settings = call_settings_get()
    outcomes = {outcome.name.casefold(): outcome for outcome in CallOutcome.objects.all()}
    reasons = {reason.name.casefold(): reason for reason in CallReason.objects.all()}
    now = timezone.now()
    cleaned, errors = [], []
    for data in calls:
        try:
            cleaned.append(_clean(data, call_settings, outcomes, reasons, now))
            errors.append({})
        except ValidationError as error:
            errors.append(error.message_dict)
    return cleaned, errors


def calls_check(calls: list[CallInput]) -> list[dict[str, list[str]]]:
    """Each call's ``{field: [messages]}`` (empty when it can be logged), without logging."""
    return _clean_all(calls)[1]


class InvalidCalls(Exception):
    """Some calls of a batch are invalid; ``errors[i]`` is call i's ``{field: [messages]}``
    (empty for a valid one)."""

    def __init__(self, errors: list[dict[str, list[str]]]):
        super().__init__("invalid calls")
        self.errors = errors


class LoggedCall(NamedTuple):
    call: Call
    deliveries: list[Delivery]


def calls_log(*, logged_by, calls: list[CallInput]) -> list[LoggedCall]:
    """Log calls and their deliveries to Salesforce and Marketo in one transaction.

    All or nothing: InvalidCalls names every bad call's fields. Deliveries are sent by the
    outbox once the transaction commits. Returns each call with its new deliveries.
    """
    cleaned, errors = _clean_all(calls)
    if any(errors):
        raise InvalidCalls(errors)
    for call in cleaned:
        call.logged_by = logged_by
    skipped = _skip_rules()
    with transaction.atomic():
        saved = Call.objects.bulk_create(cleaned, batch_size=1000)
        logged = [LoggedCall(call, deliveries_build(kind=CALL_KIND, record=call,
                                                    skipped=skipped(call.person)))
                  for call in saved]
        deliveries_save([delivery for entry in logged for delivery in entry.deliveries])
        rollups_recount(activity=slices((call.called_at, call.logged_by_id) for call in saved))
    return logged


def call_log(*, logged_by, person, **fields) -> Call:
    """Log one call (see ``calls_log``); ``fields`` are those of ``CallInput``.

    Raises ValidationError with the offending fields.
    """
    try:
        return calls_log(logged_by=logged_by,
                         calls=[CallInput(person=person, **fields)])[0].call
    except InvalidCalls as invalid:
        raise ValidationError(invalid.errors[0]) from None


# --------------------------------------------------------------------------- dialer settings


def call_settings_update(*, outcome_mode: str) -> CallSettings:
    call_settings = call_settings_get()
    call_settings.outcome_mode = outcome_mode
    call_settings.full_clean()
    call_settings.save()
    return call_settings


def _check_room(model, limit: int, name: str, full: str) -> str:
    """``full``: the message when the menu holds ``limit`` entries (``%(count)d`` placeholder)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Enter a name.")})
    if model.objects.count() >= limit:
        raise ValidationError({"name": full % {"count": limit}})
    if model.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": _("%(name)s is already there.") % {"name": repr(name)}})
    return name


@transaction.atomic
def call_outcome_create(*, name: str, call_status: str = CallStatus.COMPLETED) -> CallOutcome:
    """Add an outcome at the end of the list (at most 15)."""
    name = _check_room(CallOutcome, MAX_CALL_OUTCOMES, name, ngettext(
        "At most %(count)d call outcome; remove one first.",
        "At most %(count)d call outcomes; remove one first.", MAX_CALL_OUTCOMES))
    outcome = CallOutcome(name=name, call_status=call_status,
                          position=CallOutcome.objects.count())
    outcome.full_clean()
    outcome.save()
    return outcome


def call_outcome_delete(outcome: CallOutcome) -> None:
    """Remove an outcome from the menu; calls logged with it keep its name."""
    outcome.delete()


@transaction.atomic
def call_reason_create(*, name: str) -> CallReason:
    """Add a reason at the end of the list (at most 15)."""
    name = _check_room(CallReason, MAX_CALL_REASONS, name, ngettext(
        "At most %(count)d call reason; remove one first.",
        "At most %(count)d call reasons; remove one first.", MAX_CALL_REASONS))
    reason = CallReason(name=name, position=CallReason.objects.count())
    reason.full_clean()
    reason.save()
    return reason


def call_reason_delete(reason: CallReason) -> None:
    reason.delete()
