from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Sales campaigns")

    def ready(self):
        # What ends a membership from elsewhere: replies and bounces (sales email), and
        # unsubscribes (the suppression rule), connected here.
        from . import receivers  # noqa: F401
