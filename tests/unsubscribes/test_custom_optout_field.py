"""The custom opt-out checkbox (SPEC section 7): checked against describe when saved, then
synced exactly like HasOptedOutOfEmail."""

import pytest
from conftest import SEED, sf_record
from django.test import Client
from rest_framework.authtoken.models import Token

from sandbox.seed import custom_checkbox_seeded
from syncing.models import Delivery, SyncSettings
from syncing.outbox.flush import deliveries_flush
from syncing.unsubscribes.sync import unsubscribe_sync_pass
from unsubscribes.models import Unsubscribe

pytestmark = pytest.mark.django_db
FIELD = "Sales_Opt_Out__c"


@pytest.fixture
def admin_api(admin_user):
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=admin_user).key}"
    return client


def save(admin_api, name):
    return admin_api.patch("/api/v1/sync/settings/", {"unsubscribe_custom_optout_field": name},
                           content_type="application/json")


@pytest.mark.parametrize("custom_fields, name, message", [
    ({"Contact": [FIELD]}, FIELD, "Lead has no field Sales_Opt_Out__c"),
    ({}, "Nope__c", "Contact has no field Nope__c"),
    ({}, "Email", "Contact.Email is a email field, not a checkbox"),
])
def test_saving_a_field_that_is_not_a_checkbox_on_both_is_refused(
        salesforce_sandbox, salesforce_connected, admin_api, custom_fields, name, message):
    salesforce_sandbox.reset(custom_fields=custom_fields)

    response = save(admin_api, name)

    assert response.status_code == 400
    assert message in " ".join(response.json()["unsubscribe_custom_optout_field"])
    assert SyncSettings.load().unsubscribe_custom_optout_field == ""


def test_saving_without_salesforce_connected_says_so(admin_api):
    response = save(admin_api, FIELD)

    assert response.status_code == 400
    assert "Connect Salesforce first" in str(response.json())


def test_the_settings_page_shows_the_describe_error(salesforce_sandbox, salesforce_connected,
                                                     admin_client):
    form = admin_client.get("/settings/").context["sync_form"]
    data = {form.add_prefix(name): value for name, value in form.initial.items()
            if value not in (None, False)}

    page = admin_client.post("/settings/sync/", {
        **data, form.add_prefix("unsubscribe_custom_optout_field"): "Nope__c"})

    assert page.status_code == 400
    assert "Contact has no field Nope__c" in page.content.decode()
    assert SyncSettings.load().unsubscribe_custom_optout_field == ""


def test_a_valid_field_is_saved_and_synced_like_the_standard_one(
        salesforce_sandbox, salesforce_connected, admin_api, all_seed_people):
    salesforce_sandbox.reset(custom_fields={"Contact": [FIELD], "Lead": [FIELD]},
                             custom_checkbox_percent=2)
    assert save(admin_api, FIELD).status_code == 200
    SyncSettings.objects.update(unsubscribe_sync_enabled=True)

    report = unsubscribe_sync_pass()
    deliveries_flush(Delivery.Target.SALESFORCE, until_empty=True)

    by_custom = {lead["id"] for number, lead in enumerate(SEED, 1)
                 if lead["leadOwnerEmailAddress"] and (lead["sfdcContactId"] or lead["sfdcLeadId"])
                 and custom_checkbox_seeded(number, FIELD, 1, 2)}
    by_standard = {lead["id"] for lead in SEED if lead["leadOwnerEmailAddress"]
                   and (lead["sfdcContactId"] or lead["sfdcLeadId"]) and lead["unsubscribed"]}
    imported = set(Unsubscribe.objects.values_list("person__marketo_id", flat=True))
    assert imported == by_custom | by_standard and by_custom - by_standard
    # Each opted out on one box only gets the other one set: opted-out wins.
    assert report.pushed == len(by_custom ^ by_standard)
    for unsubscribe in Unsubscribe.objects.select_related("person")[:40]:
        record = sf_record(salesforce_connected, unsubscribe.person)
        assert record["HasOptedOutOfEmail"] is True and record[FIELD] is True
