"""Two schedulers at once (threads, each with its own PostgreSQL connection) run every due
step exactly once: SKIP LOCKED hands them disjoint batches."""

import threading

import pytest
from campaign_helpers import CALL, INMAIL
from django.db import connection
from factories import PersonFactory

from campaigns.models import CampaignMember, MemberStep
from campaigns.scheduler import campaign_steps_run
from campaigns.services import members_add
from reminders.models import ReminderTask

MEMBERS = 300


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_schedulers_run_each_step_once(seller, make_campaign):
    if connection.vendor != "postgresql":
        pytest.skip("row locks (SKIP LOCKED) are PostgreSQL's; SQLite runs one writer at a "
                    "time")
    campaign = make_campaign(seller, [CALL, dict(INMAIL, day_offset=0)])
    people = PersonFactory.create_batch(MEMBERS)
    members_add(campaign, [p.pk for p in people], by=seller)
    start = threading.Barrier(2)
    reports, errors = [], []

    def scheduler():
        try:
            start.wait(timeout=60)
            reports.append(campaign_steps_run(batch_size=25))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    # Together they ran every step exactly once.
    assert len(reports) == 2
    assert MemberStep.objects.count() == 2 * MEMBERS
    assert ReminderTask.objects.count() == 2 * MEMBERS
    assert sum(report.results.get("task", 0) for report in reports) == 2 * MEMBERS
    assert set(CampaignMember.objects.values_list("end_reason", flat=True)) == {"completed"}
