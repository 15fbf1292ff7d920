"""The initial sync started from the API runs in a real Celery worker process."""

import pytest
from sandboxes import MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET, UnthrottledSandbox
from seed_expectations import qualifying_leads
from subprocess_env import celery_worker, worker_wait_for

from people.models import Person
from syncing.models import MarketoConnection, SyncRun


@pytest.mark.django_db(transaction=True)
def test_start_sync_from_the_api_is_done_by_a_worker(admin_client, marketo_sandbox,
                                                     private_queue):
    leads = 400
    marketo_sandbox.reset(leads=leads, **UnthrottledSandbox.LIMITS)
    MarketoConnection(base_url=marketo_sandbox.base_url, client_id=MARKETO_CLIENT_ID,
                      client_secret=MARKETO_CLIENT_SECRET).save()
    worker = celery_worker(private_queue)
    try:
        response = admin_client.post("/api/v1/sync/runs/", {"kind": "initial"},
                                     content_type="application/json")
        assert response.status_code == 202
        run = SyncRun.objects.filter(pk=response.json()["id"])
        worker_wait_for(lambda: run.get().status in (SyncRun.Status.SUCCEEDED,
                                                     SyncRun.Status.FAILED),
                        "the sync run to end", worker, seconds=120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    run = run.get()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert set(Person.workspace.values_list("marketo_id", flat=True)) == set(
        qualifying_leads(leads))
