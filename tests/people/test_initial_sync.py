"""Initial people sync from the Marketo sandbox (SPEC section 2), over real HTTP."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from sandboxes import MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET, UnthrottledSandbox
from seed_expectations import qualifying_leads
from subprocess_env import subprocess_env

from people import services
from people.models import Person
from people.services import person_apply_leads
from syncing.clients.marketo import MarketoError
from syncing.mirror import initial
from syncing.mirror.initial import initial_run_execute, initial_run_start
from syncing.mirror.state import PeopleSyncError, marketo_client
from syncing.models import MarketoConnection, SyncRun, SyncStream

pytestmark = pytest.mark.django_db

LEADS = 600


def quick_backoff_client():
    """The real client over real HTTP, with its backoff waits cut short so tests stay fast."""
    return marketo_client(sleep=lambda seconds: time.sleep(min(seconds, 0.05)))


def run_initial_sync():
    run, _ = initial_run_start()
    return initial_run_execute(run)


def workspace_ids():
    return set(Person.workspace.values_list("marketo_id", flat=True))


def test_initial_sync_gives_exactly_the_qualifying_leads(marketo_connected):
    marketo_connected.reset(leads=LEADS)
    expected = qualifying_leads(LEADS)

    run = run_initial_sync()

    assert run.status == SyncRun.Status.SUCCEEDED and run.method == SyncRun.Method.BULK
    assert run.windows_total > 1 and run.windows_done == run.windows_total
    assert workspace_ids() == set(expected)
    assert run.people_written == len(expected) and run.leads_read == LEADS
    assert Person.objects.count() == len(expected)  # leads without an owner are not stored
    for marketo_id in (1, 97, 100, 194, 401):
        if marketo_id not in expected:
            continue
        lead, person = expected[marketo_id], Person.objects.get(marketo_id=marketo_id)
        assert person.first_name == lead["firstName"]
        assert person.last_name == (lead["lastName"] or "")
        assert person.email == (lead["email"] or "")
        assert person.company == lead["company"]
        assert person.title == (lead["title"] or "")
        assert person.phone == (lead["phone"] or "")
        assert person.linkedin_url == (lead["linkedInProfileURL"] or "")
        assert person.source == lead["leadSource"]
        assert person.sfdc_contact_id == (lead["sfdcContactId"] or "")
        assert person.sfdc_lead_id == (lead["sfdcLeadId"] or "")
        assert person.sfdc_account_id == (lead["sfdcAccountId"] or "")
        assert person.sfdc_opportunity_id == (lead["sfdcOpptyId"] or "")
        assert person.sfdc_owner_id == lead["sfdcLeadOwnerId"]
        assert person.owner_email == lead["leadOwnerEmailAddress"]
        assert person.owner_name == f"{lead['leadOwnerFirstName']} {lead['leadOwnerLastName']}"


def test_duplicates_by_email_are_two_people(marketo_connected):
    marketo_connected.reset(leads=LEADS)
    expected = qualifying_leads(LEADS)
    pairs = [(i - 1, i) for i in range(50, LEADS + 1, 50)
             if i - 1 in expected and i in expected and expected[i]["email"]]
    assert pairs, "the seed should have an owned duplicate pair"

    run_initial_sync()

    first, second = pairs[0]
    people = Person.workspace.filter(email=expected[second]["email"])
    assert {person.marketo_id for person in people} >= {first, second}


def test_markup_and_unicode_are_stored_as_given(marketo_connected):
    marketo_connected.reset(leads=LEADS)
    expected = qualifying_leads(LEADS)

    run_initial_sync()

    for marketo_id, lead in expected.items():
        if "<" in lead["firstName"] or not lead["firstName"].isascii():
            assert Person.objects.get(marketo_id=marketo_id).first_name == lead["firstName"]


def test_falls_back_to_leads_json_when_bulk_extract_is_not_enabled(marketo_connected):
    marketo_connected.reset(leads=LEADS, bulk_extract_enabled=False)

    run = run_initial_sync()

    assert run.method == SyncRun.Method.LEADS
    assert run.state["fallback_reason"]
    assert workspace_ids() == set(qualifying_leads(LEADS))


def test_rerun_removes_people_deleted_or_disowned_meanwhile(marketo_connected):
    marketo_connected.reset(leads=LEADS)
    expected = qualifying_leads(LEADS)
    run_initial_sync()
    deleted, disowned = sorted(expected)[:2]
    marketo_connected.call("DELETE", f"leads/{deleted}")
    marketo_connected.call("PATCH", f"leads/{disowned}", json={"fields": {"sfdcLeadOwnerId": None}})

    run = run_initial_sync()

    assert workspace_ids() == set(expected) - {deleted, disowned}
    assert Person.objects.get(marketo_id=deleted).removed_reason == Person.RemovedReason.DELETED
    assert (Person.objects.get(marketo_id=disowned).removed_reason
            == Person.RemovedReason.OWNER_CLEARED)
    assert run.people_removed == 1 and run.people_left == 1


def test_rate_limits_and_expired_tokens_mid_run_are_survived(marketo_connected):
    marketo_connected.reset(leads=LEADS)
    marketo_connected.fault("606", path="/bulk/", count=3)
    marketo_connected.fault("615", path="/bulk/", count=2, skip=5)
    marketo_connected.fault("602", path="/bulk/", count=2, skip=10)
    run, _ = initial_run_start()

    initial_run_execute(run, quick_backoff_client())

    assert run.status == SyncRun.Status.SUCCEEDED
    assert workspace_ids() == set(qualifying_leads(LEADS))


def test_a_brief_marketo_outage_is_retried_through(marketo_connected):
    marketo_connected.reset(leads=LEADS)
    marketo_connected.fault("http_503", path="file.json", count=2)

    assert run_initial_sync().status == SyncRun.Status.SUCCEEDED
    assert workspace_ids() == set(qualifying_leads(LEADS))


def test_a_long_outage_stops_the_run_resumably_and_resume_finishes_it(marketo_connected):
    marketo_connected.reset(leads=LEADS)
    marketo_connected.fault("http_503", path="file.json", count=1000, skip=3)
    run, _ = initial_run_start()

    with pytest.raises(MarketoError):
        initial_run_execute(run, quick_backoff_client())
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and "503" in run.error
    assert 0 < run.windows_done < run.windows_total
    assert SyncStream.objects.get(name="people").status == SyncStream.Status.FAILING

    marketo_connected.clear_faults()
    resumed, created = initial_run_start()
    assert resumed.pk == run.pk and not created
    initial_run_execute(resumed)

    assert resumed.status == SyncRun.Status.SUCCEEDED
    assert workspace_ids() == set(qualifying_leads(LEADS))


def test_odd_values_from_marketo_are_stored_safely(marketo_connected):
    marketo_connected.reset(leads=50)
    created = marketo_connected.call("POST", "leads", json={"fields": {
        "firstName": "  Padded  ", "lastName": "Nul\x00Byte", "email": "not-an-email",
        "title": None, "sfdcLeadOwnerId": "005000000000001AAA",
        "leadOwnerEmailAddress": "Ava.Stone@Example.com"}})

    run_initial_sync()

    person = Person.workspace.get(marketo_id=created["id"])
    assert person.first_name == "Padded"
    assert person.last_name == "NulByte"
    assert person.email == "not-an-email"
    assert person.title == ""
    assert person.owner_email == "ava.stone@example.com"


def test_without_a_marketo_connection_the_run_fails_saying_so(db):
    """Claimed, then unable to make a client: the run is failed with the reason, and the
    people stream with it (it was left "running", no error, before)."""
    assert not MarketoConnection.objects.exists()
    run, _ = initial_run_start()

    with pytest.raises(PeopleSyncError, match="Marketo is not connected"):
        initial_run_execute(run)

    run.refresh_from_db()
    stream = SyncStream.objects.get(name=SyncStream.Name.PEOPLE)
    assert run.status == SyncRun.Status.FAILED and run.failures == 1
    assert "Marketo is not connected" in run.error
    assert stream.status == SyncStream.Status.FAILING and stream.last_error == run.error


def test_a_bad_record_is_skipped_and_reported_without_failing_the_batch(db):
    result = person_apply_leads([
        {"id": "12", "firstName": "Good", "sfdcLeadOwnerId": "005000000000001AAA"},
        {"id": "twelve", "firstName": "Bad", "sfdcLeadOwnerId": "005000000000001AAA"},
        {"id": "", "firstName": "Worse", "sfdcLeadOwnerId": "005000000000001AAA"},
        {"id": "13", "firstName": "N" * 400, "sfdcLeadOwnerId": "005000000000001AAA",
         "updatedAt": "last Tuesday"},
    ])

    assert result.written == 2
    assert Person.objects.get(marketo_id=13).first_name == "N" * 255
    assert [marketo_id for marketo_id, _ in result.skipped] == ["twelve", ""]
    assert "not a number" in result.skipped[0][1]
    assert Person.objects.get(marketo_id=13).marketo_updated_at is None


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_sync_resumes_to_the_same_result(marketo_sandbox, settings):
    leads = 3000
    marketo_sandbox.reset(leads=leads, **UnthrottledSandbox.LIMITS)
    # Slow each file download so the kill lands mid-run.
    marketo_sandbox.fault("latency", path="file.json", latency_ms=150, count=10_000)
    MarketoConnection(base_url=marketo_sandbox.base_url, client_id=MARKETO_CLIENT_ID,
                      client_secret=MARKETO_CLIENT_SECRET).save()
    worker = subprocess.Popen([sys.executable, "manage.py", "sync", "--full"],
                              env=subprocess_env(),
                              cwd=Path(__file__).resolve().parents[2],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            run = SyncRun.objects.filter(kind="initial").first()
            if run and run.windows_done >= 5:
                break
            assert worker.poll() is None, "the sync ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("the sync made no progress")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING  # as a killed worker leaves it
    assert run.windows_done < run.windows_total
    kept_jobs = {w["export_id"] for w in run.state["windows"] if w["status"] == "enqueued"}

    settings.SYNC_STALE_HEARTBEAT_SECONDS = 0  # the heartbeat has stopped: take it over
    settings.MARKETO_CALLS_PER_WINDOW = 100_000
    settings.MARKETO_BULK_POLL_MAX_SECONDS = 0.2
    resumed, created = initial_run_start()
    assert resumed.pk == run.pk and not created
    initial_run_execute(resumed)

    expected = qualifying_leads(leads)
    assert resumed.status == SyncRun.Status.SUCCEEDED
    assert workspace_ids() == set(expected)
    assert Person.objects.count() == len(expected)
    reused = {w["export_id"] for w in resumed.state["windows"]} & kept_jobs
    assert reused == kept_jobs  # export jobs still valid were picked up, not recreated


def secondary_indexes():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'people_person' "
                       "AND indexdef NOT LIKE 'CREATE UNIQUE%%'")
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="a load drops and rebuilds the people indexes on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_while_marketo_is_the_bound_the_load_is_ended_before_the_last_file(
        marketo_connected, monkeypatch):
    """Export jobs slower than the ingest: the trigram index is built and ANALYZE runs while
    windows are still to come; every dropped index exists once the run is done."""
    leads = 600
    marketo_connected.reset(leads=leads)
    # Whether Marketo is the bound is measured (test_the_ingest_pace_...): here it is, and the
    # ingest has caught up each time it looks, whatever this machine's speed.
    monkeypatch.setattr(initial._IngestPace, "marketo_bound", lambda pace: True)
    monkeypatch.setattr(initial._ExportJobs, "file_ready", lambda jobs: False)
    indexes_before = secondary_indexes()
    windows_done_at = {}

    def windows_done() -> tuple[int, int]:
        run = SyncRun.objects.get(kind=SyncRun.Kind.INITIAL)
        return run.windows_done, run.windows_total

    def indexes_build(definitions):
        for definition in definitions:
            windows_done_at[definition.split()[5]] = windows_done()
        initial_indexes_build(definitions)

    def statistics_refresh():
        windows_done_at["ANALYZE"] = windows_done()
        initial_statistics_refresh()

    initial_indexes_build = initial.person_indexes_build
    initial_statistics_refresh = initial.person_statistics_refresh
    monkeypatch.setattr(initial, "person_indexes_build", indexes_build)
    monkeypatch.setattr(services, "person_indexes_build", indexes_build)  # the end's
    monkeypatch.setattr(initial, "person_statistics_refresh", statistics_refresh)

    run = run_initial_sync()

    assert run.status == SyncRun.Status.SUCCEEDED
    assert workspace_ids() == set(qualifying_leads(leads))
    done, total = windows_done_at["person_search_trgm"]
    assert done < total  # built while windows were still to come
    done, total = windows_done_at["ANALYZE"]
    assert total * initial.STATISTICS_AT_WINDOWS_SHARE <= done < total
    assert secondary_indexes() == indexes_before
    # The B-trees were built by the end of the load, after the last window.
    assert all(windows_done_at[name] == (total, total)
               for name in indexes_before - {"person_search_trgm"})


def test_the_ingest_pace_tells_when_marketo_is_the_bound(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(initial.time, "monotonic", lambda: clock[0])
    pace = initial._IngestPace()
    assert not pace.marketo_bound()  # no file yet
    with pace.working():
        clock[0] += 1.0  # writing the first file
    clock[0] += 0.5  # waiting for the next job
    assert not pace.marketo_bound()  # too soon to tell
    clock[0] += 1.0
    assert pace.marketo_bound()  # 1 s working in 2.5 s
    with pace.working():
        clock[0] += 2.0
    assert not pace.marketo_bound()  # 3 s working in 4.5 s: the ingest is the bound
