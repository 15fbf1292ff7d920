"""The sandboxes' side of unsubscribes: Salesforce opt-out checkboxes (standard and custom,
seeded) with SystemModstamp, and Marketo's ``unsubscribed`` through leads.json by email."""

from datetime import UTC, datetime

import pytest
from sandboxes import MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET

from sandbox import seed
from syncing.clients.marketo import MarketoClient
from syncing.clients.salesforce import SalesforceClient

FIELD = "Sales_Opt_Out__c"
PEOPLE = [seed.lead(i, 1, 2000) for i in range(1, 2001)]


def salesforce(control) -> SalesforceClient:
    return SalesforceClient(control.base_url, "sandbox-salesforce-client",
                            "sandbox-salesforce-secret")


@pytest.fixture
def org(salesforce_sandbox):
    salesforce_sandbox.reset(custom_fields={"Contact": [FIELD], "Lead": [FIELD]},
                             custom_checkbox_percent=5)
    return salesforce_sandbox


@pytest.mark.parametrize("sobject, id_field", [("Contact", "sfdcContactId"),
                                               ("Lead", "sfdcLeadId")])
def test_the_custom_opt_out_is_a_seeded_checkbox_on_contact_and_lead(org, sobject, id_field):
    client = salesforce(org)

    described = next(f for f in client.describe(sobject)["fields"] if f["name"] == FIELD)
    ticked = {r["Id"] for r in client.query(f"SELECT Id FROM {sobject} WHERE {FIELD} = true")}
    expected = {p[id_field] for n, p in enumerate(PEOPLE, 1)
                if p[id_field] and seed.custom_checkbox_seeded(n, FIELD, 1, 5)}

    assert described["type"] == "boolean" and described["custom"] and described["updateable"]
    assert ticked == expected and 0 < len(ticked) < 100


def test_opting_out_moves_the_system_modstamp(salesforce_sandbox):
    client = salesforce(salesforce_sandbox)
    contact = next(p["sfdcContactId"] for p in PEOPLE
                   if p["sfdcContactId"] and not p["unsubscribed"])
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    client.composite_update("Contact", [{"Id": contact, "HasOptedOutOfEmail": True}])
    changed = client.query_all("SELECT Id, HasOptedOutOfEmail FROM Contact "
                               f"WHERE SystemModstamp >= {before}")

    assert [(r["Id"], r["HasOptedOutOfEmail"]) for r in changed] == [(contact, True)]


def test_marketo_answers_unsubscribed_by_email(marketo_sandbox):
    client = MarketoClient(marketo_sandbox.base_url, MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET)
    people = [p for p in PEOPLE[:300] if p["email"] and "@" in p["email"]]

    leads = client.leads_by_filter("email", [p["email"].upper() for p in people],
                                   ["email", "unsubscribed"])

    assert {lead["email"] for lead in leads if lead["unsubscribed"]} == {
        p["email"] for p in people if p["unsubscribed"]}
