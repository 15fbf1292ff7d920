"""The Marketo client against the Marketo sandbox, over real HTTP on loopback."""

import csv
import hashlib
import io
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sandboxes import MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET

from syncing.clients.marketo import MarketoClient, MarketoError, record_reasons

IDENTITY = "POST /identity/oauth/token"
DESCRIBE = "GET /rest/v1/leads/describe.json"
ADD_ACTIVITIES = "POST /rest/v1/activities/external.json"


class Sleeps(list):
    """A stand-in for time.sleep that records the delays instead of waiting."""

    def __call__(self, seconds):
        self.append(seconds)


def client_for(sandbox, **options) -> MarketoClient:
    options.setdefault("sleep", Sleeps())
    return MarketoClient(sandbox.base_url, MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET, **options)


def counted(sandbox, endpoint: str) -> int:
    return sandbox.counters()["by_endpoint"].get(endpoint, 0)


def run_in_threads(call, times: int, threads: int) -> list:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda _: call(), range(times)))


# --- token ------------------------------------------------------------------------------


def test_token_is_reused_until_it_is_about_to_expire(marketo_sandbox):
    # The client's clock is the test's: a busy machine cannot age the token between calls.
    now = [1000.0]
    marketo_sandbox.configure(token_ttl=3600)
    client = client_for(marketo_sandbox, clock=lambda: now[0])

    for _ in range(3):
        client.describe_leads()
    assert client.token_calls == 1

    now[0] += 3600  # past the renewal point: the next call renews first
    client.describe_leads()

    assert client.token_calls == 2
    assert client.calls == 4  # renewed ahead of expiry: no call was answered 602
    assert counted(marketo_sandbox, IDENTITY) == 2


def test_expired_token_is_renewed_transparently_mid_run(marketo_sandbox):
    sleeps = Sleeps()
    client = client_for(marketo_sandbox, sleep=sleeps)
    client.describe_leads()

    marketo_sandbox.call("POST", "tokens/expire")
    fields = client.describe_leads()

    assert fields
    assert client.token_calls == 2
    assert client.calls == 3  # the 602 answer and its resend
    assert sleeps == []  # renewal is not a backoff


def test_602_answer_renews_the_token_once(marketo_sandbox):
    client = client_for(marketo_sandbox)
    client.authenticate()
    marketo_sandbox.fault("602", path="/rest/v1/activities/types.json")

    types = client.activity_types()

    assert any(t["name"] == "Fill Out Form" for t in types)
    assert client.token_calls == 2
    assert counted(marketo_sandbox, "GET /rest/v1/activities/types.json") == 2


def test_threads_share_one_token_renewal(marketo_sandbox):
    client = client_for(marketo_sandbox, max_in_flight=8, calls_per_window=100)
    client.authenticate()
    marketo_sandbox.call("POST", "tokens/expire")

    results = run_in_threads(client.describe_leads, times=16, threads=8)

    assert all(results)
    assert client.token_calls == 2


def test_bad_credentials_raise_a_permanent_error_with_marketos_text(marketo_sandbox):
    answer = requests.post(f"{marketo_sandbox.base_url}/identity/oauth/token", data={
        "grant_type": "client_credentials", "client_id": MARKETO_CLIENT_ID,
        "client_secret": "wrong"}, timeout=10).json()
    client = MarketoClient(marketo_sandbox.base_url, MARKETO_CLIENT_ID, "wrong", sleep=Sleeps())

    with pytest.raises(MarketoError) as raised:
        client.check_connection()

    assert raised.value.permanent
    assert raised.value.code == answer["error"]
    assert raised.value.message == answer["error_description"]
    assert raised.value.status == 401
    assert client.token_calls == 1
    assert client.calls == 0


def test_check_connection_reports_the_instance(marketo_sandbox):
    result = client_for(marketo_sandbox).check_connection()

    assert result["scope"]
    assert result["lead_fields"] > 13


# --- retries and errors -----------------------------------------------------------------


def test_5xx_is_retried_with_backoff_and_succeeds(marketo_sandbox):
    sleeps = Sleeps()
    client = client_for(marketo_sandbox, sleep=sleeps, backoff_base=0.5)
    marketo_sandbox.fault("http_503", path="/rest/v1/leads/describe.json", count=2)

    assert client.describe_leads()

    assert client.calls == 3
    assert counted(marketo_sandbox, DESCRIBE) == 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_persistent_5xx_gives_up_with_a_transient_error(marketo_sandbox):
    sleeps = Sleeps()
    client = client_for(marketo_sandbox, sleep=sleeps, max_attempts=4, backoff_base=10,
                        backoff_max=15)
    marketo_sandbox.fault("http_500", path="/rest/v1/leads/describe.json", count=100)

    with pytest.raises(MarketoError) as raised:
        client.describe_leads()

    assert not raised.value.permanent
    assert "500" in str(raised.value)
    assert "<html>" not in str(raised.value)
    assert raised.value.status == 500
    assert counted(marketo_sandbox, DESCRIBE) == 4
    assert len(sleeps) == 3
    assert max(sleeps) <= 15  # capped


