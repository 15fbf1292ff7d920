"""The outbox end to end: a call and its deliveries are saved together and delivered after
commit; the admin's toggles are honoured; a call logged while the broker is down is delivered
by beat's tick; ``manage.py sync`` delivers in the foreground."""

import io

import pytest
from django.core.management import call_command
from outbox_helpers import (
    broker_down,
    endpoint_calls,
    marketo_call_activities,
    record_flush_enqueues,
    sandbox_records,
)

from activities.models import Call
from activities.services import SKIP_SALESFORCE_OFF, call_log
from syncing.models import Delivery, SyncSettings
from syncing.outbox.flush import deliveries_flush
from syncing.outbox.skips import SKIP_MARKETO_OFF
from syncing.tasks import deliveries_flush_task, sync_tick

pytestmark = pytest.mark.django_db


def statuses(call) -> dict[str, str]:
    return dict(call.deliveries.values_list("target", "status"))


def test_a_call_is_delivered_to_both_after_commit(seller, seed_people, both_connected,
                                                  monkeypatch,
                                                  django_capture_on_commit_callbacks):
    salesforce, marketo = both_connected
    person, = seed_people("contact_opportunity")
    enqueued_flushes = record_flush_enqueues(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        call = call_log(logged_by=seller, person=person, notes="hello")
        # Inside the transaction the call and both pending deliveries exist together.
        assert statuses(call) == {"salesforce": "pending", "marketo": "pending"}
        assert enqueued_flushes == []  # nothing is sent before the call is committed

    assert sorted(enqueued_flushes) == ["marketo", "salesforce"]
    for target in enqueued_flushes:  # what the worker that takes the messages runs
        deliveries_flush_task(target)

    assert statuses(call) == {"salesforce": "delivered", "marketo": "delivered"}
    assert len(sandbox_records(salesforce)) == 1
    assert len(marketo_call_activities(marketo, person.marketo_id)) == 1


def test_toggles_off_mean_nothing_is_sent(seller, seed_people, both_connected):
    salesforce, marketo = both_connected
    SyncSettings(log_calls_to_salesforce=False, log_activities_to_marketo=False).save()
    person, = seed_people("contact_account")
    salesforce.reset_counters()
    marketo.reset_counters()

    call = call_log(logged_by=seller, person=person)
    deliveries_flush(Delivery.Target.SALESFORCE)
    deliveries_flush(Delivery.Target.MARKETO)

    assert dict(call.deliveries.values_list("target", "skip_reason")) == {
        "salesforce": SKIP_SALESFORCE_OFF, "marketo": SKIP_MARKETO_OFF}
    assert statuses(call) == {"salesforce": "skipped", "marketo": "skipped"}
    assert salesforce.counters()["total"] == 0
    assert marketo.counters()["total"] == 0


def test_a_toggle_switched_off_before_sending_skips_the_waiting_calls(seller, seed_people,
                                                                      both_connected):
    salesforce, marketo = both_connected
    person, = seed_people("lead")
    call = call_log(logged_by=seller, person=person)
    SyncSettings(log_calls_to_salesforce=False, log_activities_to_marketo=False).save()

    deliveries_flush(Delivery.Target.SALESFORCE)
    deliveries_flush(Delivery.Target.MARKETO)

    assert statuses(call) == {"salesforce": "skipped", "marketo": "skipped"}
    assert "switched off before" in call.deliveries.get(target="salesforce").skip_reason
    assert endpoint_calls(salesforce, "composite") == 0
    assert endpoint_calls(marketo, "external.json") == 0


def test_a_call_logged_while_the_broker_is_down_is_delivered_by_the_tick(
        seller, seed_people, both_connected, django_capture_on_commit_callbacks, caplog,
        monkeypatch):
    salesforce, marketo = both_connected
    person, = seed_people("lead")

    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        call = call_log(logged_by=seller, person=person)

    assert Call.objects.filter(pk=call.pk).exists()
    assert statuses(call) == {"salesforce": "pending", "marketo": "pending"}
    assert "beat's tick will pick it up" in caplog.text
    assert sandbox_records(salesforce) == []

    enqueued_flushes = record_flush_enqueues(monkeypatch)
    sync_tick()  # beat, once the broker is back
    assert sorted(enqueued_flushes) == ["marketo", "salesforce"]
    for target in enqueued_flushes:
        deliveries_flush_task(target)

    assert statuses(call) == {"salesforce": "delivered", "marketo": "delivered"}
    assert len(sandbox_records(salesforce)) == 1
    assert len(marketo_call_activities(marketo, person.marketo_id)) == 1


def test_the_sync_command_delivers_in_the_foreground(seller, seed_people, both_connected):
    salesforce, _ = both_connected
    SyncSettings(people_sync_enabled=False).save()
    people = seed_people("contact_account", 3)
    calls = [call_log(logged_by=seller, person=person) for person in people]
    out = io.StringIO()

    call_command("sync", stdout=out)

    assert "deliveries to salesforce: 3 delivered" in out.getvalue()
    assert "deliveries to marketo: 3 delivered" in out.getvalue()
    assert {s for call in calls for s in statuses(call).values()} == {"delivered"}
    assert len(sandbox_records(salesforce)) == 3
