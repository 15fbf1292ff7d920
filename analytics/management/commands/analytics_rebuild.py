"""``manage.py analytics_rebuild``: recount the analytics' per-email outcomes and the
reports' rollups from the raw rows (after an upgrade, or to check them)."""

import time

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.services import analytics_rebuild


class Command(BaseCommand):
    help = gettext_lazy(
        "Recount each email's first open, click, reply and bounce from its events, and "
        "link unsubscribes to the emails that caused them, and recount the reports' rollups "
        "(per hour and seller) from the raw rows.")

    def handle(self, *args, **options):
        started = time.monotonic()
        rebuilt = analytics_rebuild()
        self.stdout.write(_(
            "Recounted %(emails)s emails (%(changed)s corrected), linked %(unsubscribes)s "
            "unsubscribes, recounted %(days)s days' rollups in %(seconds)s s.") % {
                "emails": f"{rebuilt.emails:,}", "changed": f"{rebuilt.changed:,}",
                "unsubscribes": f"{rebuilt.unsubscribes_linked:,}",
                "days": f"{rebuilt.rollup_days:,}",
                "seconds": f"{time.monotonic() - started:.1f}"})
