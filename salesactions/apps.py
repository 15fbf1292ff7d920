from django.apps import AppConfig


class SalesActionsConfig(AppConfig):
    """The project itself as an app: its system checks (``salesactions/checks.py``)."""

    name = "salesactions"
    verbose_name = "Sales Actions"

    def ready(self):
        from salesactions import checks  # noqa: F401  (registers the checks)
