"""Fixtures for calls and their delivery: the app connected to both sandboxes, seed people of
each Salesforce shape, and a clean outbox state per test."""


import pytest
from django.core.cache import cache
from sandboxes import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET

from people.models import Person
from people.services import person_apply_leads
from sandbox import seed
from syncing.models import SalesforceConnection
from syncing.outbox import streams

SEED_LEADS = 2000


def seed_numbers(kind: str, count: int = 1) -> list[int]:
    """Seed lead numbers of one shape: ``contact_opportunity``, ``contact_account``, ``lead``
    (a Salesforce Lead), ``no_salesforce`` (owned, but in no Salesforce record)."""
    numbers = []
    for number in range(1, SEED_LEADS + 1):
        lead = seed.lead(number, 1, SEED_LEADS)
        if not lead["leadOwnerEmailAddress"]:
            continue
        shape = ("contact_opportunity" if lead["sfdcOpptyId"]
                 else "contact_account" if lead["sfdcContactId"]
                 else "lead" if lead["sfdcLeadId"] else "no_salesforce")
        if shape == kind:
            numbers.append(number)
            if len(numbers) == count:
                return numbers
    raise AssertionError(f"not enough {kind} seed leads")


@pytest.fixture
def seed_people(db):
    """Make people of one shape from seed leads, stored as the Marketo sync stores them."""

    def make(kind: str, count: int = 1) -> list[Person]:
        numbers = seed_numbers(kind, count)
        person_apply_leads(seed.lead(number, 1, SEED_LEADS) for number in numbers)
        by_id = Person.objects.in_bulk(numbers, field_name="marketo_id")
        return [by_id[number] for number in numbers]

    return make


@pytest.fixture
def salesforce_connected(db, salesforce_sandbox):
    """The app connected to a freshly reset Salesforce sandbox."""
    SalesforceConnection(url=salesforce_sandbox.base_url,
                         client_id=SALESFORCE_CLIENT_ID,
                         client_secret=SALESFORCE_CLIENT_SECRET,
                         api_version="62.0").save()
    return salesforce_sandbox


@pytest.fixture
def both_connected(salesforce_connected, marketo_connected):
    return salesforce_connected, marketo_connected


@pytest.fixture(autouse=True)
def clean_outbox(settings):
    """No client, token or type registration carried over from another test; retries come due
    at once; a private cache for the flush debounce."""
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    settings.OUTBOX_LINGER_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "activities-tests"}}
    cache.clear()
    streams.delivery_clients_reset()
    yield
    streams.delivery_clients_reset()


@pytest.fixture(autouse=True)
def _outcomes_from_the_test(request):
    """Each test here sets up the call outcomes it needs: the defaults a fresh install has
    (activities/migrations/0002) are removed first (tests/api/test_conventions.py checks them)."""
    if {"db", "transactional_db", "live_server"} & set(request.fixturenames) or \
            request.node.get_closest_marker("django_db"):
        from activities.models import CallOutcome

        CallOutcome.objects.all().delete()
