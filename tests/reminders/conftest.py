"""Fixtures for the reminder task sync: the app connected to a freshly reset Salesforce
sandbox, seed people of each Salesforce shape, the demo seller Ava (Salesforce User 1 by
email), and a clean outbox per test."""

import pytest
from django.core.cache import cache
from factories import UserFactory
from reminder_helpers import AVA, SEED_LEADS
from sandboxes import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET

from people.models import Person
from people.services import person_apply_leads
from sandbox import seed
from syncing.models import SalesforceConnection


def seed_numbers(kind: str, count: int, owner: str = AVA) -> list[int]:
    """Seed leads owned by ``owner`` of one shape: ``contact``, ``lead``, ``no_salesforce``."""
    numbers = []
    for number in range(1, SEED_LEADS + 1):
        lead = seed.lead(number, 1, SEED_LEADS)
        if lead["leadOwnerEmailAddress"] != owner:
            continue
        shape = ("contact" if lead["sfdcContactId"] else "lead" if lead["sfdcLeadId"]
                 else "no_salesforce")
        if shape == kind:
            numbers.append(number)
            if len(numbers) == count:
                return numbers
    raise AssertionError(f"not enough {kind} seed leads")


@pytest.fixture
def people(db):
    """``people(kind, count)``: seed people of a shape, stored as the Marketo sync stores
    them."""

    def make(kind: str, count: int = 1, owner: str = AVA) -> list[Person]:
        numbers = seed_numbers(kind, count, owner)
        person_apply_leads(seed.lead(number, 1, SEED_LEADS) for number in numbers)
        by_id = Person.objects.in_bulk(numbers, field_name="marketo_id")
        return [by_id[number] for number in numbers]

    return make


@pytest.fixture
def ava(db):
    return UserFactory(username="ava", email=AVA, first_name="Ava", last_name="Stone")


@pytest.fixture
def salesforce(db, salesforce_sandbox):
    """The app connected to a freshly reset Salesforce sandbox (no seed reminder Tasks)."""
    SalesforceConnection(url=salesforce_sandbox.base_url, client_id=SALESFORCE_CLIENT_ID,
                         client_secret=SALESFORCE_CLIENT_SECRET, api_version="62.0").save()
    return salesforce_sandbox


@pytest.fixture(autouse=True)
def clean_outbox(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    settings.OUTBOX_LINGER_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "reminders-tests"}}
    cache.clear()
    yield