def test_permanent_error_raises_without_retries(marketo_sandbox):
    sleeps = Sleeps()
    client = client_for(marketo_sandbox, sleep=sleeps)

    with pytest.raises(MarketoError) as raised:
        client.lead_changes("not-a-paging-token", ["email"])

    assert raised.value.permanent
    assert raised.value.code == "1003"
    assert "nextPageToken" in raised.value.message
    assert counted(marketo_sandbox, "GET /rest/v1/activities/leadchanges.json") == 1
    assert sleeps == []


def test_daily_quota_is_surfaced_at_once_as_transient(marketo_sandbox):
    sleeps = Sleeps()
    client = client_for(marketo_sandbox, sleep=sleeps)
    marketo_sandbox.configure(daily_quota=1)
    client.describe_leads()

    with pytest.raises(MarketoError) as raised:
        client.describe_leads()

    assert raised.value.code == "607"
    assert not raised.value.permanent
    assert raised.value.message == "Daily quota reached"
    assert counted(marketo_sandbox, DESCRIBE) == 2
    assert sleeps == []


def test_dropped_custom_activities_are_not_resent_unless_asked(marketo_sandbox):
    client = client_for(marketo_sandbox)
    type_id = _approved_call_type(client)
    activity = _call_activity(type_id, lead_id=1)
    marketo_sandbox.reset_counters()
    marketo_sandbox.fault("drop", path="/rest/v1/activities/external.json")

    with pytest.raises(MarketoError) as raised:
        client.add_custom_activities([activity])
    assert not raised.value.permanent
    assert "may have been applied" in raised.value.message
    assert counted(marketo_sandbox, ADD_ACTIVITIES) == 1

    marketo_sandbox.fault("drop", path="/rest/v1/activities/external.json")
    results = client.add_custom_activities([activity], retry_unsafe=True)

    assert [r["status"] for r in results] == ["added"]
    assert counted(marketo_sandbox, ADD_ACTIVITIES) == 3


# --- limits -----------------------------------------------------------------------------


def test_606_under_load_every_call_eventually_succeeds(marketo_sandbox):
    marketo_sandbox.configure(rate_limit_calls=10, rate_limit_seconds=2)
    # The client's own limiter is set far looser than the sandbox, so the sandbox answers 606.
    client = client_for(marketo_sandbox, sleep=time.sleep, calls_per_window=1000,
                        window_seconds=2, max_in_flight=8, max_attempts=12,
                        backoff_base=0.2, backoff_max=2)

    results = run_in_threads(client.describe_leads, times=20, threads=8)

    assert len(results) == 20 and all(results)
    assert client.calls > 20  # some calls were answered 606 and resent


def test_615_under_load_every_call_eventually_succeeds(marketo_sandbox):
    marketo_sandbox.configure(max_concurrent=2)
    marketo_sandbox.fault("latency", path="/rest/v1/leads/describe.json", latency_ms=100,
                          count=1000)
    client = client_for(marketo_sandbox, sleep=time.sleep, max_in_flight=8, max_attempts=12,
                        backoff_base=0.05, backoff_max=0.5)

    results = run_in_threads(client.describe_leads, times=12, threads=8)

    assert len(results) == 12 and all(results)
    assert client.calls > 12  # some calls were answered 615 and resent


def test_client_limiter_keeps_a_run_inside_the_remote_limits(marketo_sandbox):
    marketo_sandbox.configure(rate_limit_calls=10, rate_limit_seconds=2, max_concurrent=2)
    marketo_sandbox.fault("latency", path="/rest/v1/leads/describe.json", latency_ms=50,
                          count=1000)
    # 3 calls per second can never put more than 9 calls in any 2-second window.
    client = client_for(marketo_sandbox, calls_per_window=3, window_seconds=1, max_in_flight=2)

    results = run_in_threads(client.describe_leads, times=9, threads=6)

    assert len(results) == 9 and all(results)
    assert client.calls == 9  # no call was answered 606 or 615
    assert counted(marketo_sandbox, DESCRIBE) == 9


