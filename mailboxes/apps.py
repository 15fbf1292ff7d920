from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailboxesConfig(AppConfig):
    name = "mailboxes"
    verbose_name = _("Sellers' mailboxes")

    def ready(self):
        # The Celery tasks, registered at start-up so they can be enqueued by name.
        from . import tasks  # noqa: F401
