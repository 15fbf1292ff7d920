"""Fixtures for sellers' mailboxes: the real servers (``imap_server``, ``submission_server``,
``mail_account``) are in tests/conftest.py; here a seller whose mailbox is connected, and the
sending defaults the email tests use."""

import pytest
from django.core.cache import cache
from factories import UserFactory

from mailboxes.services import mailbox_connect


@pytest.fixture(autouse=True)
def mailbox_defaults(settings, monkeypatch):
    settings.SITE_URL = "https://sales.example.com"
    settings.MAILBOX_TIMEOUT = 10
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "mailbox-tests"}}
    cache.clear()
    # The tests run the passes themselves, as the worker taking the message would.
    from celery import Task

    monkeypatch.setattr(Task, "apply_async", lambda task, *args, **kwargs: None)


@pytest.fixture
def no_marketo_check(db):
    """Without a Marketo connection the check would hold every email."""
    from syncing.models import SyncSettings

    sync_settings = SyncSettings.load()
    sync_settings.marketo_unsubscribe_check = False
    sync_settings.save()


@pytest.fixture
def connected(db, mail_account, no_marketo_check):
    """A seller (named Ava Stone) whose mailbox is ``mail_account``, connected."""
    seller = UserFactory(first_name="Ava", last_name="Stone", email=mail_account.address)
    mailbox = mailbox_connect(seller, **mail_account.connect_body())
    mailbox.account = mail_account
    return mailbox
