"""The periodic two-way unsubscribe sync (SPEC section 7) against the Salesforce sandbox:
opt-outs become app unsubscribes, app unsubscribes win over a re-subscribe, later passes read
only what changed, and the schedule and switch decide when it runs."""

from datetime import datetime, timedelta

import pytest
from conftest import SEED, sf_record, sf_set
from django.core.management import call_command
from django.utils import timezone
from factories import UnsubscribeFactory

from syncing.models import Delivery, SyncSettings, SyncStream
from syncing.outbox.flush import deliveries_flush
from syncing.unsubscribes.sync import (
    unsubscribe_stream,
    unsubscribe_sync_due,
    unsubscribe_sync_pass,
)
from unsubscribes.models import Unsubscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_on(db):
    SyncSettings(unsubscribe_sync_enabled=True).save()


def opted_out_in_seed() -> set[int]:
    """Marketo ids of owned seed people whose contact or lead is opted out."""
    return {lead["id"] for lead in SEED if lead["leadOwnerEmailAddress"] and lead["unsubscribed"]
            and (lead["sfdcContactId"] or lead["sfdcLeadId"])}


def query_calls(control) -> int:
    counts = control.counters()["by_endpoint"]
    return sum(n for endpoint, n in counts.items() if "/query" in endpoint)


def test_salesforce_opt_outs_become_app_unsubscribes(salesforce_connected, all_seed_people,
                                                     sync_on):
    report = unsubscribe_sync_pass()

    imported = Unsubscribe.objects.filter(source="salesforce", removed_at__isnull=True)
    assert report.full and report.imported == len(opted_out_in_seed()) > 20
    assert set(imported.values_list("person__marketo_id", flat=True)) == opted_out_in_seed()
    assert all(u.created_by is None and u.email == u.person.email for u in imported)
    # Already opted out there: nothing to push back.
    assert report.pushed == 0 and not Delivery.objects.exists()
    stream = unsubscribe_stream()
    assert stream.status == "healthy" and stream.cursor["high_water"]


def test_a_resubscribe_in_salesforce_is_ignored_and_the_opt_out_set_again(
        salesforce_connected, all_seed_people, sync_on):
    unsubscribe_sync_pass()
    unsubscribe = Unsubscribe.objects.filter(person__sfdc_contact_id__gt="").first()
    sf_set(salesforce_connected, unsubscribe.person, HasOptedOutOfEmail=False)

    report = unsubscribe_sync_pass()
    deliveries_flush(Delivery.Target.SALESFORCE, until_empty=True)

    unsubscribe.refresh_from_db()
    assert not report.full and report.pushed == 1
    assert unsubscribe.in_force
    assert sf_record(salesforce_connected, unsubscribe.person)["HasOptedOutOfEmail"] is True


def test_the_first_pass_sets_opt_outs_salesforce_lost(salesforce_connected, seed_people,
                                                      sync_on):
    person, = seed_people("contact")
    UnsubscribeFactory(person=person)  # recorded before pushes existed: never sent

    report = unsubscribe_sync_pass()
    deliveries_flush(Delivery.Target.SALESFORCE, until_empty=True)

    assert report.pushed == 1
    assert sf_record(salesforce_connected, person)["HasOptedOutOfEmail"] is True
    # A push already waiting is not queued twice.
    sf_set(salesforce_connected, person, HasOptedOutOfEmail=False)
    SyncStream.objects.filter(name=SyncStream.Name.UNSUBSCRIBES).update(cursor={})
    unsubscribe_sync_pass()
    unsubscribe_sync_pass()
    assert Delivery.objects.filter(status="pending").count() == 1


def test_later_passes_read_only_what_changed(salesforce_connected, all_seed_people, sync_on):
    unsubscribe_sync_pass()
    person = next(p for p in all_seed_people
                  if p.sfdc_lead_id and not p.unsubscribes.exists())
    sf_set(salesforce_connected, person, HasOptedOutOfEmail=True)
    salesforce_connected.reset_counters()

    report = unsubscribe_sync_pass()

    assert not report.full and report.read == 1 and report.imported == 1
    assert person.unsubscribes.get().source == "salesforce"
    assert query_calls(salesforce_connected) == 2  # one query of Contact, one of Lead
    assert report.calls <= 4


