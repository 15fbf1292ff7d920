"""The read-only mirror of Marketo people."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = _("People")

    def ready(self):
        from . import tasks  # noqa: F401 - registered at start-up so it can be enqueued by name
        from .list_cache import connect_model_signals

        connect_model_signals()
