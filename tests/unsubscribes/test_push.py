"""Pushing unsubscribes to Salesforce at once (SPEC section 7), through the outbox and real
HTTP to the Salesforce sandbox: always on, batched, and every opt-out lands under faults."""

import pytest
from conftest import patch_calls, sf_record
from django.test import Client
from factories import AdminFactory, UserFactory
from rest_framework.authtoken.models import Token

from syncing.models import Delivery, SyncSettings
from syncing.outbox.flush import deliveries_flush
from unsubscribes.models import Unsubscribe
from unsubscribes.services import unsubscribe_record, unsubscribe_remove, unsubscribes_record_many

pytestmark = pytest.mark.django_db
SALESFORCE = Delivery.Target.SALESFORCE


def api_for(user) -> Client:
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
    return client


def flush() -> None:
    """What the worker does when the flush enqueued after commit runs."""
    deliveries_flush(SALESFORCE, until_empty=True)


def deliveries(unsubscribe) -> list[Delivery]:
    return list(unsubscribe.deliveries.all())


def test_recording_pushes_the_opt_out_even_with_the_periodic_sync_off(
        salesforce_connected, seed_people, django_capture_on_commit_callbacks):
    contact, = seed_people("contact")
    assert not SyncSettings.load().unsubscribe_sync_enabled
    assert sf_record(salesforce_connected, contact)["HasOptedOutOfEmail"] is False

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = api_for(UserFactory()).post("/api/v1/unsubscribes/", {"person": contact.pk},
                                               content_type="application/json")
    flush()

    assert response.status_code == 201 and enqueued  # a flush is enqueued after commit
    delivery, = deliveries(Unsubscribe.objects.get())
    assert delivery.status == "delivered" and delivery.remote_id == contact.sfdc_contact_id
    assert sf_record(salesforce_connected, contact)["HasOptedOutOfEmail"] is True


def test_a_person_without_a_contact_gets_the_opt_out_on_the_lead(salesforce_connected,
                                                                  seed_people):
    lead, = seed_people("lead")

    unsubscribe_record(lead, "manual")
    flush()

    assert sf_record(salesforce_connected, lead)["HasOptedOutOfEmail"] is True


def test_a_person_without_salesforce_ids_is_recorded_and_diagnostics_says_why(
        salesforce_connected, seed_people, admin_client):
    nobody, = seed_people("no_salesforce")

    recorded = unsubscribe_record(nobody, "manual")
    flush()
    page = admin_client.get("/diagnostics/").content.decode()

    assert recorded.unsubscribe.in_force
    delivery, = deliveries(recorded.unsubscribe)
    assert delivery.status == "failed" and delivery.last_error_code == "NO_SALESFORCE_ID"
    assert "NO_SALESFORCE_ID" in page and "could not be pushed" in page


def test_a_burst_goes_out_200_records_a_call(salesforce_connected, seed_people):
    people = seed_people("contact", 250) + seed_people("lead", 200)

    unsubscribes_record_many(people, "bounce")
    flush()

    assert patch_calls(salesforce_connected) == 3
    assert Delivery.objects.filter(status="delivered").count() == 450
    assert all(sf_record(salesforce_connected, p)["HasOptedOutOfEmail"] for p in people[::37])


@pytest.mark.parametrize("fault", [
    {"kind": "drop_after_apply", "count": 2},   # applied, answer lost (twice)
    {"kind": "drop", "count": 2},               # lost before Salesforce saw it
    {"kind": "UNABLE_TO_LOCK_ROW", "records": 30, "count": 1},  # some rows locked
    {"kind": "UNABLE_TO_LOCK_ROW", "count": 5},  # the whole request, again and again
    {"kind": "INVALID_SESSION_ID", "count": 1},  # session revoked
    {"kind": "http_503", "count": 4},
])
def test_every_opt_out_lands_once_under_faults(salesforce_connected, seed_people, fault):
    people = seed_people("contact", 60) + seed_people("lead", 40)
    unsubscribes_record_many(people, "manual")
    salesforce_connected.fault(**fault, path="composite/sobjects", method="PATCH")

    for _ in range(10):  # passes of the worker, as retries come due
        flush()
        if not Delivery.objects.exclude(status="delivered").exists():
            break

    assert patch_calls(salesforce_connected) > 1  # the fault did hit
    assert Delivery.objects.count() == 100  # one push per unsubscribe, never a second
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert all(sf_record(salesforce_connected, p)["HasOptedOutOfEmail"] for p in people)


def test_the_custom_checkbox_is_set_too(salesforce_sandbox, salesforce_connected, seed_people):
    salesforce_sandbox.reset(custom_fields={"Contact": ["Sales_Opt_Out__c"],
                                            "Lead": ["Sales_Opt_Out__c"]})
    SyncSettings(unsubscribe_custom_optout_field="Sales_Opt_Out__c").save()
    contact, lead = seed_people("contact")[0], seed_people("lead")[0]

    unsubscribes_record_many([contact, lead], "manual")
    flush()

    for person in (contact, lead):
        record = sf_record(salesforce_connected, person)
        assert record["HasOptedOutOfEmail"] is True and record["Sales_Opt_Out__c"] is True


def test_removing_an_unsubscribe_leaves_salesforce_alone(salesforce_connected, seed_people):
    contact, = seed_people("contact")
    recorded = unsubscribe_record(contact, "manual")
    flush()
    salesforce_connected.reset_counters()

    unsubscribe_remove(recorded.unsubscribe, by=AdminFactory(), reason="Wrong person")
    flush()

    assert sf_record(salesforce_connected, contact)["HasOptedOutOfEmail"] is True
    assert salesforce_connected.counters()["total"] == 0
    assert len(deliveries(recorded.unsubscribe)) == 1


def test_the_api_and_the_person_page_show_the_push(salesforce_connected, seed_people,
                                                   seller_client):
    contact, nobody = seed_people("contact")[0], seed_people("no_salesforce")[0]
    pushed = unsubscribe_record(contact, "manual").unsubscribe
    unpushable = unsubscribe_record(nobody, "manual").unsubscribe
    waiting = api_for(UserFactory()).get(f"/api/v1/unsubscribes/{pushed.pk}/").json()

    flush()

    api = api_for(UserFactory())
    assert waiting["salesforce_push"] == "pending"
    assert api.get(f"/api/v1/unsubscribes/{pushed.pk}/").json()["salesforce_push"] == "delivered"
    failed = api.get(f"/api/v1/unsubscribes/{unpushable.pk}/").json()
    assert failed["salesforce_push"] == "failed"
    assert failed["salesforce_error"].startswith("NO_SALESFORCE_ID: ")
    assert 'data-push="delivered"' in seller_client.get(f"/people/{contact.pk}/").content.decode()
    page = seller_client.get(f"/people/{nobody.pk}/").content.decode()
    assert 'data-push="failed"' in page and "could not be pushed" in page
