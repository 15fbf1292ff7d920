"""The Salesforce client against the Salesforce sandbox, over real HTTP on loopback."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sandboxes import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET

from syncing.clients.salesforce import ApiUsage, SalesforceClient, SalesforceError

TOKEN = "POST /services/oauth2/token"
LIMITS = "GET /services/data/vXX.X/limits"
COMPOSITE_POST = "POST /services/data/vXX.X/composite/sobjects"


class SleepLog(list):
    """Stands in for ``time.sleep``: records each backoff delay without waiting."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return SleepLog()


@pytest.fixture
def client(salesforce_sandbox, sleeps):
    return SalesforceClient(salesforce_sandbox.base_url, SALESFORCE_CLIENT_ID,
                            SALESFORCE_CLIENT_SECRET, timeout=5, sleep=sleeps)


def calls(sandbox, endpoint):
    """How many API requests the sandbox counted for ``endpoint`` (trailing slash ignored)."""
    by_endpoint = sandbox.counters()["by_endpoint"]
    return sum(n for key, n in by_endpoint.items() if key.rstrip("/") == endpoint)


def stored_tasks(sandbox):
    """Tasks the sandbox holds (not in the recycle bin), by id."""
    return {task["Id"]: task for task in sandbox.call("GET", "records/Task")["records"]
            if not task.get("IsDeleted")}


def task(subject, **fields):
    return {"Subject": subject, "Status": "Completed", "TaskSubtype": "Call",
            "ActivityDate": "2025-01-15", **fields}


# -- authentication --------------------------------------------------------------------------

def test_token_is_fetched_once_and_reused(salesforce_sandbox, client):
    client.limits()
    client.describe("Task")
    client.limits()

    assert calls(salesforce_sandbox, TOKEN) == 1
    assert client.instance_url.startswith("http://127.0.0.1")
    assert client.calls == 4


def test_concurrent_first_calls_share_one_login(salesforce_sandbox, client):
    threads = [threading.Thread(target=client.limits) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert calls(salesforce_sandbox, TOKEN) == 1
    assert calls(salesforce_sandbox, LIMITS) == 8


def test_bad_credentials_raise_permanent_error_with_remote_text(salesforce_sandbox, sleeps):
    remote = requests.post(f"{salesforce_sandbox.base_url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": SALESFORCE_CLIENT_ID,
        "client_secret": "wrong"}, timeout=5).json()
    client = SalesforceClient(salesforce_sandbox.base_url, SALESFORCE_CLIENT_ID, "wrong",
                              sleep=sleeps)

    with pytest.raises(SalesforceError) as raised:
        client.check_connection()

    assert raised.value.permanent
    assert raised.value.code == remote["error"]
    assert raised.value.message == remote["error_description"]
    assert sleeps == []


def test_check_connection_reports_daily_requests(client):
    summary = client.check_connection()

    assert summary["instance_url"] == client.instance_url
    assert summary["daily_api_requests"]["Max"] > 0


@pytest.mark.parametrize("action", ["revoke", "expire"])
def test_dead_session_reauthenticates_once_and_succeeds(salesforce_sandbox, client, action):
    client.limits()
    salesforce_sandbox.call("POST", f"tokens/{action}")

    assert client.describe("Task")["name"] == "Task"
    assert calls(salesforce_sandbox, TOKEN) == 2


def test_invalid_session_fault_reauthenticates(salesforce_sandbox, client):
    client.limits()
    salesforce_sandbox.fault("INVALID_SESSION_ID", path="/limits", count=1)

    assert "DailyApiRequests" in client.limits()
    assert calls(salesforce_sandbox, TOKEN) == 2
    assert calls(salesforce_sandbox, LIMITS) == 3


def test_session_rejected_after_fresh_login_raises(salesforce_sandbox, client):
    salesforce_sandbox.fault("INVALID_SESSION_ID", path="/limits", count=5)

    with pytest.raises(SalesforceError) as raised:
        client.limits()

    assert raised.value.code == "INVALID_SESSION_ID"
    assert raised.value.status == 401
    assert calls(salesforce_sandbox, TOKEN) == 2


# -- retries ---------------------------------------------------------------------------------

def test_server_errors_are_retried_with_growing_backoff(salesforce_sandbox, client, sleeps):
    salesforce_sandbox.fault("http_500", path="/limits", count=2)

    assert "DailyApiRequests" in client.limits()
    assert calls(salesforce_sandbox, LIMITS) == 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5
    assert 0.5 <= sleeps[1] <= 1.0


