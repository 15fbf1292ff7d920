"""Incremental people sync: lead changes and deletions from Marketo (SPEC section 2)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from seed_expectations import qualifying_leads

from people.models import Person
from people.services import MARKETO_FIELDS
from syncing.clients.marketo import ActivityPage, MarketoClient, MarketoError
from syncing.mirror import incremental, initial
from syncing.mirror.incremental import people_incremental_pass
from syncing.mirror.initial import initial_run_execute, initial_run_start
from syncing.mirror.state import marketo_client
from syncing.models import SyncRun, SyncStream

pytestmark = pytest.mark.django_db

LEADS = 300
OWNER = {"sfdcLeadOwnerId": "005000000000002AAA", "leadOwnerEmailAddress": "ben.okafor@example.com",
         "leadOwnerFirstName": "Ben", "leadOwnerLastName": "Okafor"}
LEADS_JSON = ("GET /rest/v1/leads.json", "POST /rest/v1/leads.json")
LEAD_CHANGES = "GET /rest/v1/activities/leadchanges.json"


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


def lead_fetches(sandbox) -> int:
    by_endpoint = sandbox.counters()["by_endpoint"]
    return sum(by_endpoint.get(key, 0) for key in LEADS_JSON)


def as_stored(lead: dict) -> dict:
    """A sandbox lead's values as the mirror stores them."""
    stored = {name: (lead[marketo_name] or "").strip()
              for name, marketo_name in MARKETO_FIELDS.items()}
    stored["owner_email"] = stored["owner_email"].lower()
    return stored


def assert_mirror_matches_marketo(sandbox, marketo_ids) -> None:
    """Every field of these people equals the lead in Marketo now, workspace membership too."""
    for marketo_id in marketo_ids:
        lead = sandbox.call("GET", f"leads/{marketo_id}")
        person = Person.objects.get(marketo_id=marketo_id)
        assert {name: getattr(person, name) for name in MARKETO_FIELDS} == as_stored(lead)
        assert person.in_workspace == bool(lead["sfdcLeadOwnerId"])


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


def test_a_failed_fetch_keeps_the_cursor_so_nothing_is_lost(synced):
    marketo_id = unowned_id()
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {"title": "Head of Ops",
                                                                 **OWNER}})
    cursor_before = SyncStream.objects.get(name="people").cursor
    synced.fault("http_500", path="leads.json", count=100)

    with pytest.raises(MarketoError):
        people_incremental_pass(marketo_client(sleep=lambda seconds: None))

    stream = SyncStream.objects.get(name="people")
    assert stream.cursor == cursor_before
    assert stream.status == SyncStream.Status.FAILING and "500" in stream.last_error
    assert not Person.objects.filter(marketo_id=marketo_id).exists()

    synced.clear_faults()
    people_incremental_pass()
    assert Person.workspace.get(marketo_id=marketo_id).title == "Head of Ops"


def test_a_failure_mid_pass_keeps_the_last_committed_page_and_a_rerun_is_exact(synced):
    ids = owned_ids()  # 237 people: two waves of changes make two pages of 300 and 174
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "Wave 1"}})
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "Wave 2",
                                                                          "company": "Acme"}})
    cursor_before = SyncStream.objects.get(name="people").cursor
    synced.fault("http_500", path="leadchanges.json", skip=1, count=100)

    with pytest.raises(MarketoError):
        people_incremental_pass(marketo_client(sleep=lambda seconds: None))

    stream = SyncStream.objects.get(name="people")
    assert stream.cursor["lead_changes"] != cursor_before["lead_changes"]  # page 1 committed
    assert stream.cursor["deleted_leads"] == cursor_before["deleted_leads"]
    titles = set(Person.workspace.values_list("title", flat=True))
    assert titles == {"Wave 1", "Wave 2"}  # page 1 ends inside the second wave

    synced.clear_faults()
    synced.reset_counters()
    run = people_incremental_pass()

    assert run.status == SyncRun.Status.SUCCEEDED
    assert set(Person.workspace.values_list("title", "company")) == {("Wave 2", "Acme")}
    assert Person.workspace.count() == len(ids)
    assert_mirror_matches_marketo(synced, ids)
    assert lead_fetches(synced) == 0


