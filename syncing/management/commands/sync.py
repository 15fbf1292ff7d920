from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from tqdm import tqdm

from campaigns.scheduler import campaign_steps_run
from emails.sending import emails_send_due
from emails.tracking_buffer import tracking_events_flush
from mailboxes.reading import mailbox_passes_run
from syncing.clients.transport import TransportError
from syncing.mirror.incremental import people_incremental_pass
from syncing.mirror.initial import initial_run_execute, initial_run_start
from syncing.mirror.state import PeopleSyncError, initial_run_unfinished, people_stream
from syncing.models import Delivery
from syncing.outbox.flush import deliveries_flush
from syncing.reminders.sync import ReminderSyncError, reminder_tasks_sync_pass
from syncing.settings.selectors import sync_settings_get
from syncing.unsubscribes.sync import unsubscribe_sync_pass


class Command(BaseCommand):
    help = gettext_lazy("One pass of every enabled sync, in the foreground; with --full, the "
                        "initial people sync (resumed where it stopped, if an earlier run did "
                        "not finish).")

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true",
                            help=_("run (or resume) the initial people sync with a progress bar"))

    def handle(self, *args, full=False, **options):
        try:
            if full:
                self.initial_sync()
            else:
                self.one_pass()
        except (TransportError, PeopleSyncError) as error:
            raise CommandError(_("sync failed: %(error)s") % {"error": error}) from error

    def initial_sync(self):
        run, created = initial_run_start()
        self.stdout.write((_("Starting initial people sync (run %(run)s)") if created else
                           _("Resuming initial people sync (run %(run)s)")) % {"run": run.pk})
        with tqdm(unit=" window", dynamic_ncols=True, file=self.stderr._out) as bar:
            def on_progress(run):
                bar.total = run.windows_total or None
                bar.n = run.windows_done
                bar.set_postfix(people=run.people_written, leads=run.leads_read,
                                calls=run.api_calls, refresh=False)
                bar.refresh()

            initial_run_execute(run, on_progress=on_progress)
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(_("sync failed: initial run %(run)s is held by another live "
                                 "process (last heartbeat %(time)s)") % {
                "run": run.pk, "time": f"{run.heartbeat_at:%H:%M:%S}"})
        self.stdout.write(self.style.SUCCESS(_(
            "Initial sync done: %(written)s people from %(read)s leads, %(removed)s removed, "
            "%(skipped)s skipped, %(calls)s Marketo calls (%(method)s)") % {
            "written": run.people_written, "read": run.leads_read,
            "removed": run.people_removed, "skipped": run.records_skipped,
            "calls": run.api_calls, "method": run.get_method_display()}))

    def one_pass(self):
        failure = None
        try:
            self.people_pass()
        except (TransportError, PeopleSyncError) as error:
            # The outbound deliveries do not depend on the people pass: send them anyway.
            failure = error
        try:
            self.reminder_pass()
        except (TransportError, ReminderSyncError) as error:
            failure = failure or error
        try:
            self.unsubscribe_pass()
        except TransportError as error:
            failure = failure or error
        # Sellers' mailboxes first (a reply ends a campaign before its next step is due),
        # then due campaign steps (their emails are queued), then queued sales emails, then
        # the deliveries, so what they made is sent and logged in this pass.
        for report in mailbox_passes_run(every=True):
            self.stdout.write(str(report))
            if report.error and not report.paused:
                failure = failure or CommandError(_("mailbox pass failed: %(report)s") % {
                    "report": report})
        self.stdout.write(str(campaign_steps_run()))
        self.stdout.write(str(emails_send_due()))
        # Opens and clicks buffered by the pixel and the redirect, before the deliveries they
        # create go out.
        try:
            self.stdout.write(str(tracking_events_flush()))
        except Exception as error:  # Redis down: the hits wait there; the rest still runs
            failure = failure or CommandError(_("email tracking flush failed: %(error)s") % {
                "error": error})
        for target in Delivery.Target.values:
            self.stdout.write(deliveries_flush(target, until_empty=True).summary())
        if failure:
            raise failure

    def unsubscribe_pass(self):
        if not sync_settings_get().unsubscribe_sync_enabled:
            self.stdout.write(_("unsubscribes: switched off on the settings page (new "
                                "unsubscribes are still pushed)"))
            return
        report = unsubscribe_sync_pass()
        self.stdout.write(report.summary() if report else
                          _("unsubscribes: another pass is running; skipped"))

    def people_pass(self):
        if not sync_settings_get().people_sync_enabled:
            self.stdout.write(_("people: paused (switched off on the settings page)"))
        elif initial_run_unfinished() or not people_stream().cursor:
            self.stdout.write(_("people: waiting for the initial sync (run `sync --full`)"))
        else:
            run = people_incremental_pass()
            if run is None:
                self.stdout.write(_("people: another pass is running; skipped"))
            else:
                self.stdout.write(_(
                    "people: %(written)s written, %(left)s left, %(removed)s removed, "
                    "%(skipped)s skipped, %(calls)s Marketo calls") % {
                    "written": run.people_written, "left": run.people_left,
                    "removed": run.people_removed, "skipped": run.records_skipped,
                    "calls": run.api_calls})

    def reminder_pass(self):
        settings = sync_settings_get()
        if not settings.reminder_task_sync_enabled:
            self.stdout.write(_("reminder tasks: import off (two-way sync is switched off)"))
            return
        report = reminder_tasks_sync_pass()
        if report is None:
            self.stdout.write(_("reminder tasks: another pass is running; skipped"))
        else:
            self.stdout.write(_("reminder tasks: %(report)s") % {"report": report.summary()})