def test_persistent_server_error_is_transient(salesforce_sandbox, sleeps):
    salesforce_sandbox.fault("http_503", path="/limits", count=10)
    client = SalesforceClient(salesforce_sandbox.base_url, SALESFORCE_CLIENT_ID,
                              SALESFORCE_CLIENT_SECRET, max_attempts=3, sleep=sleeps)

    with pytest.raises(SalesforceError) as raised:
        client.limits()

    assert not raised.value.permanent
    assert raised.value.status == 503
    assert calls(salesforce_sandbox, LIMITS) == 3
    assert len(sleeps) == 2


def test_whole_request_lock_error_is_retried(salesforce_sandbox, client):
    task_id = client.create("Task", task("Lock me"))
    salesforce_sandbox.fault("UNABLE_TO_LOCK_ROW", method="PATCH", count=1)

    client.update("Task", task_id, {"Subject": "Locked, then updated"})

    assert client.get("Task", task_id)["Subject"] == "Locked, then updated"
    assert calls(salesforce_sandbox, "PATCH /services/data/vXX.X/sobjects/Task/{id}") == 2


def test_dropped_read_is_retried(salesforce_sandbox, client):
    salesforce_sandbox.fault("drop", path="/limits", count=1)

    assert "DailyApiRequests" in client.limits()
    assert calls(salesforce_sandbox, LIMITS) == 2


def test_request_limit_exceeded_raises_at_once(salesforce_sandbox, client, sleeps):
    salesforce_sandbox.fault("REQUEST_LIMIT_EXCEEDED", path="/limits", count=5)

    with pytest.raises(SalesforceError) as raised:
        client.limits()

    assert raised.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert raised.value.status == 403
    assert not raised.value.permanent
    assert calls(salesforce_sandbox, LIMITS) == 1
    assert sleeps == []


def test_daily_limit_reached_raises_request_limit_exceeded(salesforce_sandbox, client):
    salesforce_sandbox.configure(daily_api_limit=3)

    with pytest.raises(SalesforceError) as raised:
        for _ in range(5):
            client.limits()

    assert raised.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert calls(salesforce_sandbox, LIMITS) == 4


def test_limit_info_header_is_tracked(salesforce_sandbox, client):
    salesforce_sandbox.configure(daily_api_limit=15000)
    assert client.api_usage is None

    client.limits()
    first = client.api_usage
    client.describe("Task")

    assert first.limit == 15000
    assert client.api_usage == ApiUsage(first.used + 1, 15000)
    assert client.api_usage.share == pytest.approx((first.used + 1) / 15000)


# -- records ---------------------------------------------------------------------------------

def test_task_crud(client):
    task_id = client.create("Task", task("Call Ada"))
    assert client.get("Task", task_id, fields=["Subject", "Status"])["Subject"] == "Call Ada"

    client.update("Task", task_id, {"Subject": "Call Ada again"})
    assert client.get("Task", task_id)["Subject"] == "Call Ada again"

    client.delete("Task", task_id)
    with pytest.raises(SalesforceError) as raised:
        client.get("Task", task_id)
    assert raised.value.status == 404
    assert raised.value.permanent


def test_delete_retried_after_lost_response_succeeds(salesforce_sandbox, client):
    task_id = client.create("Task", task("Delete me"))
    salesforce_sandbox.fault("drop_after_apply", method="DELETE", count=1)

    client.delete("Task", task_id)

    assert calls(salesforce_sandbox, "DELETE /services/data/vXX.X/sobjects/Task/{id}") == 2
    assert task_id not in stored_tasks(salesforce_sandbox)


def test_invalid_field_is_permanent_with_remote_code(client):
    with pytest.raises(SalesforceError) as raised:
        client.create("Task", task("Bad", NoSuchField__c="x"))

    assert raised.value.permanent
    assert raised.value.code == "INVALID_FIELD"
    assert raised.value.errors[0]["errorCode"] == "INVALID_FIELD"


def test_describe_lists_task_fields(client):
    fields = {field["name"] for field in client.describe("Task")["fields"]}

    assert {"Subject", "WhoId", "WhatId", "ActivityDate", "TaskSubtype", "Status"} <= fields


def test_updated_and_deleted_report_changed_tasks(client):
    start = datetime.now(UTC) - timedelta(minutes=5)
    kept = client.create("Task", task("Kept"))
    gone = client.create("Task", task("Gone"))
    client.delete("Task", gone)
    end = datetime.now(UTC) + timedelta(minutes=1)

    assert kept in client.updated("Task", start, end)["ids"]
    assert gone in [record["id"] for record in client.deleted("Task", start, end)["deletedRecords"]]