def test_a_field_change_to_a_stored_person_is_applied_without_fetching_the_lead(synced):
    marketo_id = owned_ids()[4]
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {
        "firstName": "Renamed", "email": "renamed@example.com", "sfdcOpptyId": None}})
    synced.reset_counters()

    run = people_incremental_pass()

    assert lead_fetches(synced) == 0
    assert synced.counters()["by_endpoint"][LEAD_CHANGES] == 1
    assert_mirror_matches_marketo(synced, [marketo_id])
    assert (run.people_written, run.leads_read, run.people_left) == (1, 1, 0)
    person = Person.objects.get(marketo_id=marketo_id)
    assert person.marketo_updated_at is not None


def test_several_changes_to_one_field_in_a_pass_the_last_one_wins(synced):
    ids = owned_ids()
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "First"}})
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "Second"}})
    for title in ("Third", "Fourth", "Last"):
        synced.call("PATCH", f"leads/{ids[0]}", json={"fields": {"title": title}})

    people_incremental_pass()

    assert Person.objects.get(marketo_id=ids[0]).title == "Last"
    assert set(Person.workspace.exclude(marketo_id=ids[0]).values_list("title", flat=True)) \
        == {"Second"}


def test_a_lead_outside_the_mirror_that_gains_an_owner_is_fetched_and_appears(synced):
    newcomer, stays_out = unowned_id(), [i for i in range(1, LEADS + 1)
                                         if i not in qualifying_leads(LEADS)][1]
    synced.call("PATCH", f"leads/{newcomer}", json={"fields": {"title": "Buyer"}})
    synced.call("PATCH", f"leads/{newcomer}", json={"fields": OWNER})
    synced.call("PATCH", f"leads/{stays_out}", json={"fields": {"title": "Still unowned"}})

    run = people_incremental_pass()

    assert_mirror_matches_marketo(synced, [newcomer])
    assert Person.workspace.get(marketo_id=newcomer).title == "Buyer"
    assert not Person.objects.filter(marketo_id=stays_out).exists()
    assert run.people_written == 1


def test_an_owner_change_brings_the_new_owners_name_and_email(synced):
    marketo_id = owned_ids()[5]
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {
        **OWNER, "leadOwnerEmailAddress": "Ben.Okafor@Example.com"}})
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {"title": "After the owner"}})

    people_incremental_pass()

    person = Person.workspace.get(marketo_id=marketo_id)
    assert (person.sfdc_owner_id, person.owner_email, person.owner_name) == (
        "005000000000002AAA", "ben.okafor@example.com", "Ben Okafor")
    assert person.title == "After the owner"
    assert_mirror_matches_marketo(synced, [marketo_id])


def test_someone_who_left_is_kept_up_to_date_but_not_counted_as_leaving_again(synced):
    marketo_id = owned_ids()[6]
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {"sfdcLeadOwnerId": None}})
    assert people_incremental_pass().people_left == 1
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {"title": "Gone quiet"}})

    run = people_incremental_pass()

    person = Person.objects.get(marketo_id=marketo_id)
    assert (person.in_workspace, person.removed_reason, person.title) == (
        False, Person.RemovedReason.OWNER_CLEARED, "Gone quiet")
    assert (run.people_left, run.people_written) == (0, 0)


def test_a_new_lead_changed_in_the_same_pass_ends_with_its_latest_values(synced):
    created = synced.call("POST", "leads", json={"fields": {"firstName": "Nia", **OWNER}})
    synced.call("PATCH", f"leads/{created['id']}", json={"fields": {"title": "Founder",
                                                                    "lastName": "Later"}})

    people_incremental_pass()

    assert_mirror_matches_marketo(synced, [created["id"]])
    assert Person.workspace.get(marketo_id=created["id"]).full_name == "Nia Later"


def test_pages_read_ahead_are_written_together_and_end_with_the_latest_values(
        synced, monkeypatch):
    ids = owned_ids()
    reowned = ids[12]
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "One"}})
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "Two"}})
    synced.call("PATCH", f"leads/{reowned}", json={"fields": OWNER})
    created = synced.call("POST", "leads", json={"fields": {"firstName": "Page", **OWNER}})
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "Three"}})
    for marketo_id in (created["id"], reowned):  # three pages; these are on the last
        synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {"title": "Latest"}})
    synced.reset_counters()
    hold_first_batch_until_all_pages_are_read(synced, monkeypatch, pages=3)

    run = people_incremental_pass()

    assert run.status == SyncRun.Status.SUCCEEDED
    assert_mirror_matches_marketo(synced, [created["id"], *ids])
    titles = dict(Person.objects.values_list("marketo_id", "title"))
    assert titles[reowned] == titles[created["id"]] == "Latest"
    assert {titles[i] for i in ids if i != reowned} == {"Three"}


