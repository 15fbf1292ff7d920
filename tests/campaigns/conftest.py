"""Fixtures for campaigns: a controllable clock, a campaign builder, a clean outbox."""

from datetime import UTC, datetime

import pytest
from django.core.cache import cache

from campaigns import clock
from syncing.outbox import streams

START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # a Monday


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
    streams.delivery_clients_reset()
    yield
    streams.delivery_clients_reset()


@pytest.fixture
def make_campaign(db):
    from campaigns.services import campaign_create, campaign_status_set

    def make(owner, steps, *, status="active", name="Spring outreach", **extra):
        campaign = campaign_create(owner=owner, name=name, steps=steps, **extra)
        if status != "draft":
            campaign = campaign_status_set(campaign, status, by=owner)
        return campaign

    return make


CALL = {"type": "call", "day_offset": 0, "name": "Intro call", "details": "Ask about Q2."}
INMAIL = {"type": "inmail", "day_offset": 2, "name": "InMail follow-up"}
CUSTOM = {"type": "custom", "day_offset": 5, "name": "Send a gift"}
