"""Settings → Test connection and the sync intervals (issue 24, defects 5 and 6): a test of
the saved values updates the card's status; success and failure are one sentence for a person
(what the system answered, or why it never answered); every bounded setting has one rule the
form, the API and its schema share."""

import re
import socket

import pytest
from sandboxes import (
    MARKETO_CLIENT_ID,
    MARKETO_CLIENT_SECRET,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET,
)
from test_settings_page import marketo_form, salesforce_form, sync_form

from syncing.models import MarketoConnection, SalesforceConnection, SyncSettings

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def card_status(page: str, system: str) -> str:
    return re.search(rf'<span id="{system}-status"[^>]*>(.*?)</span>\s*</header>', page,
                     re.S).group(1)


def test_testing_the_saved_values_updates_the_card(admin_client, marketo_sandbox):
    MarketoConnection(base_url=marketo_sandbox.base_url, client_id=MARKETO_CLIENT_ID,
                      client_secret=MARKETO_CLIENT_SECRET).save()
    assert "Not checked yet" in card_status(admin_client.get("/settings/").content.decode(),
                                            "marketo")

    # The secret field is left blank: it keeps the saved one, so these are the saved values.
    response = admin_client.post("/settings/marketo/test/",
                                 marketo_form(marketo_sandbox.base_url, secret=""), **HTMX)

    body = response.content.decode()
    assert 'id="marketo-status"' in body and 'hx-swap-oob="true"' in body
    assert "Connected" in body.split('id="marketo-status"')[1]
    assert MarketoConnection.load().last_check_ok is True
    status = card_status(admin_client.get("/settings/").content.decode(), "marketo")
    assert "Connected" in status and "Not checked yet" not in status


def test_testing_other_values_leaves_the_card_alone(admin_client, marketo_sandbox,
                                                     closed_port):
    MarketoConnection(base_url=marketo_sandbox.base_url, client_id=MARKETO_CLIENT_ID,
                      client_secret=MARKETO_CLIENT_SECRET).save()
    response = admin_client.post("/settings/marketo/test/",
                                 marketo_form(f"http://127.0.0.1:{closed_port}"), **HTMX)
    assert 'hx-swap-oob' not in response.content.decode()
    assert MarketoConnection.load().last_checked_at is None


def test_marketo_success_is_one_sentence(admin_client, marketo_sandbox):
    response = admin_client.post("/settings/marketo/test/",
                                 marketo_form(marketo_sandbox.base_url), **HTMX)
    body = response.content.decode()
    assert re.search(rf"Connected to Marketo at {re.escape(marketo_sandbox.base_url)}: signed "
                     r"in, \d+ lead fields readable\.", body)
    assert "{" not in body and "scope" not in body


def test_salesforce_success_is_one_sentence(admin_client, salesforce_sandbox):
    response = admin_client.post("/settings/salesforce/test/",
                                 salesforce_form(salesforce_sandbox.base_url), **HTMX)
    body = response.content.decode()
    assert re.search(r"Connected to Salesforce at http://[^:]+:\d+: signed in, API 62\.0, "
                     r"[\d,]+ of [\d,]+ daily API requests left\.", body), body
    assert "{" not in body and "instance_url" not in body


@pytest.mark.parametrize("system", ["marketo", "salesforce"])
def test_an_unreachable_system_is_said_plainly(admin_client, closed_port, system):
    url = f"http://127.0.0.1:{closed_port}"
    form = marketo_form(url) if system == "marketo" else salesforce_form(url)
    response = admin_client.post(f"/settings/{system}/test/", form, **HTMX)

    body = response.content.decode()
    label = system.capitalize()
    assert f"Could not reach {label} at {url}: connection refused." in body
    assert "HTTPConnectionPool" not in body and "NewConnectionError" not in body
    assert f"{label} said" not in body and f"{label} answered" not in body


def test_a_refusal_says_what_the_system_answered(admin_client, marketo_sandbox):
    response = admin_client.post("/settings/marketo/test/",
                                 marketo_form(marketo_sandbox.base_url, secret="wrong"), **HTMX)
    body = response.content.decode()
    assert "Marketo answered: " in body and "Could not reach" not in body


@pytest.mark.parametrize(("field", "value", "message"), [
    ("people_sync_interval_seconds", "99999999999",
     "The people sync interval must be between 10 and 86,400 seconds (24 hours)."),
    ("people_sync_interval_seconds", "5",
     "The people sync interval must be between 10 and 86,400 seconds (24 hours)."),
    ("reminder_task_sync_interval_seconds", "0",
     "The reminder task sync interval must be between 30 and 86,400 seconds (24 hours)."),
    ("salesforce_daily_api_share_percent", "150",
     "The share of Salesforce daily API calls must be between 1 and 100 percent."),
])
def test_the_form_and_the_api_refuse_the_same_values_alike(admin_client, field, value,
                                                           message):
    page = admin_client.post("/settings/sync/", sync_form(**{field: value}))
    assert page.status_code == 400
    assert message in page.content.decode()
    api = admin_client.patch("/api/v1/sync/settings/", {field: int(value)},
                             content_type="application/json")
    assert api.status_code == 400
    assert api.json() == {field: [message]}
    assert not SyncSettings.objects.exists()


def test_the_form_inputs_and_the_schema_state_the_bounds(admin_client):
    page = admin_client.get("/settings/").content.decode()
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    properties = schema["components"]["schemas"]["SyncSettings"]["properties"]
    for field, low, high in (("people_sync_interval_seconds", 10, 86400),
                             ("reminder_task_sync_interval_seconds", 30, 86400),
                             ("salesforce_daily_api_share_percent", 1, 100)):
        tag = re.search(rf'<input[^>]*name="sync-{field}"[^>]*>', page).group(0)
        assert f'min="{low}"' in tag and f'max="{high}"' in tag
        assert (properties[field]["minimum"], properties[field]["maximum"]) == (low, high)


def test_salesforce_saved_values_tested_update_its_card(admin_client, salesforce_sandbox):
    SalesforceConnection(url=salesforce_sandbox.base_url, client_id=SALESFORCE_CLIENT_ID,
                         client_secret=SALESFORCE_CLIENT_SECRET, api_version="62.0").save()
    admin_client.post("/settings/salesforce/test/",
                      salesforce_form(salesforce_sandbox.base_url, secret=""), **HTMX)
    status = card_status(admin_client.get("/settings/").content.decode(), "salesforce")
    assert "Connected" in status
