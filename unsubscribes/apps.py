"""Unsubscribes, kept in step with Salesforce."""

from django.apps import AppConfig


class UnsubscribesConfig(AppConfig):
    name = "unsubscribes"
    verbose_name = "Unsubscribes"
