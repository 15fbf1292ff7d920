"""Incremental people sync: lead changes and deletions from Marketo (SPEC section 2)."""

import pytest
from seed_expectations import qualifying_leads

from people.models import Person
from syncing.marketo import MarketoError
from syncing.models import SyncRun, SyncStream
from syncing.people_sync import (
    initial_run_execute,
    initial_run_start,
    marketo_client,
    people_incremental_pass,
)

pytestmark = pytest.mark.django_db

LEADS = 300
OWNER = {"sfdcLeadOwnerId": "005000000000002AAA", "leadOwnerEmailAddress": "ben.okafor@example.com",
         "leadOwnerFirstName": "Ben", "leadOwnerLastName": "Okafor"}


@pytest.fixture
def synced(marketo_connected):
    """A sandbox of 300 leads, fully synced; changes after this are the incremental's job."""
    marketo_connected.reset(leads=LEADS)
    run, _ = initial_run_start()
    initial_run_execute(run)
    return marketo_connected


def owned_ids():
    return sorted(qualifying_leads(LEADS))


def unowned_id():
    return next(i for i in range(1, LEADS + 1) if i not in qualifying_leads(LEADS))


def test_field_changes_are_applied(synced):
    marketo_id = owned_ids()[0]
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {
        "title": "Chief Revenue Officer", "company": "Initech", "phone": None}})

    run = people_incremental_pass()

    person = Person.objects.get(marketo_id=marketo_id)
    assert (person.title, person.company, person.phone) == ("Chief Revenue Officer",
                                                            "Initech", "")
    assert run.status == SyncRun.Status.SUCCEEDED and run.people_written == 1


def test_a_new_lead_with_an_owner_appears_and_one_without_does_not(synced):
    owned = synced.call("POST", "leads", json={"fields": {
        "firstName": "Nia", "lastName": "New", "email": "nia@example.com", **OWNER}})
    unowned = synced.call("POST", "leads",
                          json={"fields": {"firstName": "No", "lastName": "Owner"}})

    people_incremental_pass()

    person = Person.workspace.get(marketo_id=owned["id"])
    assert person.full_name == "Nia New" and person.owner_email == "ben.okafor@example.com"
    assert not Person.objects.filter(marketo_id=unowned["id"]).exists()


def test_owner_removed_hides_person(synced):
    marketo_id = owned_ids()[1]
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {"sfdcLeadOwnerId": None}})

    run = people_incremental_pass()

    assert not Person.workspace.filter(marketo_id=marketo_id).exists()
    person = Person.objects.get(marketo_id=marketo_id)
    assert person.removed_reason == Person.RemovedReason.OWNER_CLEARED
    assert run.people_left == 1


def test_owner_set_shows_person_and_owner_cleared_then_set_brings_them_back(synced):
    newcomer, returning = unowned_id(), owned_ids()[2]
    synced.call("PATCH", f"leads/{newcomer}", json={"fields": OWNER})
    synced.call("PATCH", f"leads/{returning}", json={"fields": {"sfdcLeadOwnerId": None}})
    people_incremental_pass()
    synced.call("PATCH", f"leads/{returning}", json={"fields": OWNER})

    people_incremental_pass()

    assert Person.workspace.get(marketo_id=newcomer).owner_email == "ben.okafor@example.com"
    assert Person.workspace.get(marketo_id=returning).removed_reason == ""


def test_a_lead_deleted_in_marketo_leaves_the_workspace(synced):
    marketo_id = owned_ids()[3]
    synced.call("DELETE", f"leads/{marketo_id}")

    run = people_incremental_pass()

    assert not Person.workspace.filter(marketo_id=marketo_id).exists()
    assert Person.objects.get(marketo_id=marketo_id).removed_reason == "deleted"
    assert run.people_removed == 1


def test_the_cursor_moves_on_so_a_second_pass_reapplies_nothing(synced):
    synced.call("PATCH", f"leads/{owned_ids()[0]}", json={"fields": {"title": "CTO"}})
    people_incremental_pass()
    synced.reset_counters()

    run = people_incremental_pass()

    assert run.people_written == 0
    stream = SyncStream.objects.get(name="people")
    assert stream.status == SyncStream.Status.HEALTHY and stream.caught_up_to is not None


def test_many_changes_span_several_pages(synced):
    ids = owned_ids()
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "Buyer"}})

    run = people_incremental_pass()

    assert run.people_written == len(ids)
    assert set(Person.workspace.values_list("title", flat=True)) == {"Buyer"}


def test_a_failed_pass_keeps_the_cursor_so_nothing_is_lost(synced):
    marketo_id = owned_ids()[0]
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {"title": "Head of Ops"}})
    cursor_before = SyncStream.objects.get(name="people").cursor
    synced.fault("http_500", path="leads.json", count=100)

    with pytest.raises(MarketoError):
        people_incremental_pass(marketo_client(sleep=lambda seconds: None))

    stream = SyncStream.objects.get(name="people")
    assert stream.cursor == cursor_before
    assert stream.status == SyncStream.Status.FAILING and "500" in stream.last_error
    assert Person.objects.get(marketo_id=marketo_id).title != "Head of Ops"

    synced.clear_faults()
    people_incremental_pass()
    assert Person.objects.get(marketo_id=marketo_id).title == "Head of Ops"


def test_incremental_waits_for_an_unfinished_initial_sync(marketo_connected):
    marketo_connected.reset(leads=LEADS)
    initial_run_start()

    assert people_incremental_pass() is None
