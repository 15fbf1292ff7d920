"""An unsubscribe recorded through the API reaches Salesforce by the real path: the flush is
enqueued after commit and a real Celery worker process sends it."""

import pytest
from conftest import sf_record
from factories import UserFactory
from rest_framework.authtoken.models import Token
from subprocess_env import celery_worker, worker_wait_for

from syncing.models import SyncSettings


@pytest.mark.django_db(transaction=True)
def test_an_unsubscribe_is_pushed_by_a_worker_with_the_periodic_sync_off(
        client, salesforce_connected, seed_people, private_queue):
    contact, = seed_people("contact")
    assert not SyncSettings.load().unsubscribe_sync_enabled
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=UserFactory())}"
    worker = celery_worker(private_queue, OUTBOX_LINGER_SECONDS="0")
    try:
        response = client.post("/api/v1/unsubscribes/", {"person": contact.pk},
                               content_type="application/json")
        assert response.status_code == 201
        worker_wait_for(
            lambda: sf_record(salesforce_connected, contact)["HasOptedOutOfEmail"],
            "the unsubscribe to reach Salesforce", worker, seconds=120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert sf_record(salesforce_connected, contact)["HasOptedOutOfEmail"] is True
    pushed = client.get(f"/api/v1/unsubscribes/{response.json()['id']}/").json()
    assert pushed["salesforce_push"] == "delivered"
