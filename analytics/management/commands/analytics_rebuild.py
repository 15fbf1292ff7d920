"""``manage.py analytics_rebuild``: recount the analytics' per-email outcomes and the
reports' rollups from the raw rows (after an upgrade, or to check them)."""

import time

from django.core.management.base import BaseCommand

from analytics.services import analytics_rebuild


class Command(BaseCommand):
    help = ("Recount each email's first open, click, reply and bounce from its events, and "
            "link unsubscribes to the emails that caused them, and recount the reports' rollups "
            "(per hour and seller) from the raw rows.")

    def handle(self, *args, **options):
        started = time.monotonic()
        rebuilt = analytics_rebuild()
        self.stdout.write(f"Recounted {rebuilt.emails:,} emails ({rebuilt.changed:,} "
                          f"corrected), linked "
                          f"{rebuilt.unsubscribes_linked:,} unsubscribes, recounted "
                          f"{rebuilt.rollup_days:,} days' rollups in "
                          f"{time.monotonic() - started:.1f} s.")
