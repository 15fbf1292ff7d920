"""Settings pages: admins connect Marketo and Salesforce and flip the sync switches."""

import pytest
import requests
from django.db import connection
from sandboxes import (
    MARKETO_CLIENT_ID,
    MARKETO_CLIENT_SECRET,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET,
)

from syncing.models import MarketoConnection, SalesforceConnection, SyncSettings

pytestmark = pytest.mark.django_db


def marketo_form(base_url, secret=MARKETO_CLIENT_SECRET):
    return {"marketo-base_url": base_url, "marketo-client_id": MARKETO_CLIENT_ID,
            "marketo-client_secret": secret}


def salesforce_form(url, secret=SALESFORCE_CLIENT_SECRET):
    return {"salesforce-url": url, "salesforce-client_id": SALESFORCE_CLIENT_ID,
            "salesforce-client_secret": secret, "salesforce-api_version": "62.0"}


@pytest.mark.parametrize("method,path", [
    ("get", "/settings/"), ("post", "/settings/marketo/"), ("post", "/settings/marketo/test/"),
    ("post", "/settings/salesforce/"), ("post", "/settings/sync/"), ("get", "/diagnostics/"),
])
def test_seller_gets_403_on_settings(seller_client, method, path):
    assert getattr(seller_client, method)(path).status_code == 403


def test_seller_gets_403_on_the_settings_api(seller_client):
    assert seller_client.get("/api/v1/sync/settings/").status_code == 403
    assert seller_client.patch("/api/v1/sync/settings/", {"people_sync_enabled": False},
                               content_type="application/json").status_code == 403


def test_environment_values_are_the_initial_connection(admin_client, settings):
    settings.MARKETO_BASE_URL = "https://123-ABC-456.mktorest.com"
    settings.MARKETO_CLIENT_ID = "env-client-id"
    settings.MARKETO_CLIENT_SECRET = "env-secret-value"
    settings.SALESFORCE_URL = "https://acme.my.salesforce.com"

    page = admin_client.get("/settings/").content.decode()

    assert 'value="https://123-ABC-456.mktorest.com"' in page
    assert 'value="env-client-id"' in page
    assert 'value="https://acme.my.salesforce.com"' in page
    assert "env-secret-value" not in page
    assert MarketoConnection.load().client_secret == "env-secret-value"


def test_saved_secret_is_encrypted_in_the_database_and_never_shown(admin_client,
                                                                   marketo_sandbox):
    response = admin_client.post("/settings/marketo/", marketo_form(marketo_sandbox.base_url))
    assert response.status_code == 302

    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM syncing_marketoconnection")
        (stored,) = cursor.fetchone()
    assert stored and MARKETO_CLIENT_SECRET not in stored
    assert MarketoConnection.load().client_secret == MARKETO_CLIENT_SECRET
    page = admin_client.get("/settings/").content.decode()
    assert MARKETO_CLIENT_SECRET not in page
    assert stored not in page


def test_saving_checks_the_connection_and_shows_it(admin_client, marketo_sandbox):
    response = admin_client.post("/settings/marketo/", marketo_form(marketo_sandbox.base_url),
                                 follow=True)

    saved = MarketoConnection.load()
    assert saved.last_check_ok is True
    assert "Marketo connection saved" in response.content.decode()
    assert "Connected" in response.content.decode()


def test_blank_secret_keeps_the_saved_one(admin_client, marketo_sandbox):
    admin_client.post("/settings/marketo/", marketo_form(marketo_sandbox.base_url))
    admin_client.post("/settings/marketo/", marketo_form(marketo_sandbox.base_url, secret=""))

    assert MarketoConnection.load().client_secret == MARKETO_CLIENT_SECRET


