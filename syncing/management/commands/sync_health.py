"""``manage.py sync_health``: the Sync health table for cron and monitoring.

Exit status: 0 when no stream is failing (lagging and paused streams included), 2 when one
is (the table says which and why). ``--json`` prints what ``GET /api/v1/sync/health/`` answers.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from syncing.health.registry import Status, duration_text
from syncing.health.selectors import sync_health
from syncing.health.serializers import SyncHealthSerializer

EXIT_FAILING = 2
COLUMNS = ("stream", "status", "on", "lag", "last success", "last hour", "errors 1h", "queue",
           "reason")


class Command(BaseCommand):
    help = ("Print every sync stream's health (as on Settings > Sync health) and exit 2 when "
            "a stream is failing.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true",
                            help="Print the health as JSON (the API's shape).")

    def handle(self, *args, **options):
        health = sync_health()
        if options["json"]:
            self.stdout.write(json.dumps(SyncHealthSerializer(health).data, indent=2))
        else:
            self._table(health)
        if health.status == Status.FAILING:
            names = ", ".join(stream.name for stream in health.failing)
            raise CommandError(f"failing: {names}", returncode=EXIT_FAILING)

    def _table(self, health):
        now = health.generated_at
        rows = [COLUMNS]
        for stream in health.streams:
            queue = stream.queue
            rows.append((
                stream.name, stream.status, "yes" if stream.enabled else "no",
                duration_text(stream.lag_seconds),
                (f"{duration_text((now - stream.last_success_at).total_seconds())} ago"
                 if stream.last_success_at else "never"),
                f"{stream.throughput_last_hour} {stream.unit}", str(stream.errors_last_hour),
                f"{queue.pending}/{queue.retrying}/{queue.failed}" if queue else "-",
                (stream.reason or "")[:100]))
        widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS) - 1)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]).rstrip())
        marketo, salesforce = health.budget.marketo, health.budget.salesforce
        self.stdout.write(
            f"\nqueue: pending/retrying/failed deliveries · overall: {health.status}\n"
            f"Marketo API: {marketo.window_calls} calls in the current "
            f"{marketo.window_seconds}-s window (limit {marketo.window_limit}), "
            f"{marketo.today_calls} of {marketo.daily_quota} today")
        org = (f"org used {salesforce.org_used} of {salesforce.org_limit} daily calls "
               f"(share {salesforce.share_percent}% = {salesforce.share_limit})"
               if salesforce.org_limit else
               f"no usage reported yet (share {salesforce.share_percent}%)")
        self.stdout.write(f"Salesforce API: {org}, {salesforce.today_calls} app calls today")