# --- leads ------------------------------------------------------------------------------


def test_leads_by_filter_chunks_300_values_per_call(marketo_sandbox):
    client = client_for(marketo_sandbox)

    leads = client.leads_by_filter("id", range(1, 701), ["email", "sfdcLeadOwnerId"])

    assert sorted(lead["id"] for lead in leads) == list(range(1, 701))
    # Only the asked-for fields come back (a missing one means null).
    assert set().union(*leads) == {"id", "email", "sfdcLeadOwnerId"}
    assert counted(marketo_sandbox, "GET /rest/v1/leads.json") == 3


def test_leads_by_filter_posts_long_queries_with_method_get(marketo_sandbox):
    client = client_for(marketo_sandbox)
    leads = client.leads_by_filter("id", range(1, 301), ["email"])
    emails = [lead["email"] for lead in leads if "email" in lead]
    assert len(emails) > 200  # about 10 KB of query string: over Marketo's 8 KB URI limit
    marketo_sandbox.reset_counters()

    leads = client.leads_by_filter("email", emails, ["email", "unsubscribed"])

    assert {lead["email"] for lead in leads} == set(emails)
    assert counted(marketo_sandbox, "POST /rest/v1/leads.json") >= 1
    assert counted(marketo_sandbox, "GET /rest/v1/leads.json") == 0


def test_lead_changes_and_deleted_leads_page_after_remote_changes(marketo_sandbox):
    client = client_for(marketo_sandbox)
    since = datetime.now(UTC) - timedelta(minutes=1)
    marketo_sandbox.call("PATCH", "leads/5", json={"fields": {"title": "Chief Sandbox Officer"}})
    marketo_sandbox.call("POST", "leads/change-many",
                         json={"ids": [10, 11, 12], "fields": {"company": "Renamed Inc"}})
    created = marketo_sandbox.call("POST", "leads", json={"fields": {"email": "new@example.com"}})
    marketo_sandbox.call("DELETE", "leads/7")

    changes, token, pages = [], client.paging_token(since), 0
    while True:
        page = client.lead_changes(token, ["title", "company", "email"], batch_size=2)
        changes += page.results
        token, pages = page.next_page_token, pages + 1
        if not page.more_result:
            break
    deleted = client.deleted_leads(client.paging_token(since))

    assert pages >= 3
    by_lead = {change["leadId"]: change for change in changes}
    assert by_lead[5]["activityTypeId"] == 13
    assert by_lead[5]["fields"][0]["newValue"] == "Chief Sandbox Officer"
    assert {10, 11, 12} <= set(by_lead)
    assert by_lead[created["id"]]["activityTypeId"] == 12
    assert [d["leadId"] for d in deleted.results] == [7]
    assert client.leads_by_filter("id", [7], ["email"]) == []
    # The cursor is stable: nothing new after the last page.
    assert client.lead_changes(token, ["title"]).results == []


# --- custom activities ------------------------------------------------------------------


def _approved_call_type(client) -> int:
    client.create_custom_activity_type({
        "apiName": "receivedSalesCall", "name": "Received Sales Call",
        "triggerName": "Receives Sales Call", "filterName": "Received Sales Call",
        "primaryAttribute": {"apiName": "subject", "name": "Subject"}})
    client.create_custom_activity_type_attributes("receivedSalesCall", [
        {"apiName": "madeBy", "name": "Made By", "dataType": "string"},
        {"apiName": "durationSeconds", "name": "Duration Seconds", "dataType": "integer"}])
    return client.approve_custom_activity_type("receivedSalesCall")["id"]


def _call_activity(type_id: int, lead_id: int) -> dict:
    return {"leadId": lead_id, "activityDate": "2025-03-04T10:00:00Z", "activityTypeId": type_id,
            "primaryAttributeValue": "Discussed pricing",
            "attributes": [{"apiName": "madeBy", "value": "ava.stone@example.com"},
                           {"apiName": "durationSeconds", "value": 95}]}


def test_custom_activities_are_logged_in_batches_with_record_level_errors(marketo_sandbox):
    client = client_for(marketo_sandbox)
    type_id = _approved_call_type(client)
    assert [t["apiName"] for t in client.custom_activity_types()] == ["receivedSalesCall"]
    assert type_id in {t["id"] for t in client.activity_types()}
    batch = [_call_activity(type_id, lead_id=1 + i % 20) for i in range(301)]
    batch[150]["leadId"] = 999_999  # no such lead

    results = client.add_custom_activities(batch)

    assert len(results) == 301
    assert counted(marketo_sandbox, ADD_ACTIVITIES) == 2
    assert results[150]["status"] == "skipped"
    assert [reason["code"] for reason in record_reasons(results[150])] == ["1004"]
    assert record_reasons(results[0]) == []
    assert all(r["status"] == "added" for i, r in enumerate(results) if i != 150)
    page = client.activities(client.paging_token(datetime(2025, 3, 1, tzinfo=UTC)), [type_id],
                             lead_ids=[1])
    assert len(page.results) == 16  # lead 1 got every 20th of the 300 added
    assert page.results[0]["primaryAttributeValue"] == "Discussed pricing"