def hold_first_batch_until_all_pages_are_read(sandbox, monkeypatch, pages: int) -> None:
    """Hold the writer on its first batch until the reader has fetched every page, as when
    the database is the slower side: the pages read meanwhile are then written together."""
    real = incremental.person_ids_stored
    calls = []

    def held(marketo_ids):
        calls.append(1)
        deadline = time.monotonic() + 10
        while len(calls) == 1 and time.monotonic() < deadline and sandbox.counters()[
                "by_endpoint"].get(LEAD_CHANGES, 0) < pages:
            time.sleep(0.02)
        return real(marketo_ids)

    monkeypatch.setattr(incremental, "person_ids_stored", held)


def test_a_change_to_a_lead_deleted_before_the_pass_leaves_it_deleted(synced):
    marketo_id = owned_ids()[7]
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {"title": "Short-lived"}})
    synced.call("DELETE", f"leads/{marketo_id}")

    run = people_incremental_pass()

    person = Person.objects.get(marketo_id=marketo_id)
    assert not person.in_workspace and person.removed_reason == Person.RemovedReason.DELETED
    assert run.people_removed == 1


def test_odd_new_values_are_stored_safely(synced):
    marketo_id = owned_ids()[8]
    synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {
        "firstName": "<script>alert(1)</script>", "lastName": "  Nul\x00Byte  ",
        "email": "not-an-email", "phone": ""}})

    run = people_incremental_pass()

    person = Person.workspace.get(marketo_id=marketo_id)
    assert (person.first_name, person.last_name, person.email, person.phone) == (
        "<script>alert(1)</script>", "NulByte", "not-an-email", "")
    assert run.status == SyncRun.Status.SUCCEEDED and run.records_skipped == 0


def test_a_page_with_over_long_values_and_a_bad_lead_id_is_applied_and_the_bad_one_counted(
        synced, monkeypatch):
    """The sandbox enforces Marketo's field lengths, so this page (in the documented wire
    format, "+0000" dates included) is handed over in place of the first feed call."""
    first, second = owned_ids()[9:11]
    updated_before = Person.objects.get(marketo_id=second).marketo_updated_at
    page = ActivityPage(results=[
        _change(1, first, "title", "T" * 400, "2026-03-01T10:00:00+0000"),
        _change(2, "not-a-lead", "title", "Nobody"),
        _change(3, second, "email", "x" * 300 + "@example.com", "yesterday-ish"),
        _change(4, first, "company", "null"),
    ], next_page_token=SyncStream.objects.get(name="people").cursor["lead_changes"],
        more_result=False)
    real_lead_changes = MarketoClient.lead_changes
    pages = iter([page])
    monkeypatch.setattr(MarketoClient, "lead_changes", lambda self, token, fields: next(
        pages, None) or real_lead_changes(self, token, fields))

    run = people_incremental_pass()

    person = Person.workspace.get(marketo_id=first)
    assert (person.title, person.company) == ("T" * 255, "")
    assert person.marketo_updated_at.isoformat() == "2026-03-01T10:00:00+00:00"
    other = Person.workspace.get(marketo_id=second)
    assert len(other.email) == 255
    assert other.marketo_updated_at == updated_before  # an odd activityDate keeps what we had
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.people_written, run.records_skipped) == (2, 1)
    assert run.skipped_examples == [{"marketo_id": "not-a-lead",
                                     "reason": "lead change without a usable leadId"}]


def _change(activity_id, lead_id, field, new_value, date="2026-03-01T10:00:00Z") -> dict:
    """A Change Data Value item of Get Lead Changes, as Marketo documents it."""
    return {"id": activity_id, "marketoGUID": str(activity_id), "leadId": lead_id,
            "activityDate": date, "activityTypeId": 13,
            "fields": [{"id": 1, "name": field, "newValue": new_value, "oldValue": "old"}],
            "attributes": [{"name": "Source", "value": "Web service API"}]}


def test_incremental_waits_for_an_unfinished_initial_sync(marketo_connected):
    marketo_connected.reset(leads=LEADS)
    initial_run_start()

    assert people_incremental_pass() is None


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="cancels the stuck pass's backend (PostgreSQL)")


@pytest.mark.django_db(transaction=True)
def test_a_large_batch_of_field_changes_is_applied_whole(synced):
    ids = owned_ids()
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "Split"}})

    run = people_incremental_pass()

    assert run.people_written == len(ids)
    assert set(Person.workspace.values_list("title", flat=True)) == {"Split"}
    assert_mirror_matches_marketo(synced, ids[:5] + ids[-5:])


