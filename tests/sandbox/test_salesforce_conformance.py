"""The real simple-salesforce client works against the sandbox, unmodified but for the URL.

simple-salesforce hard-codes ``https://`` in every URL it builds, so the sandbox is served over
TLS with a self-signed certificate. The least-modified route into the client is its documented
"direct session" mode: ``Salesforce(instance_url=..., session_id=...)`` with a token from the
sandbox's client credentials endpoint and a ``requests.Session`` that trusts the certificate.
(Its own client-credentials login builds ``https://{domain}.salesforce.com`` and cannot be
pointed elsewhere.)
"""

from datetime import UTC, datetime, timedelta

import pytest
import requests
from sandboxes import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET
from simple_salesforce import (
    Salesforce,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from sandbox.control import SandboxControl
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.tls import serve_tls_in_thread
from sandbox.seed import lead
from sandbox.server import serve_in_thread

SEED_CONTACTS = [p for p in (lead(i, 1, 2000) for i in range(1, 2001)) if p["sfdcContactId"]]


@pytest.fixture(scope="session")
def salesforce_tls_servers():
    """One sandbox served twice: over HTTPS for simple-salesforce, over HTTP for control."""
    app = SalesforceSandbox(client_id=SALESFORCE_CLIENT_ID, client_secret=SALESFORCE_CLIENT_SECRET)
    tls = serve_tls_in_thread(app)
    plain = serve_in_thread(app)
    yield tls, plain
    tls.shutdown()
    plain.shutdown()


@pytest.fixture
def control(salesforce_tls_servers) -> SandboxControl:
    control = SandboxControl(salesforce_tls_servers[1].url)
    control.reset()
    return control


@pytest.fixture
def tls_session(salesforce_tls_servers) -> requests.Session:
    session = requests.Session()
    # REQUESTS_CA_BUNDLE in the environment would override Session.verify otherwise.
    session.trust_env = False
    session.verify = salesforce_tls_servers[0].cert_path
    return session


@pytest.fixture
def sf(control, salesforce_tls_servers, tls_session) -> Salesforce:
    token = tls_session.post(f"{salesforce_tls_servers[0].url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": SALESFORCE_CLIENT_ID,
        "client_secret": SALESFORCE_CLIENT_SECRET}, timeout=10).json()
    assert token["instance_url"] == salesforce_tls_servers[0].url
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"],
                      session=tls_session, version="62.0")


def test_query_all_follows_pages(sf, control):
    control.reset_counters()

    result = sf.query_all("SELECT Id, Email FROM Contact",
                          headers={"Sforce-Query-Options": "batchSize=200"})
    lazy = sf.query_all_iter("SELECT Id FROM Contact WHERE HasOptedOutOfEmail = false",
                             headers={"Sforce-Query-Options": "batchSize=200"})

    assert result["totalSize"] == len(SEED_CONTACTS) > 400
    assert [r["Id"] for r in result["records"]] == [p["sfdcContactId"] for p in SEED_CONTACTS]
    assert [r["Email"] for r in result["records"]] == [p["email"] for p in SEED_CONTACTS]
    assert sum(1 for _ in lazy) == sum(1 for p in SEED_CONTACTS if not p["unsubscribed"])
    pages = control.counters()["by_endpoint"]["GET /services/data/vXX.X/query/{id}"]
    assert pages >= 2 * (len(SEED_CONTACTS) // 200) - 2


def test_task_create_update_delete_through_sftype(sf, control):
    person = SEED_CONTACTS[0]
    start = datetime.now(UTC) - timedelta(minutes=5)

    created = sf.Task.create({"Subject": "Call: reached", "WhoId": person["sfdcContactId"],
                              "WhatId": person["sfdcAccountId"], "Status": "Completed",
                              "TaskSubtype": "Call", "CallDurationInSeconds": 95,
                              "CallType": "Outbound", "ActivityDate": "2026-11-20"})
    task_id = created["id"]
    update_status = sf.Task.update(task_id, {"Description": "Left a voicemail"})
    fetched = sf.Task.get(task_id)
    end = datetime.now(UTC) + timedelta(minutes=2)
    updated = sf.Task.updated(start, end)
    delete_status = sf.Task.delete(task_id)
    deleted = sf.Task.deleted(start, end)

    assert created["success"] is True and task_id.startswith("00T")
    assert update_status == 204 and delete_status == 204
    assert fetched["Description"] == "Left a voicemail" and fetched["IsClosed"] is True
    assert updated["ids"] == [task_id]
    assert [d["id"] for d in deleted["deletedRecords"]] == [task_id]
    with pytest.raises(SalesforceResourceNotFound):
        sf.Task.get(task_id)


def test_composite_sobjects_through_restful(sf, control):
    person = SEED_CONTACTS[1]
    records = [{"attributes": {"type": "Task"}, "Subject": f"Email {n}",
                "WhoId": person["sfdcContactId"], "TaskSubtype": "Email",
                "Status": "Completed"} for n in range(3)]

    created = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": True, "records": records})
    ids = [r["id"] for r in created]
    updated = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Task"}, "id": task_id, "Priority": "High"} for task_id in ids]})
    rows = sf.query(f"SELECT Id, Priority FROM Task WHERE Id IN ('{ids[0]}', '{ids[2]}')")
    deleted = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": ",".join(ids), "allOrNone": "true"})

    assert [r["success"] for r in created] == [True, True, True]
    assert [r["success"] for r in updated] == [True, True, True]
    assert sorted(r["Priority"] for r in rows["records"]) == ["High", "High"]
    assert [r["id"] for r in deleted] == ids
    stored = control.call("GET", "records/Task")["records"]
    assert all(r["IsDeleted"] for r in stored) and len(stored) == 3


def test_errors_map_to_simple_salesforce_exceptions(sf, control):
    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.query("SELECT Id FRM Task")
    with pytest.raises(SalesforceMalformedRequest) as invalid:
        sf.Task.create({"Subject": "x", "WhoId": SEED_CONTACTS[0]["sfdcAccountId"]})

    control.call("POST", "tokens/expire")
    with pytest.raises(SalesforceExpiredSession):
        sf.limits()

    assert malformed.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert invalid.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_describe_and_limits(sf):
    describe = sf.Task.describe()
    limits = sf.limits()

    assert "CallDisposition" in {f["name"] for f in describe["fields"]}
    assert limits["DailyApiRequests"]["Max"] == 15000
    assert sf.api_usage["api-usage"].used == 2