# --- bulk lead extract ------------------------------------------------------------------


def _completed(client, export_id: str) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = client.bulk_export_status(export_id)
        if status["status"] in ("Completed", "Failed", "Cancelled"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} did not finish")


def test_bulk_export_streams_the_file_and_resumes_from_a_byte_offset(marketo_sandbox):
    client = client_for(marketo_sandbox)
    fields = ["id", "email", "createdAt"]
    job = client.bulk_export_create(fields, datetime(2023, 1, 1, tzinfo=UTC),
                                    datetime(2023, 1, 31, tzinfo=UTC))
    assert job["status"] == "Created"
    assert client.bulk_export_enqueue(job["exportId"])["status"] in ("Queued", "Processing")

    status = _completed(client, job["exportId"])
    whole = b"".join(client.bulk_export_file(job["exportId"], chunk_size=256))
    tail = b"".join(client.bulk_export_file(job["exportId"], start_byte=1000))

    assert status["status"] == "Completed"
    assert len(whole) == status["fileSize"]
    assert status["fileChecksum"] == "sha256:" + hashlib.sha256(whole).hexdigest()
    rows = list(csv.reader(io.StringIO(whole.decode())))
    assert rows[0] == fields
    assert len(rows) - 1 == status["numberOfRecords"] > 0
    assert all(row[2].startswith("2023-01") for row in rows[1:])
    assert tail == whole[1000:]
    assert job["exportId"] in {j["exportId"] for j in client.bulk_exports("Completed")}


def test_bulk_export_download_resumes_after_a_dropped_connection(marketo_sandbox):
    client = client_for(marketo_sandbox)
    job = client.bulk_export_create(["id"], datetime(2023, 2, 1, tzinfo=UTC),
                                    datetime(2023, 2, 28, tzinfo=UTC))
    client.bulk_export_enqueue(job["exportId"])
    status = _completed(client, job["exportId"])
    marketo_sandbox.fault("drop", path="/file.json")

    data = b"".join(client.bulk_export_file(job["exportId"]))

    assert status["fileChecksum"] == "sha256:" + hashlib.sha256(data).hexdigest()


def test_bulk_export_cancel_and_enqueue_twice(marketo_sandbox):
    client = client_for(marketo_sandbox)
    marketo_sandbox.configure(bulk_max_processing=0)  # keep the job queued
    job = client.bulk_export_create(["id"], datetime(2023, 3, 1, tzinfo=UTC),
                                    datetime(2023, 3, 31, tzinfo=UTC))
    client.bulk_export_enqueue(job["exportId"])

    again = client.bulk_export_enqueue(job["exportId"])  # answered 1029 "Job already queued"
    cancelled = client.bulk_export_cancel(job["exportId"])

    assert again["status"] == "Queued"
    assert cancelled["status"] == "Cancelled"
    assert client.bulk_export_status(job["exportId"])["status"] == "Cancelled"


def test_bulk_quota_is_surfaced_at_once_as_transient(marketo_sandbox):
    sleeps = Sleeps()
    client = client_for(marketo_sandbox, sleep=sleeps)
    marketo_sandbox.fault("1029", path="/bulk/v1/leads/export/create.json")

    with pytest.raises(MarketoError) as raised:
        client.bulk_export_create(["id"], datetime(2023, 1, 1, tzinfo=UTC),
                                  datetime(2023, 1, 31, tzinfo=UTC))

    assert raised.value.code == "1029"
    assert not raised.value.permanent
    assert counted(marketo_sandbox, "POST /bulk/v1/leads/export/create.json") == 1
    assert sleeps == []


def test_bulk_export_rejects_ranges_over_31_days_before_calling():
    client = MarketoClient("http://127.0.0.1:9", MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET)

    with pytest.raises(ValueError):
        client.bulk_export_create(["id"], datetime(2023, 1, 1, tzinfo=UTC),
                                  datetime(2023, 3, 1, tzinfo=UTC))
    assert client.calls == 0 and client.token_calls == 0
