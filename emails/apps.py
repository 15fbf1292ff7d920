from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmailsConfig(AppConfig):
    name = "emails"
    verbose_name = _("Sales email")

    def ready(self):
        # The Celery tasks, registered at start-up so they can be enqueued by name; anymail's
        # tracking/inbound signals connected to the event service (which also registers the
        # engagement kinds' outbox senders, syncing/email/engagement.py).
        from . import tasks, webhooks  # noqa: F401