def test_a_removed_unsubscribe_stays_removed_while_salesforce_does_not_change(
        salesforce_connected, all_seed_people, sync_on, admin_user):
    from unsubscribes.services import unsubscribe_remove

    unsubscribe_sync_pass()
    unsubscribe = Unsubscribe.objects.filter(source="salesforce").first()
    unsubscribe_remove(unsubscribe, by=admin_user, reason="Asked to hear from us again")

    unsubscribe_sync_pass()

    assert not unsubscribe.person.unsubscribes.filter(removed_at__isnull=True).exists()


def test_salesforce_down_fails_the_pass_without_applying_anything(salesforce_connected,
                                                                  all_seed_people, sync_on):
    salesforce_connected.fault("http_503", path="/query", count=50)

    with pytest.raises(Exception, match="503"):
        unsubscribe_sync_pass()

    stream = unsubscribe_stream()
    assert stream.status == "failing" and "503" in stream.last_error
    assert not Unsubscribe.objects.exists() and stream.lease_until is None


def test_the_sync_command_runs_a_pass(salesforce_connected, all_seed_people, sync_on, capsys):
    call_command("sync")

    assert "unsubscribes: full pass" in capsys.readouterr().out
    assert Unsubscribe.objects.filter(source="salesforce").exists()


def test_switched_off_it_neither_runs_nor_imports(salesforce_connected, all_seed_people,
                                                  capsys):
    call_command("sync")

    assert "unsubscribes: switched off" in capsys.readouterr().out
    assert not unsubscribe_sync_due()
    assert not Unsubscribe.objects.exists()


@pytest.mark.parametrize("schedule, last, now, due", [
    ("nightly", "2026-12-04T02:30", "2026-12-05T01:59", False),
    ("nightly", "2026-12-04T02:30", "2026-12-05T02:00", True),
    ("nightly", "2026-12-05T02:00", "2026-12-05T23:00", False),
    ("hourly", "2026-12-05T10:00", "2026-12-05T10:59", False),
    ("hourly", "2026-12-05T10:00", "2026-12-05T11:00", True),
    ("6h", "2026-12-05T10:00", "2026-12-05T15:00", False),
    ("6h", "2026-12-05T10:00", "2026-12-05T16:00", True),
])
def test_the_schedule_decides_when_a_pass_is_due(db, schedule, last, now, due):
    SyncSettings(unsubscribe_sync_enabled=True, unsubscribe_sync_schedule=schedule).save()
    moment = {name: timezone.make_aware(datetime.fromisoformat(value))
              for name, value in (("last", last), ("now", now))}
    SyncStream.objects.create(name=SyncStream.Name.UNSUBSCRIBES, status="healthy",
                              last_attempt_at=moment["last"])

    assert unsubscribe_sync_due(moment["now"]) is due


def test_a_failed_pass_is_retried_before_the_next_night(db):
    SyncSettings(unsubscribe_sync_enabled=True).save()
    now = timezone.now()
    SyncStream.objects.create(name=SyncStream.Name.UNSUBSCRIBES, status="failing",
                              last_attempt_at=now - timedelta(minutes=16))

    assert unsubscribe_sync_due(now)


def test_the_settings_page_shows_the_stream(salesforce_connected, all_seed_people, sync_on,
                                            admin_client, seed_people):
    unsubscribe_sync_pass()
    from unsubscribes.services import unsubscribe_record

    unsubscribe_record(seed_people("no_salesforce")[0], "manual")
    deliveries_flush(Delivery.Target.SALESFORCE, until_empty=True)
    imported = Unsubscribe.objects.filter(source="salesforce").count()

    page = admin_client.get("/settings/").content.decode()

    card = page[page.index('id="unsubscribe-sync"'):]
    card = card[:card.index("</article>")]
    assert "Healthy" in card and "runs nightly (02:00)" in card
    assert f"{imported} unsubscribes imported" in card and "Salesforce read up to" in card
    assert "1 unsubscribe could not be pushed" in card
