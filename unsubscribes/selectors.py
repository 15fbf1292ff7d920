"""Reads of unsubscribes, and the one suppression rule every sender and list uses.

Suppression is by address, ignoring case: an address is suppressed while an unsubscribe is in
force that was recorded for it, or that belongs to a person in the workspace who has it now
(duplicates by email share their fate; a new address Marketo gives an unsubscribed person is
suppressed too). A person is unsubscribed when they have an unsubscribe in force or their
address is suppressed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import BooleanField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Upper

from people.models import Person

from .models import Unsubscribe


def unsubscribes_in_force() -> QuerySet[Unsubscribe]:
    return Unsubscribe.objects.filter(removed_at__isnull=True)


def _address_key(email: str) -> str:
    return (email or "").strip().upper()


def _found(queryset: QuerySet) -> Subquery:
    """``true`` when the queryset has a row, else NULL: a scalar subquery, one index probe per
    outer row (PostgreSQL plans an ``EXISTS`` in a select list over a big table as a hash of
    every unsubscribe, built on each page view)."""
    return Subquery(queryset.order_by().annotate(yes=Value(True)).values("yes")[:1],
                    output_field=BooleanField())


def person_unsubscribed_expression():
    """For a ``Person`` queryset: whether the person is unsubscribed (see the module)."""
    in_force = unsubscribes_in_force()
    own = in_force.filter(person=OuterRef("pk"))
    recorded_for_address = (in_force.alias(address=Upper("email"))
                            .filter(email__gt="", address=Upper(OuterRef("email"))))
    address_holder = (in_force.alias(address=Upper("person__email"))
                      .filter(person__in_workspace=True, person__email__gt="",
                              address=Upper(OuterRef("email"))))
    # COALESCE stops at the first answer: most rows need only the first probe.
    return Coalesce(_found(own), _found(recorded_for_address), _found(address_holder),
                    Value(False), output_field=BooleanField())


def people_with_unsubscribed(people: QuerySet[Person]) -> QuerySet[Person]:
    """``people`` with ``unsubscribed`` (a boolean) on each."""
    return people.annotate(unsubscribed=person_unsubscribed_expression())


def people_filter_unsubscribed(people: QuerySet[Person], unsubscribed: bool) -> QuerySet[Person]:
    """Only the unsubscribed people (``True``) or only the others (``False``)."""
    return people.alias(_unsubscribed=person_unsubscribed_expression()).filter(
        _unsubscribed=unsubscribed)


def addresses_suppressed(emails: Iterable[str]) -> set[str]:
    """Those of ``emails`` that are suppressed, as given (two queries for any number)."""
    by_key: dict[str, list[str]] = {}
    for email in emails:
        if _address_key(email):
            by_key.setdefault(_address_key(email), []).append(email)
    if not by_key:
        return set()
    keys = list(by_key)
    in_force = unsubscribes_in_force()
    found = set(in_force.annotate(address=Upper("email")).filter(address__in=keys)
                .values_list("address", flat=True))
    found |= set(in_force.annotate(address=Upper("person__email"))
                 .filter(person__in_workspace=True, address__in=keys)
                 .values_list("address", flat=True))
    return {email for key in found for email in by_key.get(key, [])}


def is_suppressed(email: str) -> bool:
    """Whether no sales email may go to ``email`` because of an unsubscribe in the app."""
    return bool(addresses_suppressed([email]))


def person_unsubscribe_in_force(person: Person) -> Unsubscribe | None:
    return unsubscribes_in_force().filter(person=person).first()


def person_unsubscribe_history(person: Person) -> list[Unsubscribe]:
    """Every unsubscribe of the person, in force and removed, newest first."""
    return list(person.unsubscribes.select_related("created_by", "removed_by"))


@dataclass(frozen=True)
class UnsubscribeCriteria:
    """What narrows the unsubscribes list. ``None`` does not filter."""

    person_id: int | None = None
    source: str | None = None
    in_force: bool | None = None


def unsubscribe_list(criteria: UnsubscribeCriteria = UnsubscribeCriteria()
                     ) -> QuerySet[Unsubscribe]:
    """Unsubscribes of everyone (suppression is global), newest first."""
    unsubscribes = Unsubscribe.objects.select_related("created_by", "removed_by")
    if criteria.person_id is not None:
        unsubscribes = unsubscribes.filter(person_id=criteria.person_id)
    if criteria.source:
        unsubscribes = unsubscribes.filter(source=criteria.source)
    if criteria.in_force is not None:
        unsubscribes = unsubscribes.filter(Q(removed_at__isnull=criteria.in_force))
    return unsubscribes.order_by("-created_at", "-id")
