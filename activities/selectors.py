"""Reads: dialer settings and a person's activity history with each item's delivery state."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from syncing.models import Delivery

from .models import Call, CallOutcome, CallReason, CallSettings

HISTORY_LIMIT = 50


def call_settings_get() -> CallSettings:
    return CallSettings.load()


def call_outcome_list() -> list[CallOutcome]:
    return list(CallOutcome.objects.all())


def call_reason_list() -> list[CallReason]:
    return list(CallReason.objects.all())


def _deliveries() -> Prefetch:
    # Salesforce first, then Marketo.
    return Prefetch("deliveries", queryset=Delivery.objects.order_by("-target"))


def _with_deliveries(calls: QuerySet) -> QuerySet:
    return calls.select_related("logged_by", "person").prefetch_related(_deliveries())


def call_list_for_user(user) -> QuerySet:
    """The calls ``user`` may see, newest first, with their deliveries: a seller their own,
    an admin everyone's."""
    calls = Call.objects.all() if user.is_admin else Call.objects.filter(logged_by=user)
    return _with_deliveries(calls)


@dataclass(frozen=True)
class HistoryItem:
    """One entry of a person's activity history (calls today; emails and tasks later)."""

    kind: str
    activity: Call
    deliveries: list[Delivery]

    @property
    def in_flight(self) -> bool:
        return any(d.status in (Delivery.Status.PENDING, Delivery.Status.IN_PROGRESS)
                   for d in self.deliveries)


def person_activity_history(person, limit: int = HISTORY_LIMIT) -> list[HistoryItem]:
    """The person's latest activities, newest first, each with its delivery states."""
    calls = _with_deliveries(Call.objects.filter(person=person))[:limit]
    return [HistoryItem("call", call, list(call.deliveries.all())) for call in calls]
