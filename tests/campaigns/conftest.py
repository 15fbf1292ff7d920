"""Fixtures for campaigns: a controllable clock, a campaign builder, a clean outbox."""

import pytest
from campaign_helpers import AVA, SEED_LEADS, START
from django.core.cache import cache

from campaigns import clock


@pytest.fixture(autouse=True)
def frozen_clock():
    """The campaigns' clock, starting at ``START``; tests move it with ``clock.advance``."""
    clock.set_now(START)
    yield clock
    clock.set_now(None)


@pytest.fixture(autouse=True)
def clean_outbox(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    settings.OUTBOX_LINGER_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "campaigns-tests"}}
    cache.clear()


@pytest.fixture
def make_campaign(db):
    from campaigns.services import campaign_create, campaign_status_set

    def make(owner, steps, *, status="active", name="Spring outreach", **extra):
        campaign = campaign_create(owner=owner, name=name, steps=steps, **extra)
        if status != "draft":
            campaign = campaign_status_set(campaign, status, by=owner)
        return campaign

    return make




@pytest.fixture
def ava(db):
    from factories import UserFactory

    return UserFactory(username="ava", email=AVA, first_name="Ava", last_name="Stone")


@pytest.fixture
def seed_people(db):
    """``seed_people(kind, count)``: Ava's seed people of one Salesforce shape (``contact``,
    ``lead``, ``no_salesforce``), stored as the Marketo sync stores them."""
    from people.models import Person
    from people.services import person_apply_leads
    from sandbox import seed

    def make(kind: str, count: int = 1):
        numbers = []
        for number in range(1, SEED_LEADS + 1):
            lead = seed.lead(number, 1, SEED_LEADS)
            shape = ("contact" if lead["sfdcContactId"] else "lead" if lead["sfdcLeadId"]
                     else "no_salesforce")
            if lead["leadOwnerEmailAddress"] == AVA and shape == kind and lead["email"]:
                numbers.append(number)
                if len(numbers) == count:
                    break
        person_apply_leads(seed.lead(number, 1, SEED_LEADS) for number in numbers)
        by_id = Person.objects.in_bulk(numbers, field_name="marketo_id")
        return [by_id[number] for number in numbers]

    return make


@pytest.fixture
def salesforce(db, salesforce_sandbox):
    from sandboxes import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET

    from syncing.models import SalesforceConnection

    SalesforceConnection(url=salesforce_sandbox.base_url, client_id=SALESFORCE_CLIENT_ID,
                         client_secret=SALESFORCE_CLIENT_SECRET, api_version="62.0").save()
    return salesforce_sandbox


@pytest.fixture
def mailbox(mailbox, settings):
    """tests/conftest.py's real SMTP server, with links in emails on a public-looking site."""
    settings.SITE_URL = "https://sales.example.com"
    return mailbox


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
