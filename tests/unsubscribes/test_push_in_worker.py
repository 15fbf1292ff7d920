"""An unsubscribe recorded through the API reaches Salesforce by the real path: the flush is
enqueued after commit and a real Celery worker process sends it."""

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import sf_record
from factories import UserFactory
from rest_framework.authtoken.models import Token
from subprocess_env import subprocess_env

from salesactions.celery import app as celery_app
from syncing.models import SyncSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_an_unsubscribe_is_pushed_by_a_worker_with_the_periodic_sync_off(
        client, salesforce_connected, seed_people):
    contact, = seed_people("contact")
    assert not SyncSettings.load().unsubscribe_sync_enabled
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=UserFactory())}"
    # A queue of this test's own, so the worker takes no stale message from another run.
    queue = f"test-{uuid.uuid4().hex[:8]}"
    celery_app.conf.task_default_queue = queue
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "salesactions", "worker", "-Q", queue,
         "--concurrency", "1", "--pool", "solo", "--without-heartbeat", "--without-gossip",
         "--without-mingle", "--loglevel", "WARNING"],
        env=subprocess_env(OUTBOX_LINGER_SECONDS="0"), cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        response = client.post("/api/v1/unsubscribes/", {"person": contact.pk},
                               content_type="application/json")
        assert response.status_code == 201
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if sf_record(salesforce_connected, contact)["HasOptedOutOfEmail"]:
                break
            assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
            time.sleep(0.2)
    finally:
        celery_app.conf.task_default_queue = "celery"
        worker.terminate()
        worker.wait(timeout=30)

    assert sf_record(salesforce_connected, contact)["HasOptedOutOfEmail"] is True
    pushed = client.get(f"/api/v1/unsubscribes/{response.json()['id']}/").json()
    assert pushed["salesforce_push"] == "delivered"
