"""Fixtures for sales email: the app connected to the sandboxes, seed people of each Salesforce
shape, a private cache (the SMTP server on loopback, ``mailbox``, is in tests/conftest.py)."""

import pytest
from django.core.cache import cache
from sandboxes import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET

from people.models import Person
from people.services import person_apply_leads
from sandbox import seed
from syncing.models import SalesforceConnection
from syncing.outbox import streams

SEED_LEADS = 2000


@pytest.fixture(autouse=True)
def email_defaults(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    settings.OUTBOX_LINGER_SECONDS = 0
    settings.SITE_URL = "https://sales.example.com"
    settings.EMAIL_RETRY_BASE_SECONDS = 60
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "emails-tests"}}
    cache.clear()
    streams.delivery_clients_reset()
    yield
    streams.delivery_clients_reset()


@pytest.fixture(autouse=True)
def no_marketo_check(db):
    """Without a Marketo connection the check would hold every email: tests that want the
    check connect Marketo and switch it on themselves (``marketo_check``)."""
    from syncing.models import SyncSettings

    sync_settings = SyncSettings.load()
    sync_settings.marketo_unsubscribe_check = False
    sync_settings.save()


@pytest.fixture
def marketo_check(marketo_connected):
    from syncing.models import SyncSettings

    sync_settings = SyncSettings.load()
    sync_settings.marketo_unsubscribe_check = True
    sync_settings.save()
    return marketo_connected


def seed_numbers(kind: str, count: int = 1) -> list[int]:
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
    """People of one Salesforce shape from the sandboxes' seed leads."""

    def make(kind: str, count: int = 1) -> list[Person]:
        numbers = seed_numbers(kind, count)
        person_apply_leads(seed.lead(number, 1, SEED_LEADS) for number in numbers)
        by_id = Person.objects.in_bulk(numbers, field_name="marketo_id")
        return [by_id[number] for number in numbers]

    return make


@pytest.fixture
def salesforce_connected(db, salesforce_sandbox):
    SalesforceConnection(url=salesforce_sandbox.base_url, client_id=SALESFORCE_CLIENT_ID,
                         client_secret=SALESFORCE_CLIENT_SECRET, api_version="62.0").save()
    return salesforce_sandbox


@pytest.fixture
def no_enqueue(monkeypatch):
    """Record the send and flush enqueues instead of publishing them; the test runs the
    passes itself, as the worker taking the message would."""
    from emails.tasks import emails_send_task
    from syncing.tasks import deliveries_flush_task

    enqueued = []
    monkeypatch.setattr(emails_send_task, "apply_async",
                        lambda *args, **options: enqueued.append("emails"))
    monkeypatch.setattr(deliveries_flush_task, "apply_async",
                        lambda args, **options: enqueued.append(args[0]))
    return enqueued
