"""Connections to Marketo and Salesforce, sync settings, clients."""

from django.apps import AppConfig


class SyncingConfig(AppConfig):
    name = "syncing"
    verbose_name = "Syncing"
