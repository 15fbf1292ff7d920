"""Reads of unsubscribes, and the one suppression rule every sender and list uses.

Suppression is by address, ignoring case: an address is suppressed while an unsubscribe is in
force that was recorded for it, whoever's it is (duplicates by email share their fate). A person
is unsubscribed when they have an unsubscribe in force (whatever address Marketo gives them
later) or their address is suppressed.

One ``EXISTS`` with both conditions: PostgreSQL answers it per person with one BitmapOr of the
two partial indexes of ``Unsubscribe`` (or as a semi-join over a whole list), and estimates
how many people it keeps well enough for the list's "about N".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Upper

from people.models import Person

from .models import Unsubscribe


def unsubscribes_in_force() -> QuerySet[Unsubscribe]:
    return Unsubscribe.objects.filter(removed_at__isnull=True)


def _address_key(email: str) -> str:
    return (email or "").strip().upper()


def _in_force_for_person() -> QuerySet[Unsubscribe]:
    """In a ``Person`` queryset: the person's unsubscribes in force, or any recorded for their
    address."""
    return (unsubscribes_in_force().alias(address=Upper("email"))
            .filter(Q(person=OuterRef("pk"))
                    | Q(email__gt="", address=Upper(OuterRef("email")))))


def people_with_unsubscribed(people: QuerySet[Person]) -> QuerySet[Person]:
    """``people`` with ``unsubscribed`` (a boolean) on each.

    A scalar subquery rather than ``EXISTS`` in the select list: PostgreSQL plans the latter
    over a big table as a hash of every unsubscribe, built on each page view, where this is
    one index probe per row returned (fifty for a page)."""
    first = _in_force_for_person().order_by().annotate(yes=Value(True)).values("yes")[:1]
    return people.annotate(unsubscribed=Coalesce(Subquery(first, output_field=BooleanField()),
                                                 Value(False)))


def suppression_keys() -> tuple[set[int], set[str]]:
    """The rule of :func:`people_with_unsubscribed` as two sets, for reading many people at
    once (an export): the ids of people with an unsubscribe in force, and the suppressed
    addresses upper-cased. A person is unsubscribed when their id is in the first or their
    ``email.upper()`` in the second. Sized by the unsubscribes, not by the people."""
    in_force = unsubscribes_in_force()
    people = set(in_force.values_list("person_id", flat=True))
    addresses = set(in_force.exclude(email="").annotate(address=Upper("email"))
                    .values_list("address", flat=True))
    return people, addresses


def people_filter_unsubscribed(people: QuerySet[Person], unsubscribed: bool) -> QuerySet[Person]:
    """Only the unsubscribed people (``True``) or only the others (``False``)."""
    exists = Exists(_in_force_for_person())
    return people.filter(exists if unsubscribed else ~exists)


def addresses_suppressed(emails: Iterable[str]) -> set[str]:
    """Those of ``emails`` that are suppressed, as given (one query for any number)."""
    by_key: dict[str, list[str]] = {}
    for email in emails:
        if _address_key(email):
            by_key.setdefault(_address_key(email), []).append(email)
    if not by_key:
        return set()
    found = (unsubscribes_in_force().annotate(address=Upper("email"))
             .filter(address__in=list(by_key)).values_list("address", flat=True))
    return {email for key in set(found) for email in by_key.get(key, [])}


def is_suppressed(email: str) -> bool:
    """Whether no sales email may go to ``email`` because of an unsubscribe in the app."""
    return bool(addresses_suppressed([email]))


def person_unsubscribe_history(person: Person) -> list[Unsubscribe]:
    """Every unsubscribe of the person, in force and removed, newest first."""
    return list(person.unsubscribes.select_related("created_by", "removed_by")
                .prefetch_related("deliveries"))


@dataclass(frozen=True)
class UnsubscribeCriteria:
    """What narrows the unsubscribes list. ``None`` does not filter."""

    person_id: int | None = None
    source: str | None = None
    in_force: bool | None = None


def unsubscribe_list(criteria: UnsubscribeCriteria = UnsubscribeCriteria()
                     ) -> QuerySet[Unsubscribe]:
    """Unsubscribes of everyone (suppression is global), newest first."""
    unsubscribes = (Unsubscribe.objects.select_related("created_by", "removed_by")
                    .prefetch_related("deliveries"))
    if criteria.person_id is not None:
        unsubscribes = unsubscribes.filter(person_id=criteria.person_id)
    if criteria.source:
        unsubscribes = unsubscribes.filter(source=criteria.source)
    if criteria.in_force is not None:
        unsubscribes = unsubscribes.filter(Q(removed_at__isnull=criteria.in_force))
    return unsubscribes.order_by("-created_at", "-id")
