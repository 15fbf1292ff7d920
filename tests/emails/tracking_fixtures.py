"""Fixtures of the tracking and event tests (imported by name into each test module, so they do
not depend on the ``emails`` tests' conftest): a sent email to a seed person, a clean outbox,
the tracking buffer on a real Redis (``redis_server``, tests/conftest.py), and the signals
received."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

from emails.models import SalesEmail
from emails.signals import email_status_changed
from people.models import Person
from people.services import person_apply_leads
from sandbox import seed

SEED_LEADS = 2000


@pytest.fixture(autouse=True)
def clean_outbox(settings):
    """Retries due at once, a private cache, and the
    tracking switches read fresh on every hit; no Redis buffer unless a test asks for one."""
    from emails.tracking_views import switches

    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    settings.OUTBOX_LINGER_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "email-tracking-tests"}}
    settings.EMAIL_TRACKING_SWITCH_SECONDS = 0
    settings.EMAIL_TRACKING_REDIS_URL = None
    settings.SITE_URL = "http://testserver"
    cache.clear()
    switches.forget()


@pytest.fixture
def person(db) -> Person:
    lead = next(seed.lead(n, 1, SEED_LEADS) for n in range(1, SEED_LEADS + 1)
                if seed.lead(n, 1, SEED_LEADS)["leadOwnerEmailAddress"]
                and seed.lead(n, 1, SEED_LEADS)["email"]
                and not seed.lead(n, 1, SEED_LEADS)["unsubscribed"])
    person_apply_leads([lead])
    return Person.objects.get(marketo_id=lead["id"])


@pytest.fixture
def make_email(db, seller, person):
    """``make(status="sent", **fields)``: a sales email as the sender leaves it after sending."""

    def make(status: str = "sent", **fields) -> SalesEmail:
        values = {"person": person, "sender": seller, "to_email": person.email,
                  "subject": "Our pricing", "body": "Hello", "status": status,
                  "message_id": f"<{uuid.uuid4().hex}@sales.example.com>"} | fields
        return SalesEmail.objects.create(**values)

    return make


@pytest.fixture
def sent_email(make_email) -> SalesEmail:
    return make_email()


@pytest.fixture
def signals_received():
    """The ``email_status_changed`` signals sent, as (email id, status)."""
    received = []

    def listener(sender, email, status, **kwargs):
        received.append((email.pk, status))

    email_status_changed.connect(listener, weak=False, dispatch_uid="tracking-tests")
    yield received
    email_status_changed.disconnect(dispatch_uid="tracking-tests")


@pytest.fixture
def tracking_redis(settings, redis_server):
    """The tracking buffer on a real Redis, emptied before and after the test."""
    from emails.tracking_buffer import _redis, buffer_key

    settings.EMAIL_TRACKING_REDIS_URL = redis_server
    client = _redis()
    client.delete(buffer_key(), f"{buffer_key()}:lock")
    yield client
    client.delete(buffer_key(), f"{buffer_key()}:lock")


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed(): ...``: run what the block left for after commit (the test's own
    transaction never commits), as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
