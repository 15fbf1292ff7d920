"""Unsubscribes, kept in step with Salesforce."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UnsubscribesConfig(AppConfig):
    name = "unsubscribes"
    verbose_name = _("Unsubscribes")
