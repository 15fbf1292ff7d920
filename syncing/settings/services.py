"""Writes of connection and sync settings, and building API clients from them."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from syncing.budget import (
    marketo_call_recorded,
    salesforce_call_recorded,
    salesforce_usage_recorded,
)
from syncing.clients.marketo import MarketoClient
from syncing.clients.salesforce import SalesforceClient
from syncing.clients.transport import TransportError
from syncing.models import MarketoConnection, SalesforceConnection, SyncSettings


@dataclass(frozen=True)
class ConnectionCheckResult:
    ok: bool
    message: str


def marketo_client_for(connection: MarketoConnection, **options) -> MarketoClient:
    """A client for the connection within the app's share of Marketo's limits; ``options``
    override MarketoClient's keyword arguments (timeouts, attempts, ...). Every request it
    sends is counted in the API budget (``syncing.budget``)."""
    options = {"calls_per_window": settings.MARKETO_CALLS_PER_WINDOW,
               "window_seconds": settings.MARKETO_WINDOW_SECONDS,
               "max_in_flight": settings.MARKETO_MAX_IN_FLIGHT,
               "on_call": marketo_call_recorded} | options
    return MarketoClient(connection.base_url, connection.client_id, connection.client_secret,
                         **options)


def salesforce_client_for(connection: SalesforceConnection, **options) -> SalesforceClient:
    """A client for the connection; its requests and the org's reported usage are recorded in
    the API budget (``syncing.budget``)."""
    options = {"on_call": salesforce_call_recorded, "on_usage": salesforce_usage_recorded
               } | options
    return SalesforceClient(connection.url, connection.client_id, connection.client_secret,
                            api_version=connection.api_version, **options)


def connection_check(connection: MarketoConnection | SalesforceConnection) -> ConnectionCheckResult:
    """Really authenticate and make one API call; the message is the remote system's own text."""
    if not connection.is_configured:
        return ConnectionCheckResult(False, "Fill in the URL, client id and client secret first.")
    # An admin is waiting on the page: one retry at most, then the remote's own answer.
    quick = {"max_attempts": 2, "timeout": 10}
    client = (marketo_client_for(connection, **quick)
              if isinstance(connection, MarketoConnection)
              else salesforce_client_for(connection, **quick))
    try:
        summary = client.check_connection()
    except TransportError as error:
        return ConnectionCheckResult(False, str(error))
    return ConnectionCheckResult(True, _describe_success(summary))


def _describe_success(summary: dict) -> str:
    details = ", ".join(f"{key}: {value}" for key, value in summary.items() if value is not None)
    return f"Connected ({details})" if details else "Connected"


@transaction.atomic
def connection_save(connection: MarketoConnection | SalesforceConnection) -> ConnectionCheckResult:
    """Save a connection and record the outcome of checking it, for the settings page."""
    result = connection_check(connection)
    connection.last_checked_at = timezone.now()
    connection.last_check_ok = result.ok
    connection.last_check_message = result.message
    connection.save()
    return result


def sync_settings_update(sync_settings: SyncSettings, **changes) -> SyncSettings:
    for field, value in changes.items():
        setattr(sync_settings, field, value)
    sync_settings.full_clean()
    sync_settings.save()
    return sync_settings
