"""The unsubscribe services' rules: never a second in force, sources checked, many at once."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from factories import AdminFactory, PersonFactory, UnsubscribeFactory, UserFactory

from unsubscribes.models import Unsubscribe
from unsubscribes.services import unsubscribe_record, unsubscribe_remove, unsubscribes_record_many

pytestmark = pytest.mark.django_db


def test_recording_many_skips_people_with_one_in_force():
    fresh, covered, removed_before = PersonFactory(), PersonFactory(), PersonFactory()
    existing = UnsubscribeFactory(person=covered)
    UnsubscribeFactory(person=removed_before, removed_at="2026-01-01T00:00Z")

    created = unsubscribes_record_many([fresh, covered, removed_before, fresh], "salesforce")

    assert {u.person_id for u in created} == {fresh.pk, removed_before.pk}
    assert all(u.pk and u.source == "salesforce" and u.created_by is None for u in created)
    assert Unsubscribe.objects.filter(person=covered).get() == existing
    assert Unsubscribe.objects.filter(removed_at__isnull=True).count() == 3


def test_an_unknown_source_is_refused():
    with pytest.raises(ValidationError):
        unsubscribe_record(PersonFactory(), "carrier-pigeon")
    with pytest.raises(ValidationError):
        unsubscribes_record_many([PersonFactory()], "")
    assert not Unsubscribe.objects.exists()


def test_only_admins_remove():
    unsubscribe = UnsubscribeFactory()

    with pytest.raises(PermissionDenied):
        unsubscribe_remove(unsubscribe, by=UserFactory(), reason="because")
    removed = unsubscribe_remove(unsubscribe, by=AdminFactory(), reason=" because ")

    assert removed.removed_reason == "because" and not removed.in_force
