"""The real ``marketorestpython`` client works against the Marketo sandbox unmodified.

Only its host changes: the client builds ``https://<munchkin>.mktorest.com`` and keeps it in
``MarketoClient.host``, which we point at the sandbox.
"""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from marketorestpython.client import MarketoClient
from sandboxes import MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET

from sandbox import seed


@pytest.fixture
def client(marketo_sandbox):
    client = MarketoClient("123-ABC-456", MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET,
                           max_retry_time=10, requests_timeout=30)
    client.host = marketo_sandbox.base_url
    return client


def test_get_leads_by_filter(client):
    emails = [seed.lead(i, 1, 2000)["email"] for i in (3, 49)]
    leads = client.execute(method="get_multiple_leads_by_filter_type", filterType="email",
                           filterValues=emails, fields="email,firstName,sfdcLeadOwnerId",
                           batchSize=2)
    by_id = client.execute(method="get_lead_by_id", id=7, fields=["email"])

    assert [lead["id"] for lead in leads] == [3, 49, 50]
    assert leads[0]["firstName"] == seed.lead(3, 1, 2000)["firstName"]
    assert by_id == [{"id": 7, "email": seed.lead(7, 1, 2000)["email"]}]


def test_get_lead_changes(client, marketo_sandbox):
    since = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    marketo_sandbox.call("PATCH", "leads/20", json={"fields": {"lastName": "Changed"}})
    marketo_sandbox.call("PATCH", "leads/21", json={"fields": {"title": "Not listed"}})
    created = marketo_sandbox.call("POST", "leads", json={"fields": {"lastName": "Brand New"}})
    marketo_sandbox.call("DELETE", "leads/22")

    changes = client.execute(method="get_lead_changes", fields=["lastName", "email"],
                             sinceDatetime=since)
    deleted = client.execute(method="get_deleted_leads", sinceDatetime=since)

    assert [(c["activityTypeId"], c["leadId"]) for c in changes] == [
        (13, 20), (12, created["id"])]
    assert changes[0]["fields"][0]["newValue"] == "Changed"
    assert [d["leadId"] for d in deleted] == [22]


def test_custom_activity_types_and_activities(client):
    created = client.execute(method="create_custom_activity_type", apiName="salesEmailSent",
                             name="Send Sales Email", triggerName="Is Sent Sales Email",
                             filterName="Was Sent Sales Email", primaryAttributeApiName="subject",
                             primaryAttributeName="Subject", description="A seller's email")
    client.execute(method="create_custom_activity_type_attribute", apiName="salesEmailSent",
                   attributes=[{"apiName": "sentBy", "name": "Sent By", "dataType": "email"}])
    approved = client.execute(method="approve_custom_activity_type", apiName="salesEmailSent")
    listed = client.execute(method="get_custom_activity_types")
    described = client.execute(method="describe_custom_activity_type", apiName="salesEmailSent")
    type_id = approved[0]["id"]
    added = client.execute(method="add_custom_activities", input=[
        {"leadId": 9, "activityDate": "2026-11-20T09:00:00Z", "activityTypeId": type_id,
         "primaryAttributeValue": "Hello",
         "attributes": [{"apiName": "sentBy", "value": "ava.stone@example.com"}]},
        {"leadId": 424242, "activityDate": "2026-11-20T09:00:00Z", "activityTypeId": type_id,
         "primaryAttributeValue": "Hello"}])
    logged = client.execute(method="get_lead_activities", activityTypeIds=[str(type_id)],
                            sinceDatetime="2026-11-01T00:00:00Z", leadIds="9")

    assert created[0]["status"] == "draft"
    assert approved[0]["status"] == "approved"
    assert [t["apiName"] for t in listed] == ["salesEmailSent"]
    assert described[0]["attributes"][0]["apiName"] == "sentBy"
    assert added[0]["status"] == "added" and added[1]["status"] == "skipped"
    assert [a["id"] for a in logged] == [added[0]["id"]]


def test_full_bulk_export(client):
    start = seed.SEED_START + timedelta(days=100)
    job = client.execute(method="create_leads_export_job", fields=["id", "email", "company"],
                         filters={"createdAt": {"startAt": start.isoformat(),
                                                "endAt": (start + timedelta(days=20)).isoformat()}})
    export_id = job[0]["exportId"]
    client.execute(method="enqueue_leads_export_job", job_id=export_id)
    status = client.execute(method="get_leads_export_job_status", job_id=export_id)
    for _ in range(100):
        if status[0]["status"] == "Completed":
            break
        status = client.execute(method="get_leads_export_job_status", job_id=export_id)
    content = client.execute(method="get_leads_export_job_file", job_id=export_id)
    jobs = client.execute(method="get_leads_export_jobs_list")

    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    assert status[0]["status"] == "Completed"
    assert len(rows) == status[0]["numberOfRecords"] > 5
    for row in rows:
        assert row["email"] == (seed.lead(int(row["id"]), 1, 2000)["email"] or "null")
    assert [j["exportId"] for j in jobs] == [export_id]
