"""The initial sync started from the API runs in a real Celery worker process."""

import time
import uuid

import pytest
from sandboxes import MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET, UnthrottledSandbox
from seed_expectations import qualifying_leads
from subprocess_env import celery_worker

from people.models import Person
from salesactions.celery import app as celery_app
from syncing.models import MarketoConnection, SyncRun


@pytest.mark.django_db(transaction=True)
def test_start_sync_from_the_api_is_done_by_a_worker(admin_client, marketo_sandbox):
    leads = 400
    marketo_sandbox.reset(leads=leads, **UnthrottledSandbox.LIMITS)
    MarketoConnection(base_url=marketo_sandbox.base_url, client_id=MARKETO_CLIENT_ID,
                      client_secret=MARKETO_CLIENT_SECRET).save()
    # A queue of this test's own, so the worker takes no stale message from another run.
    queue = f"test-{uuid.uuid4().hex[:8]}"
    celery_app.conf.task_default_queue = queue
    worker = celery_worker(queue)
    try:
        response = admin_client.post("/api/v1/sync/runs/", {"kind": "initial"},
                                     content_type="application/json")
        assert response.status_code == 202
        run_id = response.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            run = SyncRun.objects.get(pk=run_id)
            if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED):
                break
            assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
            time.sleep(0.2)
    finally:
        celery_app.conf.task_default_queue = "celery"
        worker.terminate()
        worker.wait(timeout=30)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert set(Person.workspace.values_list("marketo_id", flat=True)) == set(
        qualifying_leads(leads))
