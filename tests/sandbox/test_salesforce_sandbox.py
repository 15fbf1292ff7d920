"""The Salesforce sandbox speaks the REST API's wire formats, over real HTTP on loopback."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sandboxes import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET

from sandbox.seed import OWNERS, lead, owner_user_id, sf_id

VERSION = "62.0"
SEED_PEOPLE = [lead(i, 1, 2000) for i in range(1, 2001)]
CONTACTS = [p for p in SEED_PEOPLE if p["sfdcContactId"]]
LEADS = [p for p in SEED_PEOPLE if p["sfdcLeadId"]]
SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


def fetch_token(base_url: str) -> dict:
    response = requests.post(f"{base_url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": SALESFORCE_CLIENT_ID,
        "client_secret": SALESFORCE_CLIENT_SECRET}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


class Api:
    """A bearer-token session on the sandbox's REST API (``path`` is relative to vXX.X/)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.token = fetch_token(base_url)["access_token"]
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/services/data/v{VERSION}/{path.lstrip('/')}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, self.url(path), timeout=30, **kwargs)

    def query(self, soql: str, batch_size: int | None = None, all_rows: bool = False) -> list:
        """Every record of a query, following nextRecordsUrl."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else {}
        response = self.call("GET", "queryAll" if all_rows else "query", params={"q": soql},
                             headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        records = list(page["records"])
        while not page["done"]:
            page = self.http.get(self.base_url + page["nextRecordsUrl"], headers=headers,
                                 timeout=30).json()
            records += page["records"]
        assert len(records) == page["totalSize"]
        return records

    def ids(self, soql: str) -> set[str]:
        return {record["Id"] for record in self.query(soql)}

    def create_task(self, **fields) -> str:
        response = self.call("POST", "sobjects/Task", json={"Subject": "Call", **fields})
        assert response.status_code == 201, response.text
        return response.json()["id"]


@pytest.fixture
def api(salesforce_sandbox) -> Api:
    return Api(salesforce_sandbox.base_url)


def contact_of(person: dict) -> dict:
    return {"Id": person["sfdcContactId"], "AccountId": person["sfdcAccountId"]}


# -- OAuth ------------------------------------------------------------------------------------

def test_client_credentials_token_names_this_instance(salesforce_sandbox):
    token = fetch_token(salesforce_sandbox.base_url)

    assert token["token_type"] == "Bearer"
    assert token["instance_url"] == salesforce_sandbox.base_url
    assert token["id"].startswith(f"{salesforce_sandbox.base_url}/id/00D")
    assert token["scope"] == "api"
    assert token["issued_at"].isdigit() and token["signature"]
    assert token["access_token"].startswith("00D")


def test_token_accepts_credentials_in_http_basic(salesforce_sandbox):
    response = requests.post(f"{salesforce_sandbox.base_url}/services/oauth2/token",
                             data={"grant_type": "client_credentials"},
                             auth=(SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET), timeout=10)

    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize(("form", "body"), [
    ({"client_id": SALESFORCE_CLIENT_ID, "client_secret": "wrong"},
     {"error": "invalid_client", "error_description": "invalid client credentials"}),
    ({"client_id": "nobody", "client_secret": SALESFORCE_CLIENT_SECRET},
     {"error": "invalid_client_id", "error_description": "client identifier invalid"}),
])
def test_bad_client_credentials_are_refused(salesforce_sandbox, form, body):
    response = requests.post(f"{salesforce_sandbox.base_url}/services/oauth2/token",
                             data={"grant_type": "client_credentials", **form}, timeout=10)

    assert response.status_code == 400
    assert response.json() == body


def test_unsupported_grant_type(salesforce_sandbox):
    response = requests.post(f"{salesforce_sandbox.base_url}/services/oauth2/token",
                             data={"grant_type": "password"}, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("action", ["expire", "revoke"])
def test_expired_or_revoked_token_is_an_invalid_session(salesforce_sandbox, api, action):
    assert api.call("GET", "limits").status_code == 200

    salesforce_sandbox.call("POST", f"tokens/{action}")

    response = api.call("GET", "limits")
    assert response.status_code == 401
    assert response.json() == SESSION_EXPIRED
    assert Api(salesforce_sandbox.base_url).call("GET", "limits").status_code == 200


def test_token_ttl_bounds_a_token_life(salesforce_sandbox):
    salesforce_sandbox.configure(token_ttl=0)

    response = Api(salesforce_sandbox.base_url).call("GET", "limits")

    assert response.status_code == 401
    assert response.json() == SESSION_EXPIRED


def test_missing_or_unknown_bearer_token_is_an_invalid_session(salesforce_sandbox):
    url = f"{salesforce_sandbox.base_url}/services/data/v{VERSION}/limits"

    assert requests.get(url, timeout=10).json() == SESSION_EXPIRED
    unknown = requests.get(url, headers={"Authorization": "Bearer 00D!nope"}, timeout=10)
    assert unknown.status_code == 401


# -- resources --------------------------------------------------------------------------------

def test_versions_resources_and_limits(salesforce_sandbox, api):
    versions = requests.get(f"{salesforce_sandbox.base_url}/services/data/", timeout=10).json()
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions

    resources = api.call("GET", "").json()
    assert resources["query"] == f"/services/data/v{VERSION}/query"
    assert resources["sobjects"] == f"/services/data/v{VERSION}/sobjects"

    limits = api.call("GET", "limits").json()
    assert limits["DailyApiRequests"]["Max"] == 15000
    assert limits["DailyApiRequests"]["Remaining"] == 15000 - 2  # resources, limits

    assert api.call("GET", "nothing/here").json() == NOT_FOUND
    assert requests.get(f"{salesforce_sandbox.base_url}/services/data/v9.0/limits",
                        timeout=10).status_code == 404


def test_describe_task_lists_fields_with_types(api):
    body = api.call("GET", "sobjects/Task/describe").json()
    fields = {f["name"]: f for f in body["fields"]}

    assert body["name"] == "Task" and body["keyPrefix"] == "00T"
    assert fields["Subject"]["length"] == 255
    assert fields["WhoId"]["type"] == "reference"
    assert set(fields["WhoId"]["referenceTo"]) == {"Contact", "Lead"}
    assert fields["TaskSubtype"]["createable"] and not fields["TaskSubtype"]["updateable"]
    assert not fields["IsClosed"]["createable"]
    assert {v["value"] for v in fields["Priority"]["picklistValues"]} == {"High", "Normal",
                                                                          "Low"}
    assert fields["CallDurationInSeconds"]["type"] == "int"


def test_orgs_without_call_fields_reject_them(salesforce_sandbox, api):
    salesforce_sandbox.configure(task_call_fields=False)

    names = {f["name"] for f in api.call("GET", "sobjects/Task/describe").json()["fields"]}
    response = api.call("POST", "sobjects/Task", json={"Subject": "x", "CallType": "Outbound"})

    assert "CallType" not in names and "CallDurationInSeconds" not in names
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"


def test_custom_opt_out_field_is_a_checkbox_defaulting_to_false(salesforce_sandbox):
    salesforce_sandbox.reset(custom_fields={"Contact": ["Sales_Opt_Out__c"]})
    api = Api(salesforce_sandbox.base_url)
    person = CONTACTS[0]

    describe = api.call("GET", "sobjects/Contact/describe").json()
    field = next(f for f in describe["fields"] if f["name"] == "Sales_Opt_Out__c")
    before = api.call("GET", f"sobjects/Contact/{person['sfdcContactId']}").json()
    patched = api.call("PATCH", f"sobjects/Contact/{person['sfdcContactId']}",
                       json={"Sales_Opt_Out__c": True})

    assert field["type"] == "boolean" and field["custom"] and field["updateable"]
    assert before["Sales_Opt_Out__c"] is False
    assert patched.status_code == 204
    assert api.ids("SELECT Id FROM Contact WHERE Sales_Opt_Out__c = true") == {
        person["sfdcContactId"]}


# -- seed records -----------------------------------------------------------------------------

def test_seed_contact_and_lead_mirror_the_seed_people(api):
    person, prospect = CONTACTS[0], LEADS[0]

    contact = api.call("GET", f"sobjects/Contact/{person['sfdcContactId']}").json()
    lead_record = api.call("GET", f"sobjects/Lead/{prospect['sfdcLeadId']}",
                           params={"fields": "Email,Company,OwnerId"}).json()

    assert contact["Email"] == person["email"]
    assert contact["AccountId"] == person["sfdcAccountId"]
    assert contact["OwnerId"] == person["sfdcLeadOwnerId"]
    assert contact["HasOptedOutOfEmail"] == person["unsubscribed"]
    assert contact["CreatedDate"] == person["createdAt"][:19] + ".000+0000"
    assert lead_record == {
        "attributes": {"type": "Lead",
                       "url": f"/services/data/v{VERSION}/sobjects/Lead/{prospect['sfdcLeadId']}"},
        "Email": prospect["email"], "Company": prospect["company"],
        "OwnerId": prospect["sfdcLeadOwnerId"]}


def test_ids_without_a_record_are_not_found(api):
    no_contact = next(p for p in SEED_PEOPLE if not p["sfdcContactId"])

    for path in (f"sobjects/Contact/{sf_id('003', no_contact['id'])}",
                 f"sobjects/Task/{sf_id('00T', 5)}", "sobjects/Task/not-an-id",
                 "sobjects/Widget__c/describe"):
        response = api.call("GET", path)
        assert response.status_code == 404, path
        assert response.json() == NOT_FOUND
    assert api.call("PATCH", f"sobjects/Task/{sf_id('00T', 5)}",
                    json={"Subject": "x"}).json() == NOT_FOUND


# -- single-record CRUD -----------------------------------------------------------------------

def test_task_create_read_update_delete(salesforce_sandbox, api):
    who = contact_of(CONTACTS[0])
    task_id = api.create_task(WhoId=who["Id"], WhatId=who["AccountId"], Status="Not Started",
                              ActivityDate="2026-12-01", TaskSubtype="Call",
                              CallDurationInSeconds=42, CallType="Outbound")
    created = api.call("GET", f"sobjects/Task/{task_id}").json()

    patched = api.call("PATCH", f"sobjects/Task/{task_id}", json={"Status": "Completed"})
    updated = api.call("GET", f"sobjects/Task/{task_id}").json()
    deleted = api.call("DELETE", f"sobjects/Task/{task_id}")

    assert len(task_id) == 18 and task_id.startswith("00T")
    assert created["WhoId"] == who["Id"] and created["Priority"] == "Normal"
    assert created["IsClosed"] is False and created["CallDurationInSeconds"] == 42
    assert patched.status_code == 204 and patched.content == b""
    assert updated["IsClosed"] is True
    assert updated["LastModifiedDate"] > created["LastModifiedDate"]
    assert deleted.status_code == 204
    assert api.call("GET", f"sobjects/Task/{task_id}").json() == NOT_FOUND
    stored = salesforce_sandbox.call("GET", "records/Task")["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in stored] == [(task_id, True)]


@pytest.mark.parametrize(("fields", "code", "error_fields"), [
    ({"WhoId": LEADS[0]["sfdcLeadId"], "WhatId": CONTACTS[0]["sfdcAccountId"]},
     "FIELD_INTEGRITY_EXCEPTION", ["WhatId"]),
    ({"WhoId": sf_id("003", 999_999)}, "INVALID_CROSS_REFERENCE_KEY", ["WhoId"]),
    ({"WhoId": "003-not-an-id"}, "MALFORMED_ID", ["WhoId"]),
    ({"WhoId": CONTACTS[0]["sfdcAccountId"]}, "FIELD_INTEGRITY_EXCEPTION", ["WhoId"]),
    ({"Subject": "x" * 256}, "STRING_TOO_LONG", ["Subject"]),
    ({"Status": "Done"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"]),
    ({"Priority": "Urgent"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Priority"]),
    ({"IsClosed": True}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["IsClosed"]),
])
def test_task_validation_errors(salesforce_sandbox, api, fields, code, error_fields):
    response = api.call("POST", "sobjects/Task", json={"Subject": "Call", **fields})

    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == code
    assert error["fields"] == error_fields
    assert error["message"]
    assert salesforce_sandbox.call("GET", "records/Task")["records"] == []


def test_unknown_field_and_missing_required_field(api):
    unknown = api.call("POST", "sobjects/Task", json={"Subjekt": "x"}).json()
    missing = api.call("POST", "sobjects/Lead", json={"FirstName": "Ann"}).json()
    bad_type = api.call("POST", "sobjects/Task", json={"CallDurationInSeconds": "long"})

    assert unknown[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Subjekt' on sobject of type Task" in unknown[0]["message"]
    assert missing[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert set(missing[0]["fields"]) == {"LastName", "Company"}
    assert bad_type.status_code == 400
    assert bad_type.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_task_subtype_cannot_change_after_create(api):
    task_id = api.create_task(TaskSubtype="Email")

    response = api.call("PATCH", f"sobjects/Task/{task_id}", json={"TaskSubtype": "Call"})

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


# -- sObject Collections ----------------------------------------------------------------------

def task_records(count: int, **fields) -> list[dict]:
    return [{"attributes": {"type": "Task"}, "Subject": f"Task {n}", **fields}
            for n in range(count)]


def test_collections_create_update_delete_in_order(salesforce_sandbox, api):
    created = api.call("POST", "composite/sobjects",
                       json={"allOrNone": False, "records": task_records(3)})
    ids = [r["id"] for r in created.json()]

    updated = api.call("PATCH", "composite/sobjects", json={"records": [
        {"attributes": {"type": "Task"}, "id": task_id, "Status": "Completed"}
        for task_id in ids]})
    fetched = api.call("GET", "composite/sobjects/Task",
                       params={"ids": ",".join(ids), "fields": "Subject,IsClosed"}).json()
    deleted = api.call("DELETE", "composite/sobjects",
                       params={"ids": ",".join(ids), "allOrNone": "false"})

    assert created.status_code == 200
    assert [r["success"] for r in created.json()] == [True] * 3
    assert updated.json() == [{"id": i, "success": True, "errors": []} for i in ids]
    assert [(r["Subject"], r["IsClosed"]) for r in fetched] == [
        ("Task 0", True), ("Task 1", True), ("Task 2", True)]
    assert deleted.json() == [{"id": i, "success": True, "errors": []} for i in ids]
    stored = salesforce_sandbox.call("GET", "records/Task")["records"]
    assert {r["Id"] for r in stored if r["IsDeleted"]} == set(ids)


def test_collections_take_at_most_200_records(salesforce_sandbox, api):
    response = api.call("POST", "composite/sobjects", json={"records": task_records(201)})
    two_hundred = api.call("POST", "composite/sobjects", json={"records": task_records(200)})

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert two_hundred.status_code == 200 and len(two_hundred.json()) == 200
    assert len(salesforce_sandbox.call("GET", "records/Task")["records"]) == 200


def test_collections_partial_success_without_all_or_none(api):
    records = task_records(3)
    records[1]["Status"] = "Bogus"

    results = api.call("POST", "composite/sobjects", json={"allOrNone": False,
                                                           "records": records}).json()

    assert [r["success"] for r in results] == [True, False, True]
    assert "id" not in results[1]
    assert results[1]["errors"] == [{
        "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "message": "Status: bad value for restricted picklist field: Bogus",
        "fields": ["Status"]}]


def test_all_or_none_rolls_back_every_record(salesforce_sandbox, api):
    existing = api.create_task(Subject="Before")
    records = task_records(3)
    records[2]["WhoId"] = sf_id("00Q", 999_999)

    created = api.call("POST", "composite/sobjects",
                       json={"allOrNone": True, "records": records}).json()
    updated = api.call("PATCH", "composite/sobjects", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Task"}, "id": existing, "Subject": "After"},
        {"attributes": {"type": "Task"}, "id": existing, "Priority": "Urgent"}]}).json()

    assert [r["success"] for r in created] == [False, False, False]
    assert [r["errors"][0]["statusCode"] for r in created] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK", "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "INVALID_CROSS_REFERENCE_KEY"]
    assert updated[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert api.call("GET", f"sobjects/Task/{existing}").json()["Subject"] == "Before"
    assert len(salesforce_sandbox.call("GET", "records/Task")["records"]) == 1


def test_unable_to_lock_row_fails_the_first_records(salesforce_sandbox, api):
    salesforce_sandbox.fault("UNABLE_TO_LOCK_ROW", path="composite/sobjects", records=2)

    results = api.call("POST", "composite/sobjects", json={"records": task_records(3)}).json()
    retried = api.call("POST", "composite/sobjects", json={"records": task_records(2)}).json()

    assert [r["success"] for r in results] == [False, False, True]
    assert results[0]["errors"] == [{"statusCode": "UNABLE_TO_LOCK_ROW", "message":
                                     "unable to obtain exclusive access to this record",
                                     "fields": []}]
    assert [r["success"] for r in retried] == [True, True]


def test_unable_to_lock_row_on_a_single_record_call(salesforce_sandbox, api):
    salesforce_sandbox.fault("UNABLE_TO_LOCK_ROW")

    response = api.call("POST", "sobjects/Task", json={"Subject": "x"})

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert api.call("POST", "sobjects/Task", json={"Subject": "x"}).status_code == 201


# -- SOQL -------------------------------------------------------------------------------------

def _lower(value):
    return (value or "").lower()


WHERE_SHAPES = [
    ("SELECT Id FROM Contact WHERE HasOptedOutOfEmail = true",
     {p["sfdcContactId"] for p in CONTACTS if p["unsubscribed"]}),
    ("SELECT Id FROM Lead WHERE Email LIKE '%@EXAMPLE.org'",
     {p["sfdcLeadId"] for p in LEADS if _lower(p["email"]).endswith("@example.org")}),
    ("SELECT Id FROM Lead WHERE Email = null",
     {p["sfdcLeadId"] for p in LEADS if p["email"] is None}),
    (f"SELECT Id FROM Contact WHERE OwnerId IN ('{owner_user_id(1)}', '{owner_user_id(2)[:15]}')",
     {p["sfdcContactId"] for p in CONTACTS
      if p["sfdcLeadOwnerId"] in (owner_user_id(1), owner_user_id(2))}),
    ("SELECT Id FROM Lead WHERE Title NOT IN ('CTO', 'CFO') AND Phone != null",
     {p["sfdcLeadId"] for p in LEADS if p["title"] not in ("CTO", "CFO") and p["phone"]}),
    ("SELECT Id FROM Contact WHERE NOT (HasOptedOutOfEmail = true OR Title = null)",
     {p["sfdcContactId"] for p in CONTACTS if not (p["unsubscribed"] or p["title"] is None)}),
    ("SELECT Id FROM Lead WHERE (Title = 'cto' OR Title = 'CFO') AND Email LIKE 'a%'",
     {p["sfdcLeadId"] for p in LEADS
      if p["title"] in ("CTO", "CFO") and _lower(p["email"]).startswith("a")}),
    ("SELECT Id FROM Lead WHERE LastName = 'o\\'brien'",
     {p["sfdcLeadId"] for p in LEADS if p["lastName"] == "O'Brien"}),
    ("SELECT Id FROM Contact WHERE CreatedDate >= 2025-01-01T00:00:00Z "
     "AND CreatedDate < 2025-02-01T01:00:00+01:00",
     {p["sfdcContactId"] for p in CONTACTS if "2025-01-01" <= p["createdAt"] < "2025-02-01"}),
]


@pytest.mark.parametrize(("soql", "expected"), WHERE_SHAPES, ids=[s for s, _ in WHERE_SHAPES])
def test_soql_where_shapes(api, soql, expected):
    assert expected  # the seed data exercises each shape
    assert api.ids(soql) == expected


def test_soql_relative_date_literals(api):
    today = datetime.now(UTC).date()
    due_today = api.create_task(ActivityDate=today.isoformat())
    due_later = api.create_task(ActivityDate=(today + timedelta(days=10)).isoformat())
    overdue = api.create_task(ActivityDate=(today - timedelta(days=3)).isoformat())

    assert api.ids("SELECT Id FROM Task WHERE ActivityDate = TODAY") == {due_today}
    assert api.ids("SELECT Id FROM Task WHERE ActivityDate = NEXT_N_DAYS:30") == {due_later}
    assert api.ids("SELECT Id FROM Task WHERE ActivityDate < TODAY") == {overdue}
    assert api.ids("SELECT Id FROM Task WHERE ActivityDate = LAST_N_DAYS:7") == {overdue,
                                                                                  due_today}
    assert api.ids("SELECT Id FROM Task WHERE CreatedDate = TODAY") == {due_today, due_later,
                                                                        overdue}


def test_soql_count_and_fields_in_select_order(api):
    count = api.call("GET", "query", params={"q": "SELECT COUNT() FROM Contact"}).json()
    titled = api.call("GET", "query", params={"q": "SELECT COUNT(Title) n FROM Lead"}).json()
    person = CONTACTS[3]
    [record] = api.query(f"SELECT email, Id, Owner.Email FROM Contact "
                         f"WHERE Id = '{person['sfdcContactId']}'")

    assert count == {"totalSize": len(CONTACTS), "done": True, "records": []}
    assert titled["records"] == [{"attributes": {"type": "AggregateResult"},
                                  "n": sum(1 for p in LEADS if p["title"])}]
    assert list(record) == ["attributes", "Email", "Id", "Owner"]
    assert record["Email"] == person["email"]
    assert record["Owner"]["Email"] == person["leadOwnerEmailAddress"]


def test_soql_order_by_limit_offset(api):
    records = api.query("SELECT Id, Title FROM Lead ORDER BY Title DESC NULLS LAST, Id "
                        "LIMIT 5 OFFSET 3")
    newest = api.query("SELECT Id FROM Lead ORDER BY CreatedDate DESC LIMIT 2")

    by_id = sorted(LEADS, key=lambda p: p["sfdcLeadId"])
    by_title = sorted([p for p in by_id if p["title"]], key=lambda p: p["title"].lower(),
                      reverse=True) + [p for p in by_id if not p["title"]]
    assert [r["Id"] for r in records] == [p["sfdcLeadId"] for p in by_title[3:8]]
    assert [r["Id"] for r in newest] == [p["sfdcLeadId"] for p in LEADS[::-1][:2]]


def test_query_pages_follow_next_records_url(salesforce_sandbox, api):
    first = api.call("GET", "query", params={"q": "SELECT Id FROM Lead"},
                     headers={"Sforce-Query-Options": "batchSize=200"}).json()

    records = api.query("SELECT Id FROM Lead", batch_size=200)

    assert first["totalSize"] == len(LEADS) and first["done"] is False
    assert len(first["records"]) == 200
    assert re.fullmatch(rf"/services/data/v{VERSION}/query/01g\w{{15}}-200",
                        first["nextRecordsUrl"])
    assert [r["Id"] for r in records] == [p["sfdcLeadId"] for p in LEADS]
    stale = api.http.get(api.base_url + first["nextRecordsUrl"].replace("-200", "-99999"),
                         timeout=10)
    assert stale.status_code == 400
    assert stale.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_default_page_is_2000_records(salesforce_sandbox):
    salesforce_sandbox.reset(leads=6000)
    api = Api(salesforce_sandbox.base_url)

    page = api.call("GET", "query", params={"q": "SELECT Id FROM Contact"}).json()

    assert len(page["records"]) == 2000 and page["totalSize"] > 2000
    assert page["nextRecordsUrl"].endswith("-2000")


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT Id FRM Lead", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE Title = 'a' AND Email = 'b' OR Phone = 'c'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE Title = 'unterminated", "MALFORMED_QUERY"),
    ("SELECT Nope FROM Lead", "INVALID_FIELD"),
    ("SELECT Id FROM Lead ORDER BY Nope", "INVALID_FIELD"),
    ("SELECT Id FROM Widget__c", "INVALID_TYPE"),
    ("SELECT Id FROM Lead WHERE CreatedDate > '2024-01-01'", "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Lead WHERE HasOptedOutOfEmail = 'yes'", "INVALID_QUERY_FILTER_OPERATOR"),
])
def test_bad_soql_is_refused_with_salesforce_error_codes(api, soql, code):
    response = api.call("GET", "query", params={"q": soql})

    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == code
    assert "ERROR at Row:1:Column:" in error["message"]


def test_query_all_includes_deleted_tasks(api):
    kept, gone = api.create_task(Subject="kept"), api.create_task(Subject="gone")
    api.call("DELETE", f"sobjects/Task/{gone}")

    live = api.ids("SELECT Id FROM Task")
    every = {r["Id"]: r["IsDeleted"]
             for r in api.query("SELECT Id, IsDeleted FROM Task", all_rows=True)}

    assert live == {kept}
    assert every == {kept: False, gone: True}


def test_query_by_id_among_a_million_leads(salesforce_sandbox):
    salesforce_sandbox.reset(leads=1_000_000)
    api = Api(salesforce_sandbox.base_url)
    number = next(i for i in range(999_000, 1_000_001) if lead(i, 1, 1_000_000)["sfdcContactId"])
    contact_id = sf_id("003", number)

    [record] = api.query(f"SELECT Id, Email FROM Contact WHERE Id IN ('{contact_id}')")

    assert record["Email"] == lead(number, 1, 1_000_000)["email"]


# -- Get Updated / Get Deleted ----------------------------------------------------------------

def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def test_updated_and_deleted_tasks_in_a_window(api):
    start = datetime.now(UTC) - timedelta(hours=1)
    end = datetime.now(UTC) + timedelta(minutes=2)
    first, second = api.create_task(), api.create_task()
    api.call("DELETE", f"sobjects/Task/{second}")
    window = {"start": _instant(start), "end": _instant(end)}

    updated = api.call("GET", "sobjects/Task/updated/", params=window).json()
    deleted = api.call("GET", "sobjects/Task/deleted/", params=window).json()

    assert updated["ids"] == [first]
    assert updated["latestDateCovered"] <= _instant(end).replace("+00:00", ".000+0000")
    assert [d["id"] for d in deleted["deletedRecords"]] == [second]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000",
                        deleted["deletedRecords"][0]["deletedDate"])
    assert deleted["earliestDateAvailable"] < deleted["latestDateCovered"]


@pytest.mark.parametrize(("resource", "days_back"), [("updated", 31), ("deleted", 16)])
def test_replication_window_is_limited(api, resource, days_back):
    now = datetime.now(UTC)
    too_old = {"start": _instant(now - timedelta(days=days_back)), "end": _instant(now)}
    backwards = {"start": _instant(now), "end": _instant(now - timedelta(hours=1))}

    for params in (too_old, backwards):
        response = api.call("GET", f"sobjects/Task/{resource}/", params=params)
        assert response.status_code == 400
        assert response.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


# -- limits, faults and counters --------------------------------------------------------------

def test_limit_info_counts_calls_until_the_daily_limit(salesforce_sandbox, api):
    salesforce_sandbox.configure(daily_api_limit=3)

    usage = [api.call("GET", "limits").headers["Sforce-Limit-Info"] for _ in range(3)]
    refused = api.call("GET", "limits")

    assert usage == ["api-usage=1/3", "api-usage=2/3", "api-usage=3/3"]
    assert refused.status_code == 403
    assert refused.json() == [{"message": "TotalRequests Limit exceeded.",
                               "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=3/3"


@pytest.mark.parametrize(("kind", "status", "code"), [
    ("INVALID_SESSION_ID", 401, "INVALID_SESSION_ID"),
    ("REQUEST_LIMIT_EXCEEDED", 403, "REQUEST_LIMIT_EXCEEDED"),
])
def test_session_and_limit_faults(salesforce_sandbox, api, kind, status, code):
    salesforce_sandbox.fault(kind, path="/query", count=2)

    responses = [api.call("GET", "query", params={"q": "SELECT Id FROM Task"})
                 for _ in range(3)]

    assert [r.status_code for r in responses] == [status, status, 200]
    assert responses[0].json()[0]["errorCode"] == code
    assert api.call("GET", "limits").status_code == 200


@pytest.mark.parametrize("status", [500, 503])
def test_http_error_faults_answer_html(salesforce_sandbox, api, status):
    salesforce_sandbox.fault(f"http_{status}", skip=1)

    passed = api.call("GET", "limits")
    failed = api.call("GET", "limits")

    assert passed.status_code == 200
    assert failed.status_code == status
    assert failed.headers["Content-Type"].startswith("text/html")
    assert str(status) in failed.text


def test_drop_after_apply_applies_the_write_but_the_client_sees_no_response(
        salesforce_sandbox, api):
    salesforce_sandbox.fault("drop_after_apply", path="composite/sobjects", method="POST")

    with pytest.raises(requests.ConnectionError):
        api.call("POST", "composite/sobjects", json={"records": task_records(2)})

    stored = salesforce_sandbox.call("GET", "records/Task")["records"]
    assert sorted(r["Subject"] for r in stored) == ["Task 0", "Task 1"]


def test_drop_loses_the_request(salesforce_sandbox, api):
    salesforce_sandbox.fault("drop", method="POST")

    with pytest.raises(requests.ConnectionError):
        api.call("POST", "sobjects/Task", json={"Subject": "lost"})

    assert salesforce_sandbox.call("GET", "records/Task")["records"] == []
    assert api.call("POST", "sobjects/Task", json={"Subject": "kept"}).status_code == 201


def test_latency_fault_delays_then_answers(salesforce_sandbox, api):
    salesforce_sandbox.fault("latency", latency_ms=50)

    assert api.call("GET", "limits").status_code == 200
    assert salesforce_sandbox.call("GET", "faults")["faults"] == []


def test_fault_with_a_probability_hits_a_share_of_requests_until_cleared(
        salesforce_sandbox, api):
    salesforce_sandbox.fault("UNABLE_TO_LOCK_ROW", path="composite/sobjects",
                             probability=0.3, seed=7)
    responses = [api.call("POST", "composite/sobjects", json={"records": task_records(1)})
                 for _ in range(100)]
    locked = sum(not r.json()[0]["success"] for r in responses)
    waiting = salesforce_sandbox.call("GET", "faults")
    stored = salesforce_sandbox.call("GET", "records/Task")["records"]

    assert 15 <= locked <= 45
    assert {r.json()[0]["errors"][0]["statusCode"] for r in responses
            if not r.json()[0]["success"]} == {"UNABLE_TO_LOCK_ROW"}
    assert len(stored) == 100 - locked
    assert [f["kind"] for f in waiting["faults"]] == ["UNABLE_TO_LOCK_ROW"]
    assert waiting["injected"] == {"UNABLE_TO_LOCK_ROW": locked}


def test_drop_after_apply_with_a_probability_and_a_count(salesforce_sandbox, api):
    salesforce_sandbox.fault("drop_after_apply", path="composite/sobjects", method="POST",
                             probability=1, count=1)

    with pytest.raises(requests.ConnectionError):
        api.call("POST", "composite/sobjects", json={"records": task_records(1)})
    answered = api.call("POST", "composite/sobjects", json={"records": task_records(1)})

    assert answered.status_code == 200
    assert len(salesforce_sandbox.call("GET", "records/Task")["records"]) == 2
    assert salesforce_sandbox.call("GET", "faults") == {
        "faults": [], "injected": {"drop_after_apply": 1}}


def test_fault_probability_must_be_a_share(salesforce_sandbox):
    with pytest.raises(requests.HTTPError) as refused:
        salesforce_sandbox.fault("http_503", probability=2)

    assert refused.value.response.status_code == 400


def test_counters_per_endpoint(salesforce_sandbox, api):
    salesforce_sandbox.reset_counters()
    task_id = api.create_task()
    api.call("PATCH", f"sobjects/Task/{task_id}", json={"Subject": "x"})
    api.call("POST", "composite/sobjects", json={"records": task_records(1)})
    api.query("SELECT Id FROM Lead", batch_size=500)
    fetch_token(salesforce_sandbox.base_url)

    counters = salesforce_sandbox.counters()

    assert counters["by_endpoint"] == {
        "POST /services/data/vXX.X/sobjects/Task": 1,
        "PATCH /services/data/vXX.X/sobjects/Task/{id}": 1,
        "POST /services/data/vXX.X/composite/sobjects": 1,
        "GET /services/data/vXX.X/query": 1,
        "GET /services/data/vXX.X/query/{id}": 1,
        "POST /services/oauth2/token": 1,
    }
    assert counters["total"] == 6


# -- playing the remote Salesforce user -------------------------------------------------------

def test_remote_user_change_bumps_last_modified(salesforce_sandbox, api):
    person = CONTACTS[1]
    before = api.call("GET", f"sobjects/Contact/{person['sfdcContactId']}").json()

    changed = salesforce_sandbox.call("POST", f"records/Contact/{person['sfdcContactId']}",
                                      json={"fields": {"HasOptedOutOfEmail": True}})
    after = api.call("GET", f"sobjects/Contact/{person['sfdcContactId']}").json()

    assert after["HasOptedOutOfEmail"] is True
    assert after["LastModifiedDate"] > before["LastModifiedDate"]
    assert after["SystemModstamp"] == changed["SystemModstamp"]
    assert after["LastModifiedById"] == person["sfdcLeadOwnerId"]
    stored = salesforce_sandbox.call("GET", "records/Contact")["records"]
    assert [r["Id"] for r in stored] == [person["sfdcContactId"]]


def test_remote_user_creates_a_task_seen_by_queries(salesforce_sandbox, api):
    owner = owner_user_id(OWNERS[1][0])
    created = salesforce_sandbox.call("POST", "records/Task", json={
        "fields": {"Subject": "Call back", "OwnerId": owner,
                   "WhoId": CONTACTS[0]["sfdcContactId"]},
        "at": "2026-01-02T03:04:05Z"})

    [record] = api.query("SELECT Id, OwnerId, CreatedDate FROM Task WHERE Subject = 'call back'")

    assert record["Id"] == created["Id"]
    assert record["OwnerId"] == owner
    assert record["CreatedDate"] == "2026-01-02T03:04:05.000+0000"
