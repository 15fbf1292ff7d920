"""Calls, sales emails and reminder tasks sellers log."""

from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "activities"
    verbose_name = "Activities"
