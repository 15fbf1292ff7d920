"""Fixtures for sales email: the app connected to the sandboxes, seed people of each Salesforce
shape, a private cache (the SMTP server on loopback, ``mailbox``, is in tests/conftest.py)."""

import pytest
from django.core.cache import cache


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
