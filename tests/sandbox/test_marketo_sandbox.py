"""The Marketo sandbox speaks Marketo's wire formats, limits and faults, over real HTTP."""

import csv
import hashlib
import io
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sandboxes import MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET

from sandbox import seed

SYNCED_FIELDS = "firstName,lastName,email,company,sfdcLeadId,sfdcContactId,sfdcLeadOwnerId"
EMAIL_TYPES = "6,7,8,10,11"


def issue_token(base_url, **params):
    params = {"grant_type": "client_credentials", "client_id": MARKETO_CLIENT_ID,
              "client_secret": MARKETO_CLIENT_SECRET, **params}
    return requests.get(f"{base_url}/identity/oauth/token", params=params, timeout=10)


class Api:
    """A bare Marketo REST caller: bearer token header, JSON envelopes back."""

    def __init__(self, sandbox):
        self.base_url = sandbox.base_url
        self.http = requests.Session()
        self.renew()

    def renew(self):
        self.token = issue_token(self.base_url).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def get(self, path, **params):
        return self.http.get(self.base_url + path, params=params, timeout=30).json()

    def post(self, path, json=None, **params):
        return self.http.post(self.base_url + path, json=json, params=params, timeout=30).json()

    def since(self, moment: datetime) -> str:
        reply = self.get("/rest/v1/activities/pagingtoken.json", sinceDatetime=moment.isoformat())
        return reply["nextPageToken"]

    def now_token(self) -> str:
        return self.since(datetime.now(UTC) - timedelta(minutes=1))


@pytest.fixture
def api(marketo_sandbox):
    return Api(marketo_sandbox)


def error_code(reply):
    assert reply["success"] is False, reply
    return reply["errors"][0]["code"]


