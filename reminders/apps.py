"""Reminder tasks: the seller's task queue (SPEC section 6)."""

from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "reminders"
    verbose_name = "Reminder tasks"
