from django.apps import AppConfig


class EmailsConfig(AppConfig):
    name = "emails"
    verbose_name = "Sales email"

    def ready(self):
        # The Celery tasks, registered at start-up so they can be enqueued by name.
        from . import tasks  # noqa: F401
