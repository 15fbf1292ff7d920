"""Fixtures for unsubscribes and their sync: the app connected to the Salesforce sandbox, seed
people of each Salesforce shape, and a clean outbox per test."""

import pytest
from django.core.cache import cache
from sandboxes import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET

from people.models import Person
from people.services import person_apply_leads
from sandbox import seed
from syncing.models import SalesforceConnection

SEED_LEADS = 2000
SEED = [seed.lead(number, 1, SEED_LEADS) for number in range(1, SEED_LEADS + 1)]


def shape(lead: dict) -> str:
    if not lead["leadOwnerEmailAddress"]:
        return "unowned"
    return ("contact" if lead["sfdcContactId"] else "lead" if lead["sfdcLeadId"]
            else "no_salesforce")


@pytest.fixture
def seed_people(db):
    """``make(kind, count, opted_out=False)``: people of one Salesforce shape (``contact``,
    ``lead``, ``no_salesforce``) from seed leads, stored as the Marketo sync stores them."""

    def make(kind: str, count: int = 1, *, opted_out: bool = False) -> list[Person]:
        leads = [lead for lead in SEED
                 if shape(lead) == kind and bool(lead["unsubscribed"]) == opted_out][:count]
        assert len(leads) == count, f"not enough {kind} seed leads"
        person_apply_leads(leads)
        by_id = Person.objects.in_bulk([lead["id"] for lead in leads], field_name="marketo_id")
        return [by_id[lead["id"]] for lead in leads]

    return make


@pytest.fixture
def all_seed_people(db):
    """Every seed lead with an owner, as a person."""
    person_apply_leads(SEED)
    return list(Person.workspace.all())


@pytest.fixture
def salesforce_connected(db, salesforce_sandbox):
    SalesforceConnection(url=salesforce_sandbox.base_url, client_id=SALESFORCE_CLIENT_ID,
                         client_secret=SALESFORCE_CLIENT_SECRET, api_version="62.0").save()
    return salesforce_sandbox


@pytest.fixture(autouse=True)
def clean_outbox(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    settings.OUTBOX_LINGER_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "unsubscribes-tests",
                                   "OPTIONS": {"MAX_ENTRIES": 10_000}}}
    cache.clear()


def sf_record(control, person) -> dict:
    """The person's contact, else lead, as the Salesforce sandbox holds it now."""
    sobject, record_id = (("Contact", person.sfdc_contact_id) if person.sfdc_contact_id
                          else ("Lead", person.sfdc_lead_id))
    return control.call("GET", f"records/{sobject}/{record_id}")


def sf_set(control, person, **fields) -> None:
    """Change the person's contact, else lead, as a Salesforce user would."""
    sobject, record_id = (("Contact", person.sfdc_contact_id) if person.sfdc_contact_id
                          else ("Lead", person.sfdc_lead_id))
    control.call("POST", f"records/{sobject}/{record_id}", json={"fields": fields})


def patch_calls(control) -> int:
    counts = control.counters()["by_endpoint"]
    return sum(n for endpoint, n in counts.items()
               if endpoint.startswith("PATCH ") and "composite/sobjects" in endpoint)