def test_query_follows_next_records_url(salesforce_sandbox, client):
    created = client.composite_create("Task", [task(f"Page {i}") for i in range(450)])
    salesforce_sandbox.reset_counters()

    records = client.query_all("SELECT Id, Subject FROM Task WHERE Subject LIKE 'Page %'",
                               batch_size=200)

    assert sorted(record["Id"] for record in records) == sorted(r.id for r in created)
    assert records[0]["attributes"]["type"] == "Task"
    assert calls(salesforce_sandbox, "GET /services/data/vXX.X/query") == 1
    assert calls(salesforce_sandbox, "GET /services/data/vXX.X/query/{id}") == 2


# -- sObject Collections ---------------------------------------------------------------------

def test_composite_create_chunks_and_keeps_order(salesforce_sandbox, client):
    results = client.composite_create("Task", [task(f"Call {i}") for i in range(450)])

    assert calls(salesforce_sandbox, COMPOSITE_POST) == 3
    assert all(result.success for result in results)
    stored = stored_tasks(salesforce_sandbox)
    assert [stored[result.id]["Subject"] for result in results] == [
        f"Call {i}" for i in range(450)]


def test_composite_partial_lock_failure_is_transient_per_record(salesforce_sandbox, client):
    salesforce_sandbox.fault("UNABLE_TO_LOCK_ROW", path="/composite/sobjects", records=2)

    results = client.composite_create("Task", [task(f"Batch {i}") for i in range(5)])

    assert [result.transient for result in results] == [True, True, False, False, False]
    assert [result.success for result in results] == [False, False, True, True, True]
    assert results[0].error_code == "UNABLE_TO_LOCK_ROW"
    assert results[0].id is None
    retried = client.composite_create("Task", [task("Batch 0"), task("Batch 1")])
    assert all(result.success for result in retried)
    assert len(stored_tasks(salesforce_sandbox)) == 5


def test_composite_record_errors_are_permanent_per_record(client):
    results = client.composite_create("Task", [task("Fine"), task("Bad", NoSuchField__c="x")])

    assert results[0].success
    assert not results[1].success
    assert not results[1].transient
    assert results[1].error_code == "INVALID_FIELD"
    assert "NoSuchField__c" in results[1].error_message


def test_composite_update_and_delete(salesforce_sandbox, client):
    created = client.composite_create("Task", [task("One"), task("Two")])
    ids = [result.id for result in created]

    updated = client.composite_update("Task", [{"Id": ids[0], "Subject": "One, edited"},
                                               {"Id": ids[1], "Subject": "Two, edited"}])
    assert all(result.success for result in updated)
    assert client.get("Task", ids[0])["Subject"] == "One, edited"

    deleted = client.composite_delete(ids)
    assert [result.id for result in deleted] == ids
    assert all(result.success for result in deleted)
    assert stored_tasks(salesforce_sandbox) == {}


def test_lost_composite_create_is_not_resent(salesforce_sandbox, client, sleeps):
    salesforce_sandbox.fault("drop_after_apply", path="/composite/sobjects", count=1)

    with pytest.raises(SalesforceError) as raised:
        client.composite_create("Task", [task(f"Dropped {i}") for i in range(3)])

    assert raised.value.maybe_applied
    assert raised.value.code == "CONNECTION_LOST"
    assert not raised.value.permanent
    assert calls(salesforce_sandbox, COMPOSITE_POST) == 1
    assert sleeps == []
    subjects = sorted(t["Subject"] for t in stored_tasks(salesforce_sandbox).values())
    assert subjects == ["Dropped 0", "Dropped 1", "Dropped 2"]


def test_lost_later_chunk_keeps_earlier_results(salesforce_sandbox, client):
    salesforce_sandbox.fault("drop_after_apply", path="/composite/sobjects", skip=1, count=1)

    with pytest.raises(SalesforceError) as raised:
        client.composite_create("Task", [task(f"Call {i}") for i in range(250)])

    assert raised.value.maybe_applied
    assert len(raised.value.results) == 200
    assert all(result.success for result in raised.value.results)


def test_timed_out_create_may_have_been_applied(salesforce_sandbox, sleeps):
    salesforce_sandbox.fault("latency", path="/sobjects/Task", method="POST", latency_ms=1500)
    client = SalesforceClient(salesforce_sandbox.base_url, SALESFORCE_CLIENT_ID,
                              SALESFORCE_CLIENT_SECRET, timeout=0.5, sleep=sleeps)

    with pytest.raises(SalesforceError) as raised:
        client.create("Task", task("Slow"))

    assert raised.value.code == "TIMEOUT"
    assert raised.value.maybe_applied
    # The sandbox finishes the request after we gave up: the write did happen.
    deadline = time.monotonic() + 10
    while not stored_tasks(salesforce_sandbox) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [t["Subject"] for t in stored_tasks(salesforce_sandbox).values()] == ["Slow"]
