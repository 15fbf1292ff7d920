"""Starting the initial sync and watching sync state, from the settings page and the API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from syncing import tasks
from syncing.models import SyncRun, SyncStream

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """Task messages the code publishes (the broker itself is exercised by the worker test)."""
    sent = []
    monkeypatch.setattr(tasks.people_initial_sync_task, "delay", lambda *a: sent.append(a))
    monkeypatch.setattr(tasks.people_incremental_task, "delay", lambda *a: sent.append(a))
    return sent


def test_settings_page_shows_a_never_run_people_sync_with_a_start_button(admin_client):
    page = admin_client.get("/settings/").content.decode()

    assert "People from Marketo" in page
    assert "Never run" in page
    assert "Start sync" in page


def test_start_sync_button_queues_the_initial_run_after_commit(
        admin_client, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/settings/people-sync/start/", HTTP_HX_REQUEST="true")

    run = SyncRun.objects.get()
    assert enqueued == [(run.pk,)]
    assert run.kind == "initial" and run.status == "queued"
    assert "Running" in response.content.decode()
    assert 'hx-trigger="every 2s"' in response.content.decode()  # live progress


def test_api_starts_the_initial_sync_and_a_second_start_resumes_the_same_run(
        admin_client, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = admin_client.post("/api/v1/sync/runs/", {"kind": "initial"},
                                  content_type="application/json")
        second = admin_client.post("/api/v1/sync/runs/", {"kind": "initial"},
                                   content_type="application/json")

    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["status"] == "queued"
    assert len(enqueued) == 2
    listed = admin_client.get("/api/v1/sync/runs/").json()
    assert [run["id"] for run in listed["results"]] == [first.json()["id"]]


def test_api_rejects_an_unknown_kind_with_a_field_error(admin_client, enqueued):
    response = admin_client.post("/api/v1/sync/runs/", {"kind": "everything"},
                                 content_type="application/json")

    assert response.status_code == 400
    assert "kind" in response.json()
    assert not SyncRun.objects.exists()


def test_sellers_cannot_see_or_start_syncs(seller_client):
    assert seller_client.get("/api/v1/sync/runs/").status_code == 403
    assert seller_client.post("/api/v1/sync/runs/", {"kind": "initial"},
                              content_type="application/json").status_code == 403
    assert seller_client.post("/settings/people-sync/start/").status_code == 403


def test_failing_stream_shows_marketos_message(admin_client):
    SyncStream.objects.create(name="people", status="failing", cursor={"lead_changes": "x"},
                              last_error="606: Max rate limit '100' exceeded with in '20' secs")
    SyncRun.objects.create(kind="initial", status="succeeded")

    page = admin_client.get("/settings/people-sync/").content.decode()

    assert "Failing" in page
    assert "Max rate limit &#x27;100&#x27; exceeded" in page


def test_switching_people_sync_off_shows_paused_and_stops_the_tick(
        admin_client, enqueued):
    SyncStream.objects.create(name="people", status="healthy", cursor={"lead_changes": "x"})
    SyncRun.objects.create(kind="initial", status="succeeded")
    admin_client.patch("/api/v1/sync/settings/", {"people_sync_enabled": False},
                       content_type="application/json")

    tasks.sync_tick()

    assert enqueued == []
    assert "Paused" in admin_client.get("/settings/people-sync/").content.decode()


def test_the_tick_an_interval_after_the_last_pass_starts_the_next(enqueued):
    """The last pass stamped its attempt a moment after the tick that started it; the tick one
    interval (60 s) later comes that moment short of it, and starts the pass all the same
    instead of leaving it to the tick after (65 s)."""
    stream = SyncStream.objects.create(name="people", cursor={"lead_changes": "x"},
                                       last_attempt_at=timezone.now() - timedelta(seconds=59.6))
    tasks.sync_tick()
    assert enqueued == [()]

    enqueued.clear()
    stream.last_attempt_at = timezone.now() - timedelta(seconds=55)  # a whole tick early
    stream.lease_until = None
    stream.save()
    tasks.sync_tick()
    assert enqueued == []


def test_tick_starts_a_pass_when_due_and_not_before(enqueued):
    stream = SyncStream.objects.create(name="people", cursor={"lead_changes": "x"},
                                       last_attempt_at=timezone.now())
    tasks.sync_tick()
    assert enqueued == []

    stream.last_attempt_at = timezone.now() - timedelta(seconds=61)
    stream.save()
    tasks.sync_tick()
    assert enqueued == [()]


def test_tick_resumes_an_initial_run_whose_worker_died(enqueued, settings):
    settings.SYNC_STALE_HEARTBEAT_SECONDS = 90
    stale = SyncRun.objects.create(kind="initial", status="running",
                                   heartbeat_at=timezone.now() - timedelta(minutes=5))

    tasks.sync_tick()

    assert (stale.pk,) in enqueued


def test_a_pass_queued_behind_one_that_ran_since_does_nothing(monkeypatch):
    """Beat's tick enqueues a pass every few seconds while one is due: those still queued when
    a pass has run find it no longer due and start none (the interval counts from it)."""
    from syncing.mirror import incremental

    passes = []
    monkeypatch.setattr(tasks, "people_incremental_pass", lambda: passes.append(1))
    stream = incremental.people_stream()
    stream.cursor = {"lead_changes": "token"}
    stream.last_attempt_at = timezone.now() - timedelta(hours=1)
    stream.save()
    settings = incremental.sync_settings_get()
    settings.people_sync_enabled = True
    settings.save()

    tasks.people_incremental_task()
    assert passes == [1]
    SyncStream.objects.filter(pk=stream.pk).update(last_attempt_at=timezone.now())
    tasks.people_incremental_task()
    tasks.people_incremental_task()

    assert passes == [1]