@pytest.mark.django_db(transaction=True)
def test_a_failing_write_keeps_the_cursor_and_a_rerun_is_exact(synced, monkeypatch):
    def broken(values):
        raise RuntimeError("the database connection dropped")

    monkeypatch.setattr(incremental, "person_apply_changes", broken)
    ids = owned_ids()
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "Again"}})
    cursor_before = SyncStream.objects.get(name="people").cursor

    with pytest.raises(RuntimeError):
        people_incremental_pass()

    assert SyncStream.objects.get(name="people").cursor == cursor_before
    monkeypatch.undo()
    people_incremental_pass()
    assert set(Person.workspace.values_list("title", flat=True)) == {"Again"}
    assert_mirror_matches_marketo(synced, ids[:10])


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_large_batch_with_leads_fetched_whole_ends_with_their_latest_changes(
        synced, monkeypatch):
    # The read-ahead batch holds a lead fetched whole (new on an early page) and a later
    # change to it: that change must land after the whole lead.
    ids = owned_ids()
    reowned = ids[12]
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "One"}})
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "Two"}})
    synced.call("PATCH", f"leads/{reowned}", json={"fields": OWNER})  # fetched whole
    created = synced.call("POST", "leads", json={"fields": {"firstName": "Page", **OWNER}})
    synced.call("POST", "leads/change-many", json={"ids": ids, "fields": {"title": "Three"}})
    for marketo_id in (created["id"], reowned):  # three pages; these are on the last
        synced.call("PATCH", f"leads/{marketo_id}", json={"fields": {"title": "Latest"}})
    synced.reset_counters()
    # Pages 2 and 3 are written as one batch: the whole leads and their later changes.
    hold_first_batch_until_all_pages_are_read(synced, monkeypatch, pages=3)
    outcome = []

    def run_pass():
        try:
            outcome.append(people_incremental_pass())
        finally:
            # The thread's own connection: left open, it kept the test database from being
            # dropped at the end of the run ("being accessed by other users").
            connection.close()

    worker = threading.Thread(target=run_pass, daemon=True)

    worker.start()
    worker.join(timeout=30)
    stuck = worker.is_alive()
    if stuck:  # cancel its waits, or the test database could not be emptied afterwards
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        worker.join(timeout=30)

    assert not stuck, "the pass was stuck"
    assert outcome and outcome[0].status == SyncRun.Status.SUCCEEDED
    titles = dict(Person.objects.values_list("marketo_id", "title"))
    assert titles[created["id"]] == titles[reowned] == "Latest"
    assert_mirror_matches_marketo(synced, [created["id"], *ids])


EXPORT_CREATE = "POST /bulk/v1/leads/export/create.json"


@pytest.fixture
def burst_threshold(settings, monkeypatch):
    """A burst is anything past one page of changes; the export may end at this very second
    (sandbox and test share a clock); its file is cut in pieces of a few leads, so several
    are written at once."""
    settings.PEOPLE_SYNC_EXPORT_AFTER_CHANGES = 300
    monkeypatch.setattr(initial, "COPY_PIECE_BYTES", 4096)
    monkeypatch.setattr(incremental, "EXPORT_CLOCK_MARGIN", timedelta(0))


def make_burst(sandbox) -> dict:
    """Three waves of changes to every owned lead (three pages), a new lead, an owner gained,
    an owner cleared and a deletion; returns the ids of the last four."""
    ids = owned_ids()
    for wave in ("One", "Two", "Three"):
        sandbox.call("POST", "leads/change-many", json={"ids": ids, "fields": {
            "title": f"Burst {wave}", "company": f"Company {wave}"}})
    created = sandbox.call("POST", "leads", json={"fields": {"firstName": "Burst", **OWNER}})
    gained, cleared, deleted = unowned_id(), ids[5], ids[6]
    sandbox.call("PATCH", f"leads/{gained}", json={"fields": OWNER})
    sandbox.call("PATCH", f"leads/{cleared}", json={"fields": {"sfdcLeadOwnerId": None}})
    sandbox.call("DELETE", f"leads/{deleted}")
    return {"created": created["id"], "gained": gained, "cleared": cleared, "deleted": deleted}


