"""Writes of unsubscribes: record one, remove one (admins, with a reason)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from people.list_cache import people_list_changed
from people.models import Person

from .models import Unsubscribe

REASON_MAX_LENGTH = 1000


@dataclass(frozen=True)
class Recorded:
    unsubscribe: Unsubscribe
    created: bool  # False: one was already in force and is returned instead


def unsubscribe_record(person: Person, source: str, *, by: User | None = None) -> Recorded:
    """Record that ``person`` asked not to get sales email, unless one is in force already
    (then that one is returned, unchanged: there is never a second)."""
    if source not in Unsubscribe.Source.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})
    existing = Unsubscribe.objects.filter(person=person, removed_at__isnull=True).first()
    if existing is not None:
        return Recorded(existing, created=False)
    try:
        with transaction.atomic():
            unsubscribe = Unsubscribe.objects.create(person=person, email=person.email,
                                                     source=source, created_by=by)
    except IntegrityError:
        # Recorded at the same moment by another request: the unique constraint kept one.
        return Recorded(Unsubscribe.objects.get(person=person, removed_at__isnull=True),
                        created=False)
    return Recorded(unsubscribe, created=True)


def unsubscribe_remove(unsubscribe: Unsubscribe, *, by: User, reason: str) -> Unsubscribe:
    """Take an unsubscribe out of force (admins only, with a reason). It stays in the history,
    and Salesforce is left alone: re-subscribes never sync (SPEC section 7)."""
    if not by.is_admin:
        raise PermissionDenied("Only an admin can remove an unsubscribe.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the unsubscribe is removed."})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": f"At most {REASON_MAX_LENGTH} characters."})
    # One conditional UPDATE: of two admins removing it at once, one wins.
    removed = Unsubscribe.objects.filter(pk=unsubscribe.pk, removed_at__isnull=True).update(
        removed_at=timezone.now(), removed_by=by, removed_reason=reason)
    if not removed:
        raise ValidationError({"non_field_errors": "This unsubscribe was already removed."})
    # A queryset update sends no post_save: tell the people list cache.
    people_list_changed()
    unsubscribe.refresh_from_db()
    return unsubscribe
