"""Writes of unsubscribes: record one (and push it to Salesforce), remove one (admins, with a
reason)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from people.list_cache import people_list_changed
from people.models import Person
from syncing.models import Delivery
from syncing.outbox.queue import deliveries_build, deliveries_save
from syncing.unsubscribes.senders import KIND as UNSUBSCRIBE_KIND

from .models import Unsubscribe
from .signals import unsubscribes_announce

REASON_MAX_LENGTH = 1000
#: Ids per ``IN (...)`` (SQLite takes at most 32,766 parameters a query).
_CHUNK = 5000


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    return (ids[start:start + _CHUNK] for start in range(0, len(ids), _CHUNK))


@dataclass(frozen=True)
class Recorded:
    unsubscribe: Unsubscribe
    created: bool  # False: one was already in force and is returned instead


def unsubscribe_record(person: Person, source: str, *, by: User | None = None,
                       push: bool = True, sales_email_id: int | None = None) -> Recorded:
    """Record that ``person`` asked not to get sales email, unless one is in force already
    (then that one is returned, unchanged: there is never a second). The opt-out is queued for
    the person's Salesforce record in the same transaction (SPEC section 7: always).
    ``sales_email_id``: the email whose link they used."""
    if source not in Unsubscribe.Source.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})
    existing = Unsubscribe.objects.filter(person=person, removed_at__isnull=True).first()
    if existing is not None:
        return Recorded(existing, created=False)
    try:
        with transaction.atomic():
            unsubscribe = Unsubscribe.objects.create(person=person, email=person.email,
                                                     source=source, created_by=by,
                                                     sales_email_id=sales_email_id)
            if push:
                unsubscribes_push([unsubscribe])
            unsubscribes_announce([unsubscribe])
    except IntegrityError:
        # Recorded at the same moment by another request: the unique constraint kept one.
        return Recorded(Unsubscribe.objects.get(person=person, removed_at__isnull=True),
                        created=False)
    return Recorded(unsubscribe, created=True)


def unsubscribes_record_many(people: Iterable[Person], source: str, *,
                             by: User | None = None, push: bool = True,
                             sales_emails: dict[int, int] | None = None) -> list[Unsubscribe]:
    """Record an unsubscribe for each of ``people`` who has none in force (a sync pass, a batch
    of bounces); returns the new ones. A few queries for any number of people. ``push=False``
    is for the Salesforce sync, which pushes only where Salesforce lacks the opt-out.
    ``sales_emails``: person id → the id of the email that caused it (a bounce on it)."""
    sales_emails = sales_emails or {}
    if source not in Unsubscribe.Source.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})
    people = list({person.pk: person for person in people}.values())
    in_force = {person_id for chunk in _chunks([person.pk for person in people])
                for person_id in Unsubscribe.objects.filter(
                    person__in=chunk, removed_at__isnull=True).values_list("person_id", flat=True)}
    new = [Unsubscribe(person=person, email=person.email, source=source, created_by=by,
                       sales_email_id=sales_emails.get(person.pk))
           for person in people if person.pk not in in_force]
    if not new:
        return []
    try:
        with transaction.atomic():
            created = Unsubscribe.objects.bulk_create(new, batch_size=1000)
            if push:
                unsubscribes_push(created)
            unsubscribes_announce(created)
    except IntegrityError:
        # Someone was unsubscribed meanwhile: one at a time, each keeping what is in force.
        with transaction.atomic():
            created = [recorded.unsubscribe for recorded in
                       (unsubscribe_record(u.person, source, by=by, push=push,
                                           sales_email_id=u.sales_email_id) for u in new)
                       if recorded.created]
    # bulk_create sends no post_save: tell the people list cache.
    people_list_changed()
    return created


def unsubscribes_push(unsubscribes: Iterable[Unsubscribe], *, unless_pending: bool = False
                      ) -> list[Unsubscribe]:
    """Queue the opt-out of each unsubscribe for Salesforce, inside the caller's transaction
    (a flush is enqueued once it commits). ``unless_pending``: leave out those whose push is
    still waiting. Returns the ones queued."""
    unsubscribes = list(unsubscribes)
    if unless_pending and unsubscribes:
        pending = Delivery.objects.filter(
            kind=UNSUBSCRIBE_KIND, record_type=ContentType.objects.get_for_model(Unsubscribe),
            status__in=[Delivery.Status.PENDING, Delivery.Status.IN_PROGRESS])
        waiting = {record_id for chunk in _chunks([u.pk for u in unsubscribes])
                   for record_id in pending.filter(record_id__in=chunk)
                   .values_list("record_id", flat=True)}
        unsubscribes = [u for u in unsubscribes if u.pk not in waiting]
    deliveries_save([delivery for unsubscribe in unsubscribes
                     for delivery in deliveries_build(kind=UNSUBSCRIBE_KIND, record=unsubscribe,
                                                      skipped={},
                                                      targets=[Delivery.Target.SALESFORCE])])
    return unsubscribes


def unsubscribe_remove(unsubscribe: Unsubscribe, *, by: User, reason: str) -> Unsubscribe:
    """Take an unsubscribe out of force (admins only, with a reason). It stays in the history,
    and Salesforce is left alone: re-subscribes never sync (SPEC section 7)."""
    if not by.is_admin:
        raise PermissionDenied(_("Only an admin can remove an unsubscribe."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the unsubscribe is removed.")})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": _("At most %(limit)d characters.") % {
            "limit": REASON_MAX_LENGTH}})
    # One conditional UPDATE: of two admins removing it at once, one wins.
    removed = Unsubscribe.objects.filter(pk=unsubscribe.pk, removed_at__isnull=True).update(
        removed_at=timezone.now(), removed_by=by, removed_reason=reason)
    if not removed:
        raise ValidationError({"non_field_errors": _("This unsubscribe was already removed.")})
    # A queryset update sends no post_save: tell the people list cache.
    people_list_changed()
    unsubscribe.refresh_from_db()
    return unsubscribe
