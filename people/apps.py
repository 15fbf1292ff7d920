"""The read-only mirror of Marketo people."""

from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "People"

    def ready(self):
        from .list_cache import connect_model_signals

        connect_model_signals()
