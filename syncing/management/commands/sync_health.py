"""``manage.py sync_health``: the Sync health table for cron and monitoring.

Exit status: 0 when no stream is failing (lagging and paused streams included), 2 when one
is (the table says which and why). ``--json`` prints what ``GET /api/v1/sync/health/`` answers.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from syncing.health.registry import Status, duration_text, unit_text
from syncing.health.selectors import sync_health
from syncing.health.serializers import SyncHealthSerializer

EXIT_FAILING = 2
# Translators: the column headers of ``manage.py sync_health``'s table (kept short).
COLUMNS = (gettext_lazy("stream"), gettext_lazy("status"), pgettext_lazy("switch", "on"),
           gettext_lazy("lag"), gettext_lazy("last success"), gettext_lazy("last hour"),
           gettext_lazy("errors 1h"), gettext_lazy("queue"), gettext_lazy("reason"))


class Command(BaseCommand):
    help = gettext_lazy("Print every sync stream's health (as on Settings > Sync health) and "
                        "exit 2 when a stream is failing.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true",
                            help=_("Print the health as JSON (the API's shape)."))

    def handle(self, *args, **options):
        health = sync_health()
        if options["json"]:
            self.stdout.write(json.dumps(SyncHealthSerializer(health).data, indent=2))
        else:
            self._table(health)
        if health.status == Status.FAILING:
            names = ", ".join(stream.name for stream in health.failing)
            raise CommandError(_("failing: %(streams)s") % {"streams": names},
                               returncode=EXIT_FAILING)

    def _table(self, health):
        now = health.generated_at
        rows = [tuple(str(column) for column in COLUMNS)]
        for stream in health.streams:
            queue = stream.queue
            rows.append((
                stream.name, stream.status, _("yes") if stream.enabled else _("no"),
                duration_text(stream.lag_seconds),
                (_("%(duration)s ago") % {"duration": duration_text(
                    (now - stream.last_success_at).total_seconds())}
                 if stream.last_success_at else _("never")),
                unit_text(stream.throughput_last_hour, stream.unit),
                str(stream.errors_last_hour),
                f"{queue.pending}/{queue.retrying}/{queue.failed}" if queue else "-",
                (stream.reason or "")[:100]))
        widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS) - 1)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]).rstrip())
        marketo, salesforce = health.budget.marketo, health.budget.salesforce
        self.stdout.write("\n" + _(
            "queue: pending/retrying/failed deliveries · overall: %(status)s") % {
            "status": health.status})
        self.stdout.write(_(
            "Marketo API: %(window_calls)s calls in the current %(window_seconds)s-s window "
            "(limit %(window_limit)s), %(today_calls)s of %(daily_quota)s today") % {
            "window_calls": marketo.window_calls, "window_seconds": marketo.window_seconds,
            "window_limit": marketo.window_limit, "today_calls": marketo.today_calls,
            "daily_quota": marketo.daily_quota})
        if salesforce.org_limit:
            line = _("Salesforce API: org used %(used)s of %(limit)s daily calls (share "
                     "%(share)s%% = %(share_limit)s), %(today)s app calls today")
        else:
            line = _("Salesforce API: no usage reported yet (share %(share)s%%), %(today)s app "
                     "calls today")
        self.stdout.write(line % {
            "used": salesforce.org_used, "limit": salesforce.org_limit,
            "share": salesforce.share_percent, "share_limit": salesforce.share_limit,
            "today": salesforce.today_calls})
