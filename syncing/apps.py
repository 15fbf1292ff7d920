"""Syncing with Marketo and Salesforce: connections and switches, the wire clients, the people
mirror, the outbox and its senders (see "Where things live" in README.md)."""

import importlib
import importlib.util
import pkgutil

from django.apps import AppConfig


class SyncingConfig(AppConfig):
    name = "syncing"
    verbose_name = "Syncing"

    def ready(self):
        # The composition root: the Celery tasks (enqueued by name elsewhere), every room's
        # outbox senders (``syncing/<room>/senders.py``) and Sync health sources
        # (``syncing/<room>/health.py``), which register themselves.
        importlib.import_module("syncing.tasks")
        for room in pkgutil.iter_modules(self.module.__path__):
            for module in ("senders", "health"):
                if room.ispkg and importlib.util.find_spec(f"syncing.{room.name}.{module}"):
                    importlib.import_module(f"syncing.{room.name}.{module}")
