"""Sync health of sales email: the sending queue (app -> SMTP/ESP), and sent emails logged to
Salesforce (Email Tasks) and Marketo (Send Sales Email and the engagement activities)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Min, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from emails.models import SalesEmail
from syncing.health.registry import (
    OUTBOX_FAILING_SECONDS,
    OUTBOX_LAGGING_SECONDS,
    HealthContext,
    HourBucket,
    QueueDepth,
    Status,
    StreamHealth,
    duration_text,
    health_source,
    hourly_history,
    outbox_health,
)
from syncing.models import Delivery, SyncStream

from .engagement import EMAIL_BOUNCE, EMAIL_CLICK, EMAIL_OPEN, EMAIL_REPLY
from .senders import KIND

SENDING = SyncStream.Name.EMAIL_SENDING.value
#: Beat's tick sends due emails every few seconds; a pass is expected at least this often.
SENDING_SCHEDULE_SECONDS = 60
#: The Marketo kinds a sent email leads to: the send, then what the person did with it.
MARKETO_KINDS = (KIND, EMAIL_OPEN, EMAIL_CLICK, EMAIL_REPLY, EMAIL_BOUNCE)


def _queue(ctx: HealthContext) -> dict:
    """One aggregate over the unsettled emails (the ``salesemail_due`` index's statuses)."""
    waiting = Q(status__in=[SalesEmail.Status.QUEUED, SalesEmail.Status.SENDING])
    return SalesEmail.objects.filter(
        Q(status__in=[SalesEmail.Status.QUEUED, SalesEmail.Status.SENDING,
                      SalesEmail.Status.HELD])
        | Q(status=SalesEmail.Status.FAILED, updated_at__gte=ctx.now - timedelta(hours=1)),
    ).aggregate(
        pending=Count("pk", filter=waiting & Q(attempts=0)),
        retrying=Count("pk", filter=waiting & Q(attempts__gt=0)),
        held=Count("pk", filter=Q(status=SalesEmail.Status.HELD)),
        failed_hour=Count("pk", filter=Q(status=SalesEmail.Status.FAILED)),
        oldest=Min("created_at", filter=waiting & (Q(next_attempt_at__isnull=True)
                                                   | Q(next_attempt_at__lte=ctx.now))),
        oldest_held=Min("created_at", filter=Q(status=SalesEmail.Status.HELD)),
    )


@health_source(SENDING, label=gettext_lazy("Sales email sending"), order=60)
def email_sending_health(ctx: HealthContext) -> StreamHealth:
    """Lag is the age of the oldest email due to go out. Sending is always on (it is the
    seller's own action); held emails wait for Marketo's unsubscribe check to answer."""
    row = _queue(ctx)
    stream = ctx.streams.get(SENDING)
    hours = ctx.pass_hours.get(SENDING, {})
    lag = max(0.0, (ctx.now - row["oldest"]).total_seconds()) if row["oldest"] else 0.0
    held_for = (max(0.0, (ctx.now - row["oldest_held"]).total_seconds())
                if row["oldest_held"] else 0.0)
    last_error = stream.last_error if stream else ""
    failing_now = bool(stream and stream.status == SyncStream.Status.FAILING)
    if lag > OUTBOX_FAILING_SECONDS or (failing_now and lag > OUTBOX_LAGGING_SECONDS):
        status, reason = Status.FAILING, (
            _("An email has waited %(wait)s to go out: %(error)s") % {
                "wait": duration_text(lag), "error": last_error} if last_error else
            _("An email has waited %(wait)s to go out.") % {"wait": duration_text(lag)})
    elif lag > OUTBOX_LAGGING_SECONDS:
        status, reason = Status.LAGGING, _("An email has waited %(wait)s to go out.") % {
            "wait": duration_text(lag)}
    elif held_for > OUTBOX_LAGGING_SECONDS:
        status, reason = Status.LAGGING, ngettext(
            "%(count)s email held for %(wait)s: Marketo's unsubscribe check does not answer; "
            "it goes out once it does.",
            "%(count)s emails held for %(wait)s: Marketo's unsubscribe check does not answer; "
            "they go out once it does.",
            row["held"]) % {"count": row["held"], "wait": duration_text(held_for)}
    elif failing_now:
        status, reason = Status.LAGGING, _("The last batch failed; the next retries: %(error)s") % {
            "error": last_error}
    else:
        status, reason = Status.OK, ""
    return StreamHealth(
        enabled=True, status=status, reason=reason, system="", direction="out",
        schedule_seconds=SENDING_SCHEDULE_SECONDS,
        last_success_at=stream.last_success_at if stream else None, lag_seconds=lag,
        throughput_last_hour=sum(int(r.get("rows_hour") or 0) for r in hours.values()),
        unit="emails", errors_last_hour=row["failed_hour"], last_error=last_error,
        last_error_at=stream.last_attempt_at if stream and last_error else None,
        queue=QueueDepth(pending=row["pending"] + row["held"], retrying=row["retrying"],
                         failed=row["failed_hour"]),
        # Passes are logged only when there was mail to send, so the time since the last one
        # says nothing of a lag: the chart shows emails sent and failed batches per hour.
        history=tuple(HourBucket(hour=bucket.hour, throughput=bucket.throughput,
                                 errors=bucket.errors, lag_seconds=None)
                      for bucket in hourly_history(ctx, hours, None)),
        detail=ngettext("%(count)s held for Marketo's check", "%(count)s held for Marketo's check",
                        row["held"]) % {"count": row["held"]} if row["held"] else "")


@health_source("emails_to_salesforce", label=gettext_lazy("Sales emails to Salesforce"), order=61)
def emails_to_salesforce_health(ctx: HealthContext) -> StreamHealth:
    return outbox_health(ctx, target=Delivery.Target.SALESFORCE, kinds=[KIND],
                         enabled=ctx.settings.log_emails_to_salesforce,
                         off_reason=_('Switched off: "Log emails to Salesforce" on Settings.'))


@health_source("emails_to_marketo", label=gettext_lazy("Sales emails to Marketo"), order=62)
def emails_to_marketo_health(ctx: HealthContext) -> StreamHealth:
    return outbox_health(ctx, target=Delivery.Target.MARKETO, kinds=MARKETO_KINDS,
                         enabled=ctx.settings.log_activities_to_marketo,
                         off_reason=_('Switched off: "Log sales activities to Marketo" on '
                                      "Settings."))
