"""Sync health of the campaign scheduler: lag is how long the earliest due step has waited
(paused campaigns don't count); passes that ran steps give the throughput; a failed pass shows."""

from datetime import timedelta

import pytest
from campaign_helpers import CALL, START
from factories import PersonFactory

from campaigns import scheduler
from campaigns.scheduler import campaign_steps_run
from campaigns.services import campaign_status_set, members_add
from syncing.health.registry import Status
from syncing.health.selectors import sync_health
from syncing.models import StreamPass

pytestmark = pytest.mark.django_db


def steps_health(now):
    return next(s for s in sync_health(now).streams if s.name == "campaign_steps")


def test_a_due_step_waiting_lags_then_fails_and_a_paused_campaign_does_not(seller,
                                                                             make_campaign):
    campaign = make_campaign(seller, [CALL])
    members_add(campaign, [PersonFactory().pk], by=seller)
    assert steps_health(START + timedelta(seconds=30)).status == Status.OK
    health = steps_health(START + timedelta(minutes=10))
    assert health.status == Status.LAGGING and health.lag_seconds == 600
    assert steps_health(START + timedelta(hours=2)).status == Status.FAILING
    campaign_status_set(campaign, "paused", by=seller)
    assert steps_health(START + timedelta(hours=2)).status == Status.OK


def test_passes_that_ran_steps_give_the_throughput(seller, make_campaign):
    campaign = make_campaign(seller, [CALL])
    members_add(campaign, [PersonFactory().pk for _ in range(3)], by=seller)
    assert campaign_steps_run().claimed == 3
    assert campaign_steps_run().claimed == 0  # an idle pass logs nothing
    assert list(StreamPass.objects.values_list("stream", "rows", "ok")) == [
        ("campaign_steps", 3, True)]
    health = steps_health(None)
    assert health.throughput_last_hour == 3 and health.unit == "steps"


def test_a_failed_step_is_logged_and_shown(seller, make_campaign, monkeypatch):
    campaign = make_campaign(seller, [CALL])
    members_add(campaign, [PersonFactory().pk], by=seller)

    def broken(*args, **kwargs):
        raise RuntimeError("reminders are down")

    monkeypatch.setattr(scheduler, "task_create", broken)
    assert campaign_steps_run().results == {"failed": 1}  # the others would go on
    health = steps_health(None)
    assert health.errors_last_hour == 1 and health.status == Status.LAGGING
    assert "1 steps failed" in health.last_error and "reminders are down" in health.last_error
