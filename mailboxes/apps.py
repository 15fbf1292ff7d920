from django.apps import AppConfig


class MailboxesConfig(AppConfig):
    name = "mailboxes"
    verbose_name = "Sellers' mailboxes"

    def ready(self):
        # The Celery tasks, registered at start-up so they can be enqueued by name.
        from . import tasks  # noqa: F401
