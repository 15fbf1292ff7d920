"""The Celery app. Configuration comes from Django settings (``CELERY_*``)."""

import os

from celery import Celery

from .broker import register as register_filesystem_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesactions.settings")

register_filesystem_broker()
app = Celery("salesactions")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