def poll_export(api, export_id, until=("Completed",), timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/bulk/v1/leads/export/{export_id}/status.json")["result"][0]
        if job["status"] in until or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def window(days_from_start: int, days: int = 31) -> dict:
    start = seed.SEED_START + timedelta(days=days_from_start)
    return {"startAt": start.isoformat(), "endAt": (start + timedelta(days=days)).isoformat()}


# --- identity and tokens ----------------------------------------------------------------


def test_same_token_until_it_expires_then_602_and_a_new_one(marketo_sandbox):
    marketo_sandbox.reset(token_ttl=120)
    first = issue_token(marketo_sandbox.base_url).json()
    again = issue_token(marketo_sandbox.base_url).json()

    assert first["token_type"] == "bearer" and first["scope"]
    assert again["access_token"] == first["access_token"]
    assert 0 < again["expires_in"] <= first["expires_in"] <= 120

    marketo_sandbox.call("POST", "tokens/expire")
    reply = requests.get(f"{marketo_sandbox.base_url}/rest/v1/leads/describe.json",
                         headers={"Authorization": f"Bearer {first['access_token']}"}).json()
    assert reply["errors"] == [{"code": "602", "message": "Access token expired"}]
    assert issue_token(marketo_sandbox.base_url).json()["access_token"] != first["access_token"]


def test_identity_also_takes_a_form_post(marketo_sandbox):
    reply = requests.post(f"{marketo_sandbox.base_url}/identity/oauth/token", data={
        "grant_type": "client_credentials", "client_id": MARKETO_CLIENT_ID,
        "client_secret": MARKETO_CLIENT_SECRET})

    assert reply.status_code == 200 and reply.json()["expires_in"] > 3500


def test_bad_client_credentials_are_http_401(marketo_sandbox):
    bad_secret = issue_token(marketo_sandbox.base_url, client_secret="nope")
    bad_id = issue_token(marketo_sandbox.base_url, client_id="nobody")

    assert bad_secret.status_code == 401
    assert bad_secret.json() == {"error": "unauthorized",
                                 "error_description": "Bad client credentials"}
    assert bad_id.status_code == 401 and bad_id.json()["error"] == "unauthorized"


def test_missing_invalid_and_revoked_tokens(marketo_sandbox, api):
    url = f"{marketo_sandbox.base_url}/rest/v1/leads/describe.json"
    missing = requests.get(url).json()
    invalid = requests.get(url, headers={"Authorization": "Bearer not-a-token"}).json()
    by_query = requests.get(url, params={"access_token": api.token}).json()
    marketo_sandbox.call("POST", "tokens/revoke")
    revoked = api.get("/rest/v1/leads/describe.json")

    assert requests.get(url).status_code == 200
    assert missing["errors"][0]["code"] == "600"
    assert invalid["errors"] == [{"code": "601", "message": "Access token invalid"}]
    assert by_query["success"] is True
    assert error_code(revoked) == "601"


def test_envelope_answers_for_unknown_resources(api):
    assert error_code(api.get("/rest/v1/nothing.json")) == "610"
    reply = api.http.delete(api.base_url + "/rest/v1/activities/types.json").json()
    assert error_code(reply) == "605"
    assert isinstance(reply["requestId"], str) and "#" in reply["requestId"]


# --- limits -------------------------------------------------------------------------------


def test_rate_limit_606_counts_only_accepted_calls(marketo_sandbox):
    marketo_sandbox.reset(rate_limit_calls=5, rate_limit_seconds=60)
    api = Api(marketo_sandbox)
    replies = [api.get("/rest/v1/leads/describe.json") for _ in range(7)]

    assert [r["success"] for r in replies] == [True] * 5 + [False] * 2
    assert replies[5]["errors"] == [
        {"code": "606", "message": "Max rate limit '5' exceeded with in '60' secs"}]


def test_daily_quota_607(marketo_sandbox):
    marketo_sandbox.reset(daily_quota=3)
    api = Api(marketo_sandbox)
    replies = [api.get("/rest/v1/leads/describe.json") for _ in range(4)]

    assert [r["success"] for r in replies[:3]] == [True] * 3
    assert replies[3]["errors"] == [{"code": "607", "message": "Daily quota reached"}]
    assert api.get("/rest/v1/stats/usage.json")["errors"][0]["code"] == "607"


def test_concurrent_access_limit_615(marketo_sandbox):
    marketo_sandbox.reset(max_concurrent=1)
    api = Api(marketo_sandbox)
    marketo_sandbox.fault("latency", path="/rest/v1/leads/describe2.json", latency_ms=1500)
    seen = []

    def slow_call():
        seen.append(code_of(requests.get(api.base_url + "/rest/v1/leads/describe2.json",
                                         headers=dict(api.http.headers)).json()))

    slow = threading.Thread(target=slow_call)
    slow.start()
    while slow.is_alive() and "615" not in seen:
        seen.append(code_of(api.get("/rest/v1/leads/describe.json")))
    slow.join()

    # Whichever call came second while the other was in flight was turned away.
    assert "615" in seen
    assert api.get("/rest/v1/leads/describe.json")["success"] is True


def code_of(reply):
    return "ok" if reply["success"] else reply["errors"][0]["code"]


# --- leads --------------------------------------------------------------------------------


def test_leads_by_id_with_fields_leave_out_empty_values(api):
    reply = api.get("/rest/v1/leads.json", filterType="id", filterValues="1,13,2,99999",
                    fields=SYNCED_FIELDS + ",title")
    lead_13 = seed.lead(13, 1, 2000)

    assert [lead["id"] for lead in reply["result"]] == [1, 2, 13]
    record = reply["result"][2]
    assert record["email"] == lead_13["email"] and record["firstName"] == lead_13["firstName"]
    assert "title" not in record  # lead 13 has no title: Marketo leaves the field out
    assert "updatedAt" not in record


def test_leads_default_fields(api):
    record = api.get("/rest/v1/leads.json", filterType="id", filterValues="5")["result"][0]

    assert set(record) == {"id", "email", "firstName", "lastName", "createdAt", "updatedAt"}


def test_leads_by_email_ignore_case_and_keep_duplicates(api):
    shared = seed.lead(49, 1, 2000)["email"]
    reply = api.get("/rest/v1/leads.json", filterType="email", filterValues=shared.upper(),
                    fields="email,unsubscribed")

    assert [lead["id"] for lead in reply["result"]] == [49, 50]
    assert all(lead["email"] == shared for lead in reply["result"])


def test_leads_by_salesforce_id_and_post_with_method_get(api):
    lead_id = next(i for i in range(1, 100) if seed.lead(i, 1, 2000)["sfdcContactId"])
    contact_id = seed.lead(lead_id, 1, 2000)["sfdcContactId"]
    reply = api.http.post(api.base_url + "/rest/v1/leads.json", data={
        "_method": "GET", "filterType": "sfdcContactId", "filterValues": contact_id,
        "fields": "sfdcContactId"}).json()

    assert reply["result"] == [{"id": lead_id, "sfdcContactId": contact_id}]


def test_leads_paging_with_next_page_token(api):
    first = api.get("/rest/v1/leads.json", filterType="id", filterValues="1,2,3,4,5",
                    batchSize=2)
    second = api.get("/rest/v1/leads.json", filterType="id", filterValues="1,2,3,4,5",
                     batchSize=2, nextPageToken=first["nextPageToken"])
    third = api.get("/rest/v1/leads.json", filterType="id", filterValues="1,2,3,4,5",
                    batchSize=2, nextPageToken=second["nextPageToken"])

    assert [[lead["id"] for lead in page["result"]] for page in (first, second, third)] == [
        [1, 2], [3, 4], [5]]
    assert "nextPageToken" not in third


def test_leads_filter_errors(api):
    too_many = ",".join(str(i) for i in range(1, 302))

    assert error_code(api.get("/rest/v1/leads.json", filterType="id",
                              filterValues=too_many)) == "1003"
    unknown_field = api.get("/rest/v1/leads.json", filterType="id", filterValues="1",
                            fields="nope")
    assert unknown_field["errors"] == [{"code": "1006", "message": "Field 'nope' not found"}]
    assert error_code(api.get("/rest/v1/leads.json", filterType="firstName",
                              filterValues="Emma")) == "1011"
    assert error_code(api.get("/rest/v1/leads.json", filterType="id")) == "701"


def test_lead_by_id_and_describe(api):
    lead = api.get("/rest/v1/lead/7.json", fields="email,leadSource")["result"]
    described = {field["rest"]["name"]
                 for field in api.get("/rest/v1/leads/describe.json")["result"]}
    described2 = api.get("/rest/v1/leads/describe2.json")["result"][0]

    assert lead == [{"id": 7, "email": seed.lead(7, 1, 2000)["email"],
                     "leadSource": seed.lead(7, 1, 2000)["leadSource"]}]
    assert api.get("/rest/v1/lead/99999.json")["result"] == []
    assert set(seed.lead(1, 1, 2000)) <= described
    assert ["email"] in described2["searchableFields"]
    assert {f["name"] for f in described2["fields"]} == described


def test_remote_edits_show_in_lookups(marketo_sandbox, api):
    old_email = seed.lead(10, 1, 2000)["email"]
    marketo_sandbox.call("PATCH", "leads/10", json={"fields": {"email": "new.ten@example.com"}})
    created = marketo_sandbox.call("POST", "leads", json={"fields": {
        "firstName": "Nova", "email": "nova@example.com"}})

    assert api.get("/rest/v1/leads.json", filterType="email",
                   filterValues=old_email)["result"] == []
    assert [r["id"] for r in api.get("/rest/v1/leads.json", filterType="email",
                                     filterValues="NEW.ten@example.com")["result"]] == [10]
    assert api.get("/rest/v1/leads.json", filterType="email", filterValues="nova@example.com",
                   fields="firstName")["result"] == [{"id": created["id"], "firstName": "Nova"}]
    assert created["id"] == 2001
    assert marketo_sandbox.call("GET", "leads/10")["email"] == "new.ten@example.com"


# --- lead changes, deleted leads, activities ----------------------------------------------


def test_lead_changes_only_after_the_token_and_only_listed_fields(marketo_sandbox, api):
    token = api.now_token()
    before = api.get("/rest/v1/activities/leadchanges.json", nextPageToken=token,
                     fields="firstName")
    marketo_sandbox.call("PATCH", "leads/3", json={"fields": {"firstName": "Trois",
                                                               "title": "CTO"}})
    created = marketo_sandbox.call("POST", "leads", json={"fields": {"firstName": "New"}})
    page = api.get("/rest/v1/activities/leadchanges.json", nextPageToken=token,
                   fields="firstName")

    assert "result" not in before and before["moreResult"] is False
    assert [(a["activityTypeId"], a["leadId"]) for a in page["result"]] == [
        (13, 3), (12, created["id"])]
    change = page["result"][0]
    assert change["fields"] == [{"id": 48, "name": "firstName", "newValue": "Trois",
                                 "oldValue": seed.lead(3, 1, 2000)["firstName"]}]
    assert page["moreResult"] is False

    assert api.get("/rest/v1/activities/leadchanges.json", nextPageToken=token,
                   fields="firstName")["result"] == page["result"]
    later = api.get("/rest/v1/activities/leadchanges.json",
                    nextPageToken=page["nextPageToken"], fields="firstName")
    assert "result" not in later and later["moreResult"] is False
    marketo_sandbox.call("PATCH", "leads/4", json={"fields": {"firstName": "Quatre"}})
    newer = api.get("/rest/v1/activities/leadchanges.json", nextPageToken=later["nextPageToken"],
                    fields="firstName,title")
    assert [a["leadId"] for a in newer["result"]] == [4]


def test_lead_changes_page_by_batch_size(marketo_sandbox, api):
    token = api.now_token()
    reply = marketo_sandbox.call("POST", "leads/change-many", json={
        "ids": [1, 2, 3, 4, 5, 99999], "fields": {"sfdcLeadOwnerId": None}})
    pages, leads = [], []
    while True:
        page = api.get("/rest/v1/activities/leadchanges.json", nextPageToken=token,
                       fields="sfdcLeadOwnerId", batchSize=2)
        pages.append(page["moreResult"])
        leads += [a["leadId"] for a in page.get("result", [])]
        token = page["nextPageToken"]
        if not page["moreResult"]:
            break

    owned = [i for i in range(1, 6) if seed.lead(i, 1, 2000)["sfdcLeadOwnerId"]]
    assert reply["missing"] == [99999] and reply["changes"] == len(owned)
    assert leads == owned
    assert pages[-1] is False and all(pages[:-1])


def test_deleted_lead_is_gone_everywhere(marketo_sandbox, api):
    token = api.now_token()
    name = seed.lead(12, 1, 2000)
    marketo_sandbox.call("DELETE", "leads/12")
    deleted = api.get("/rest/v1/activities/deletedleads.json", nextPageToken=token)

    assert [(a["activityTypeId"], a["leadId"], a["primaryAttributeValueId"])
            for a in deleted["result"]] == [(37, 12, 12)]
    assert deleted["result"][0]["primaryAttributeValue"].startswith(name["firstName"])
    assert api.get("/rest/v1/lead/12.json")["result"] == []
    assert api.get("/rest/v1/leads.json", filterType="id", filterValues="12")["result"] == []
    history = api.get("/rest/v1/activities.json", nextPageToken=api.since(seed.SEED_START),
                      activityTypeIds=EMAIL_TYPES + ",1,2,3,46", leadIds="12")
    assert "result" not in history
    with pytest.raises(requests.HTTPError):
        marketo_sandbox.call("GET", "leads/12")


def test_seed_history_per_lead(api):
    types = {t["id"]: t["name"] for t in api.get("/rest/v1/activities/types.json")["result"]}
    token = api.since(seed.SEED_START)
    leads = ",".join(str(i) for i in range(1, 31))
    everything = api.get("/rest/v1/activities.json", nextPageToken=token, leadIds=leads,
                         activityTypeIds="1,2,3,6,7,8,9,10,11,46")
    emails = api.get("/rest/v1/activities.json", nextPageToken=token, leadIds=leads,
                     activityTypeIds=EMAIL_TYPES)

    assert types[1] == "Visit Webpage" and types[13] == "Change Data Value"
    assert types[37] == "Delete Lead" and types[46] == "Interesting Moment"
    activities = everything["result"]
    assert len(activities) > 60
    assert {a["leadId"] for a in activities} <= set(range(1, 31))
    dates = [a["activityDate"] for a in activities]
    assert dates == sorted(dates) and dates[-1] < "2026-11-01"
    assert {a["activityTypeId"] for a in emails["result"]} <= {6, 7, 8, 10, 11}
    sends = [a for a in emails["result"] if a["activityTypeId"] == 6]
    assert sends and all(a["primaryAttributeValue"] for a in sends)
    again = api.get("/rest/v1/activities.json", nextPageToken=token, leadIds=leads,
                    activityTypeIds=EMAIL_TYPES)
    assert again["result"] == emails["result"]


def test_activities_parameter_errors(api):
    token = api.now_token()
    eleven = ",".join(str(i) for i in (1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13))
    leads = ",".join(str(i) for i in range(1, 32))

    assert error_code(api.get("/rest/v1/activities.json", nextPageToken=token)) == "701"
    assert error_code(api.get("/rest/v1/activities.json", nextPageToken=token,
                              activityTypeIds=eleven)) == "1003"
    assert error_code(api.get("/rest/v1/activities.json", nextPageToken=token,
                              activityTypeIds="1", leadIds=leads)) == "1003"
    assert error_code(api.get("/rest/v1/activities/leadchanges.json",
                              nextPageToken=token)) == "701"
    assert error_code(api.get("/rest/v1/activities/pagingtoken.json",
                              sinceDatetime="yesterday")) == "704"


# --- custom activity types and custom activities -------------------------------------------


def define_type(api, api_name, approve=True):
    created = api.post("/rest/v1/activities/external/type.json", json={
        "apiName": api_name, "name": f"Sales {api_name}", "triggerName": f"Does {api_name}",
        "filterName": f"Did {api_name}",
        "primaryAttribute": {"apiName": "subject", "name": "Subject"}})
    if created["success"] and approve:
        api.post(f"/rest/v1/activities/external/type/{api_name}/attributes/create.json", json={
            "attributes": [{"apiName": "madeBy", "name": "Made By", "dataType": "string"},
                           {"apiName": "duration", "name": "Duration", "dataType": "integer"}]})
        api.post(f"/rest/v1/activities/external/type/{api_name}/approve.json")
    return created


def test_custom_activity_type_lifecycle(api):
    created = define_type(api, "salesCall", approve=False)["result"][0]
    draft = api.get("/rest/v1/activities/external/type/salesCall/describe.json")["result"][0]
    api.post("/rest/v1/activities/external/type/salesCall/attributes/create.json", json={
        "attributes": [{"apiName": "madeBy", "name": "Made By", "dataType": "string"}]})
    approved = api.post("/rest/v1/activities/external/type/salesCall/approve.json")["result"][0]
    listed = api.get("/rest/v1/activities/external/types.json")["result"]
    types = api.get("/rest/v1/activities/types.json")["result"]

    assert created["status"] == "draft" and "id" not in created
    assert created["primaryAttribute"] == {"apiName": "subject", "name": "Subject",
                                           "dataType": "string"}
    assert draft["status"] == "draft"
    assert approved["status"] == "approved" and approved["id"] >= 100000
    assert approved["attributes"] == [{"apiName": "madeBy", "name": "Made By",
                                       "dataType": "string"}]
    assert [(t["apiName"], t["status"]) for t in listed] == [("salesCall", "approved")]
    assert any(t["id"] == approved["id"] and t["name"] == "Sales salesCall" for t in types)
    assert error_code(define_type(api, "salesCall")) == "1017"
    assert error_code(api.post("/rest/v1/activities/external/type/salesCall/approve.json")) \
        == "709"


def test_at_most_ten_custom_activity_types(api):
    for number in range(10):
        assert define_type(api, f"type{number}", approve=number % 2 == 0)["success"]
    eleventh = define_type(api, "type10")

    assert eleventh["errors"] == [{"code": "1027", "message": "Max Activity Type Limit Reached"}]
    assert len(api.get("/rest/v1/activities/external/types.json")["result"]) == 10


def test_add_custom_activities(marketo_sandbox, api):
    define_type(api, "salesCall")
    define_type(api, "draftOnly", approve=False)
    type_id = api.get("/rest/v1/activities/external/types.json")["result"][0]["id"]
    moment = "2026-11-20T10:30:00Z"
    reply = api.post("/rest/v1/activities/external.json", json={"input": [
        {"leadId": 5, "activityDate": moment, "activityTypeId": type_id,
         "primaryAttributeValue": "Discovery call",
         "attributes": [{"apiName": "madeBy", "value": "ava.stone@example.com"},
                        {"apiName": "duration", "value": 300}]},
        {"leadId": 99999, "activityDate": moment, "apiName": "salesCall",
         "primaryAttributeValue": "Nobody"},
        {"leadId": 5, "activityDate": moment, "apiName": "draftOnly",
         "primaryAttributeValue": "Not yet"},
    ]})
    results = reply["result"]

    assert results[0]["status"] == "added" and results[0]["marketoGUID"] == str(results[0]["id"])
    assert results[1] == {"status": "skipped",
                          "reasons": [{"code": "1004", "message": "Lead not found"}]}
    assert results[2]["status"] == "skipped" and results[2]["reasons"][0]["code"] == "1003"
    logged = marketo_sandbox.call("GET", "custom-activities", leadId=5)["result"]
    assert [(a["id"], a["activityTypeId"], a["primaryAttributeValue"]) for a in logged] == [
        (results[0]["id"], type_id, "Discovery call")]
    feed = api.get("/rest/v1/activities.json", nextPageToken=api.since(seed.SEED_START),
                   activityTypeIds=str(type_id), leadIds="5")["result"]
    assert feed == logged
    assert {"apiName": "duration", "name": "Duration", "value": 300} in feed[0]["attributes"]
    too_many = [{"leadId": 5, "activityDate": moment, "activityTypeId": type_id,
                 "primaryAttributeValue": "x"}] * 301
    assert error_code(api.post("/rest/v1/activities/external.json",
                               json={"input": too_many})) == "1003"


# --- bulk lead extract ---------------------------------------------------------------------


def test_bulk_export_lifecycle_with_ranges(marketo_sandbox, api):
    fields = ["id", "firstName", "lastName", "email", "company", "title", "unsubscribed"]
    created = api.post("/bulk/v1/leads/export/create.json", json={
        "fields": fields, "format": "CSV", "filter": {"createdAt": window(0)}})["result"][0]
    export_id = created["exportId"]
    early = api.http.get(f"{api.base_url}/bulk/v1/leads/export/{export_id}/file.json")
    queued = api.post(f"/bulk/v1/leads/export/{export_id}/enqueue.json")["result"][0]
    done = poll_export(api, export_id)
    url = f"{api.base_url}/bulk/v1/leads/export/{export_id}/file.json"
    whole = api.http.get(url)
    head = api.http.get(url, headers={"Range": "bytes=0-99"})
    tail = api.http.get(url, headers={"Range": "bytes=100-"})

    assert created["status"] == "Created" and created["format"] == "CSV"
    assert early.status_code == 404 and early.headers["Content-Type"].startswith("text/plain")
    assert queued["status"] == "Queued" and "queuedAt" in queued
    assert done["status"] == "Completed"
    assert done["fileSize"] == len(whole.content)
    assert done["fileChecksum"] == "sha256:" + hashlib.sha256(whole.content).hexdigest()
    rows = list(csv.reader(io.StringIO(whole.content.decode())))
    assert rows[0] == fields and len(rows) - 1 == done["numberOfRecords"] > 20
    end = datetime.fromisoformat(window(0)["endAt"])
    expected = [i for i in range(1, 2001) if seed.created_at(i, 2000) <= end]
    assert [int(row[0]) for row in rows[1:]] == expected
    lead_13 = seed.lead(13, 1, 2000)
    assert rows[13][1] == lead_13["firstName"] and rows[13][5] == "null"
    assert rows[13][6] == str(lead_13["unsubscribed"]).lower()
    assert head.status_code == 206 and head.content == whole.content[:100]
    assert head.headers["Content-Range"] == f"bytes 0-99/{done['fileSize']}"
    assert tail.status_code == 206 and head.content + tail.content == whole.content
    listed = api.get("/bulk/v1/leads/export.json", status="Completed")["result"]
    assert [job["exportId"] for job in listed] == [export_id]


def test_bulk_export_by_updated_at_sees_remote_edits(marketo_sandbox, api):
    marketo_sandbox.call("PATCH", "leads/42", json={"fields": {"company": "Edited, Inc."}})
    now = datetime.now(UTC)
    created = api.post("/bulk/v1/leads/export/create.json", json={
        "fields": ["id", "company"], "columnHeaderNames": {"company": "Company Name"},
        "filter": {"updatedAt": {"startAt": (now - timedelta(days=1)).isoformat(),
                                 "endAt": (now + timedelta(minutes=1)).isoformat()}}})
    export_id = created["result"][0]["exportId"]
    api.post(f"/bulk/v1/leads/export/{export_id}/enqueue.json")
    poll_export(api, export_id)
    text = api.http.get(f"{api.base_url}/bulk/v1/leads/export/{export_id}/file.json").text

    assert text == 'id,Company Name\n42,"Edited, Inc."\n'


def test_bulk_export_rejects_windows_over_31_days(api):
    reply = api.post("/bulk/v1/leads/export/create.json", json={
        "fields": ["id"], "filter": {"createdAt": window(0, days=32)}})

    assert error_code(reply) == "1003"
    assert error_code(api.post("/bulk/v1/leads/export/create.json", json={
        "fields": ["id", "nope"], "filter": {"createdAt": window(0)}})) == "1006"


def test_bulk_export_queue_limits_and_cancel(marketo_sandbox):
    marketo_sandbox.reset(bulk_rows_per_second=5, bulk_max_queued=3)
    api = Api(marketo_sandbox)
    ids = [api.post("/bulk/v1/leads/export/create.json", json={
        "fields": ["id"], "filter": {"createdAt": window(40 * n)}})["result"][0]["exportId"]
        for n in range(4)]
    statuses = [api.post(f"/bulk/v1/leads/export/{export_id}/enqueue.json")
                for export_id in ids]
    again = api.post(f"/bulk/v1/leads/export/{ids[0]}/enqueue.json")
    listed = {job["exportId"]: job["status"]
              for job in api.get("/bulk/v1/leads/export.json")["result"]}
    cancelled = [api.post(f"/bulk/v1/leads/export/{export_id}/cancel.json")["result"][0]
                 for export_id in ids[:3]]

    assert [listed[export_id] for export_id in ids] == [
        "Processing", "Processing", "Queued", "Created"]
    assert statuses[3]["errors"] == [{"code": "1029", "message": "Too many jobs in queue"}]
    assert again["errors"] == [{"code": "1029", "message": "Job already queued"}]
    assert [job["status"] for job in cancelled] == ["Cancelled"] * 3
    assert api.http.get(f"{api.base_url}/bulk/v1/leads/export/{ids[0]}/file.json") \
        .status_code == 404


def test_bulk_daily_quota_and_switches(marketo_sandbox):
    marketo_sandbox.reset(bulk_daily_quota_mb=0)
    api = Api(marketo_sandbox)
    create = {"fields": ["id"], "filter": {"createdAt": window(0)}}

    assert api.post("/bulk/v1/leads/export/create.json", json=create)["errors"] == [
        {"code": "1029", "message": "Export daily quota exceeded"}]
    marketo_sandbox.configure(bulk_daily_quota_mb=500, bulk_updated_at_filter=False)
    by_update = {"fields": ["id"], "filter": {"updatedAt": window(0)}}
    assert error_code(api.post("/bulk/v1/leads/export/create.json", json=by_update)) == "1035"
    marketo_sandbox.configure(bulk_extract_enabled=False)
    assert error_code(api.post("/bulk/v1/leads/export/create.json", json=create)) == "703"
    assert error_code(api.get("/bulk/v1/leads/export.json")) == "703"


# --- faults and counters ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["601", "602", "606", "607", "615", "1029"])
def test_envelope_faults(marketo_sandbox, api, kind):
    marketo_sandbox.fault(kind, path="/rest/v1/leads.json", count=1)
    hit = api.get("/rest/v1/leads.json", filterType="id", filterValues="1")
    after = api.get("/rest/v1/leads.json", filterType="id", filterValues="1")

    assert error_code(hit) == kind
    assert after["success"] is True


def test_http_faults_skip_and_method(marketo_sandbox, api):
    marketo_sandbox.fault("http_503", path="describe", method="GET", skip=1, count=2)
    replies = [api.http.get(api.base_url + "/rest/v1/leads/describe.json") for _ in range(4)]
    marketo_sandbox.fault("http_500", method="POST")
    ok_get = api.http.get(api.base_url + "/rest/v1/leads/describe.json")
    failed_post = api.http.post(api.base_url + "/rest/v1/activities/external/type.json", json={})

    assert [r.status_code for r in replies] == [200, 503, 503, 200]
    assert replies[1].headers["Content-Type"].startswith("text/html")
    assert ok_get.status_code == 200 and failed_post.status_code == 500


def test_latency_fault_answers_normally(marketo_sandbox, api):
    marketo_sandbox.fault("latency", latency_ms=50)

    assert api.get("/rest/v1/leads/describe.json")["success"] is True


def add_call(api, lead_id):
    return api.http.post(api.base_url + "/rest/v1/activities/external.json", json={"input": [
        {"leadId": lead_id, "activityDate": "2026-11-20T10:00:00Z", "apiName": "salesCall",
         "primaryAttributeValue": "Call"}]}, timeout=10)


def test_drop_does_not_apply_and_drop_after_apply_does(marketo_sandbox, api):
    define_type(api, "salesCall")
    marketo_sandbox.fault("drop", path="/activities/external.json")
    with pytest.raises(requests.ConnectionError):
        add_call(api, 6)
    assert marketo_sandbox.call("GET", "custom-activities", leadId=6)["result"] == []

    marketo_sandbox.fault("drop_after_apply", path="/activities/external.json")
    with pytest.raises(requests.ConnectionError):
        add_call(api, 6)
    assert len(marketo_sandbox.call("GET", "custom-activities", leadId=6)["result"]) == 1
    assert add_call(api, 6).json()["result"][0]["status"] == "added"


def test_fault_with_a_probability_hits_a_share_of_requests_until_cleared(marketo_sandbox, api):
    marketo_sandbox.fault("606", path="/rest/v1/leads.json", probability=0.3, seed=7)
    replies = [api.get("/rest/v1/leads.json", filterType="id", filterValues="1")
               for _ in range(100)]
    limited = sum(not reply["success"] for reply in replies)
    waiting = marketo_sandbox.call("GET", "faults")
    marketo_sandbox.clear_faults()
    after = api.get("/rest/v1/leads.json", filterType="id", filterValues="1")

    assert 15 <= limited <= 45
    assert {error_code(r) for r in replies if not r["success"]} == {"606"}
    assert [f["kind"] for f in waiting["faults"]] == ["606"]  # still there after 100 requests
    assert waiting["injected"] == {"606": limited}
    assert after["success"] is True


def test_fault_with_a_probability_and_a_count_stops_after_count_hits(marketo_sandbox, api):
    marketo_sandbox.fault("615", probability=1, count=2)
    replies = [api.get("/rest/v1/leads.json", filterType="id", filterValues="1")
               for _ in range(4)]

    assert [r["success"] for r in replies] == [False, False, True, True]
    assert marketo_sandbox.call("GET", "faults") == {"faults": [], "injected": {"615": 2}}


@pytest.mark.parametrize("probability", [0, 1.5, "often"])
def test_fault_probability_must_be_a_share(marketo_sandbox, probability):
    with pytest.raises(requests.HTTPError) as refused:
        marketo_sandbox.fault("606", probability=probability)

    assert refused.value.response.status_code == 400


def test_custom_activities_of_every_lead(marketo_sandbox, api):
    define_type(api, "salesCall")
    for lead_id in (6, 9, 6):
        add_call(api, lead_id)

    every = marketo_sandbox.call("GET", "custom-activities")["result"]

    assert sorted(a["leadId"] for a in every) == [6, 6, 9]
    assert len(marketo_sandbox.call("GET", "custom-activities", leadId=6)["result"]) == 2


def test_counters_per_endpoint(marketo_sandbox, api):
    api.get("/rest/v1/lead/1.json")
    api.get("/rest/v1/lead/2.json")
    api.get("/bulk/v1/leads/export/abc/status.json")
    marketo_sandbox.call("GET", "leads/1")
    counters = marketo_sandbox.counters()

    assert counters["by_endpoint"] == {"GET /identity/oauth/token": 1,
                                       "GET /rest/v1/lead/{id}.json": 2,
                                       "GET /bulk/v1/leads/export/{id}/status.json": 1}
    assert counters["total"] == 4
    marketo_sandbox.reset_counters()
    assert marketo_sandbox.counters() == {"total": 0, "by_endpoint": {}}