def test_marketo_test_connection_succeeds_against_the_sandbox(admin_client, marketo_sandbox):
    response = admin_client.post("/settings/marketo/test/",
                                 marketo_form(marketo_sandbox.base_url), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Success" in body
    assert "<html" not in body  # an htmx partial, not a page
    assert marketo_sandbox.counters()["total"] >= 1  # it really called the API


def test_marketo_wrong_secret_shows_marketos_own_error_text(admin_client, marketo_sandbox):
    remote = requests.get(f"{marketo_sandbox.base_url}/identity/oauth/token", params={
        "grant_type": "client_credentials", "client_id": MARKETO_CLIENT_ID,
        "client_secret": "wrong"}, timeout=10).json()

    response = admin_client.post("/settings/marketo/test/",
                                 marketo_form(marketo_sandbox.base_url, secret="wrong"),
                                 HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert "Success" not in body
    assert remote["error_description"] in body


def test_test_connection_does_not_save(admin_client, marketo_sandbox):
    admin_client.post("/settings/marketo/test/", marketo_form(marketo_sandbox.base_url))

    assert not MarketoConnection.objects.exists()


def test_salesforce_test_connection_succeeds_against_the_sandbox(admin_client,
                                                                 salesforce_sandbox):
    response = admin_client.post("/settings/salesforce/test/",
                                 salesforce_form(salesforce_sandbox.base_url),
                                 HTTP_HX_REQUEST="true")

    assert "Success" in response.content.decode()
    assert salesforce_sandbox.counters()["total"] >= 2  # token + one API call


def test_salesforce_wrong_secret_shows_salesforces_own_error_text(admin_client,
                                                                  salesforce_sandbox):
    remote = requests.post(f"{salesforce_sandbox.base_url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": SALESFORCE_CLIENT_ID,
        "client_secret": "wrong"}, timeout=10).json()

    response = admin_client.post("/settings/salesforce/test/",
                                 salesforce_form(salesforce_sandbox.base_url, secret="wrong"),
                                 HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert "Success" not in body
    assert remote["error_description"] in body


def test_unreachable_marketo_is_reported_not_crashed(admin_client):
    response = admin_client.post("/settings/marketo/test/", marketo_form("http://127.0.0.1:1"),
                                 HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "Success" not in response.content.decode()


def test_salesforce_api_version_accepts_a_leading_v(admin_client, salesforce_sandbox):
    form = salesforce_form(salesforce_sandbox.base_url) | {"salesforce-api_version": "v61.0"}
    admin_client.post("/settings/salesforce/", form)

    assert SalesforceConnection.load().api_version == "61.0"


def test_invalid_connection_form_shows_field_errors(admin_client):
    response = admin_client.post("/settings/salesforce/",
                                 salesforce_form("not a url") | {"salesforce-api_version": "x"})

    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a valid URL" in body
    assert "Use a version like 62.0" in body


def sync_form(**overrides):
    defaults = {
        "people_sync_enabled": "on", "people_sync_interval_seconds": "60",
        "log_activities_to_marketo": "on", "log_calls_to_salesforce": "on",
        "log_emails_to_salesforce": "on", "log_reminder_tasks_to_salesforce": "on",
        "task_subject_template": "{{activity_type}}: {{activity_subject}}",
        "salesforce_daily_api_share_percent": "50", "unsubscribe_sync_schedule": "nightly",
        "unsubscribe_custom_optout_field": "", "marketo_unsubscribe_check": "on",
        "reminder_task_sync_interval_seconds": "300", "mailbox_pass_interval_seconds": "60",
    }
    defaults.update(overrides)
    return {f"sync-{key}": value for key, value in defaults.items() if value is not None}


def test_every_sync_switch_has_a_sensible_default():
    defaults = SyncSettings.load()

    assert defaults.people_sync_enabled and defaults.people_sync_interval_seconds == 60
    assert defaults.log_calls_to_salesforce and defaults.log_emails_to_salesforce
    assert defaults.log_reminder_tasks_to_salesforce and defaults.log_activities_to_marketo
    assert not defaults.reminder_task_sync_enabled and not defaults.unsubscribe_sync_enabled
    assert defaults.unsubscribe_sync_schedule == "nightly"
    assert defaults.marketo_unsubscribe_check
    assert defaults.salesforce_daily_api_share_percent == 50
    assert "{{activity_type}}" in defaults.task_subject_template


def test_admin_switches_syncs_on_the_page(admin_client, salesforce_sandbox):
    # The custom opt-out field is checked against the org's Contact and Lead when saved.
    salesforce_sandbox.reset(custom_fields={"Contact": ["Sales_Opt_Out__c"],
                                            "Lead": ["Sales_Opt_Out__c"]})
    SalesforceConnection(url=salesforce_sandbox.base_url, client_id=SALESFORCE_CLIENT_ID,
                         client_secret=SALESFORCE_CLIENT_SECRET).save()
    response = admin_client.post("/settings/sync/", sync_form(
        log_calls_to_salesforce=None, reminder_task_sync_enabled="on",
        unsubscribe_custom_optout_field="Sales_Opt_Out__c",
        task_subject_template="Call: {{call_outcome}}"))

    assert response.status_code == 302
    saved = SyncSettings.load()
    assert saved.log_calls_to_salesforce is False
    assert saved.reminder_task_sync_enabled is True
    assert saved.unsubscribe_custom_optout_field == "Sales_Opt_Out__c"
    assert saved.task_subject_template == "Call: {{call_outcome}}"


def test_unknown_subject_placeholder_is_refused(admin_client):
    response = admin_client.post("/settings/sync/",
                                 sync_form(task_subject_template="{{colour}} call"))

    assert response.status_code == 400
    assert "Unknown placeholder(s): colour" in response.content.decode()
    assert not SyncSettings.objects.exists()


def test_sync_settings_api_reads_and_updates(admin_client):
    assert admin_client.get("/api/v1/sync/settings/").json()["people_sync_enabled"] is True

    response = admin_client.patch("/api/v1/sync/settings/",
                                  {"people_sync_enabled": False,
                                   "salesforce_daily_api_share_percent": 25},
                                  content_type="application/json")

    assert response.status_code == 200
    assert response.json()["salesforce_daily_api_share_percent"] == 25
    assert SyncSettings.load().people_sync_enabled is False


def test_sync_settings_api_answers_400_with_field_errors(admin_client):
    response = admin_client.patch("/api/v1/sync/settings/",
                                  {"salesforce_daily_api_share_percent": 150,
                                   "unsubscribe_custom_optout_field": "bad name!"},
                                  content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) == {"salesforce_daily_api_share_percent",
                                    "unsubscribe_custom_optout_field"}
