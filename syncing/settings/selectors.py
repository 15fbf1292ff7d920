"""Reads of the connections and of the sync switches."""

from __future__ import annotations

from syncing.models import MarketoConnection, SalesforceConnection, SyncSettings


def marketo_connection_get() -> MarketoConnection:
    return MarketoConnection.load()


def salesforce_connection_get() -> SalesforceConnection:
    return SalesforceConnection.load()


def sync_settings_get() -> SyncSettings:
    return SyncSettings.load()