def assert_burst_mirrored(sandbox, burst: dict) -> None:
    kept = [i for i in owned_ids() if i not in (burst["cleared"], burst["deleted"])]
    assert_mirror_matches_marketo(sandbox, [*kept, burst["created"], burst["gained"],
                                            burst["cleared"]])
    assert Person.objects.get(marketo_id=burst["cleared"]).removed_reason == "owner_cleared"
    assert Person.objects.get(marketo_id=burst["deleted"]).removed_reason == "deleted"
    assert not SyncStream.objects.get(name="people").cursor.get(incremental.WHOLE_LEADS)


@pytest.mark.django_db(transaction=True)  # the file is written on two connections
def test_a_burst_past_the_threshold_is_fetched_by_one_bulk_export(synced, burst_threshold):
    burst = make_burst(synced)
    synced.reset_counters()

    run = people_incremental_pass()

    assert run.status == SyncRun.Status.SUCCEEDED
    assert synced.counters()["by_endpoint"].get(EXPORT_CREATE) == 1
    assert_burst_mirrored(synced, burst)
    assert run.people_removed == 1

    synced.reset_counters()
    again = people_incremental_pass()  # caught up: nothing to read again, no export
    assert again.people_written == 0 and EXPORT_CREATE not in synced.counters()["by_endpoint"]


@pytest.mark.django_db(transaction=True)  # the file is written on two connections
def test_a_change_after_a_bursts_export_lands_on_top_of_it(synced, burst_threshold,
                                                          monkeypatch):
    burst = make_burst(synced)
    latest = owned_ids()[0]
    apply_file = incremental._backlog_export_apply

    def change_while_exporting(stream, run, client, export_id):
        apply_file(stream, run, client, export_id)
        synced.call("PATCH", f"leads/{latest}", json={"fields": {"title": "After the file"}})

    monkeypatch.setattr(incremental, "_backlog_export_apply", change_while_exporting)

    people_incremental_pass()

    assert Person.objects.get(marketo_id=latest).title == "After the file"
    assert_burst_mirrored(synced, burst)


@pytest.mark.django_db(transaction=True)  # the file is written on two connections
def test_a_lead_changed_again_past_the_exports_end_is_fetched_whole(synced, burst_threshold,
                                                                   monkeypatch):
    burst = make_burst(synced)
    again = owned_ids()[-1]  # its burst changes are on the pages after the first
    time.sleep(2)  # the pages after the export start a second before its end: past the burst
    export = incremental._backlog_export

    def change_past_the_window(stream, client, start, end):
        # Changed after the window's end, the lead is not in the file, and the page after
        # the export holds only this change: merged alone, it would lose the burst's.
        while timezone.now() < end + timedelta(seconds=1):
            time.sleep(0.1)
        synced.call("PATCH", f"leads/{again}", json={"fields": {"company": "Past the end"}})
        return export(stream, client, start, end)

    monkeypatch.setattr(incremental, "_backlog_export", change_past_the_window)

    people_incremental_pass()

    person = Person.objects.get(marketo_id=again)
    assert (person.title, person.company) == ("Burst Three", "Past the end")
    assert_burst_mirrored(synced, burst)


@pytest.mark.django_db(transaction=True)  # the file is written on two connections
def test_a_pass_failing_after_the_export_leaves_the_pages_after_it_to_be_fetched_whole(
        synced, burst_threshold):
    burst = make_burst(synced)
    # The first page is read, then the export; the pages after it fail.
    synced.fault("http_500", path="leadchanges.json", skip=1, count=100)

    with pytest.raises(MarketoError):
        people_incremental_pass(marketo_client(sleep=lambda seconds: None))

    assert SyncStream.objects.get(name="people").cursor[incremental.WHOLE_LEADS] is True
    synced.clear_faults()
    synced.reset_counters()
    run = people_incremental_pass()

    assert run.status == SyncRun.Status.SUCCEEDED
    assert lead_fetches(synced) > 0  # the pages after the export named leads fetched whole
    assert_burst_mirrored(synced, burst)


@pytest.mark.django_db(transaction=True)  # the file is written on two connections
def test_without_the_updated_at_filter_a_burst_is_read_page_by_page(synced, burst_threshold):
    synced.configure(bulk_updated_at_filter=False)  # Marketo answers 1035
    burst = make_burst(synced)
    synced.reset_counters()

    run = people_incremental_pass()

    assert run.status == SyncRun.Status.SUCCEEDED
    assert "GET /bulk/v1/leads/export/{id}/status.json" not in synced.counters()[
        "by_endpoint"]
    assert_burst_mirrored(synced, burst)
