"""Sync health of sales campaigns: the step scheduler (due steps run by beat every 15 s and by
``manage.py sync``) and Add/Removed activities on their way to Marketo."""

from __future__ import annotations

from django.db.models import Min
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.models import Campaign, CampaignMember
from campaigns.scheduler import PASS_LOG
from syncing.health.registry import (
    FAILING_PASSES_IN_A_ROW,
    OUTBOX_FAILING_SECONDS,
    OUTBOX_LAGGING_SECONDS,
    HealthContext,
    HourBucket,
    Status,
    StreamHealth,
    duration_text,
    health_source,
    hourly_history,
    outbox_health,
)
from syncing.models import Delivery, StreamPass

from .senders import ADDED_KIND, REMOVED_KIND

#: Beat runs the scheduler every 15 s; a due step is expected to run within a minute.
SCHEDULE_SECONDS = 60


@health_source(PASS_LOG, label=gettext_lazy("Sales campaign steps"), order=70)
def campaign_steps_health(ctx: HealthContext) -> StreamHealth:
    """Lag is how long the earliest due step has waited (one read of the due index). Paused
    campaigns hold their steps on purpose and are not counted."""
    oldest = CampaignMember.objects.filter(
        status=CampaignMember.Status.ACTIVE, next_step_due_at__lte=ctx.now,
        campaign__status=Campaign.Status.ACTIVE).aggregate(oldest=Min("next_step_due_at"))["oldest"]
    lag = max(0.0, (ctx.now - oldest).total_seconds()) if oldest else 0.0
    hours = ctx.pass_hours.get(PASS_LOG, {})
    history = hourly_history(ctx, hours, ctx.pass_success_before.get(PASS_LOG))
    errors_hour = sum(int(row.get("errors_hour") or 0) for row in hours.values())
    last_error = (StreamPass.objects.filter(stream=PASS_LOG, ok=False)
                  .order_by("-finished_at").values_list("error", flat=True).first()
                  if errors_hour else "")
    # Read only when a pass failed in the window: the last passes, newest first.
    last_passes = (list(StreamPass.objects.filter(stream=PASS_LOG).order_by("-finished_at")
                        .values_list("ok", "error")[:FAILING_PASSES_IN_A_ROW])
                   if any(row.get("errors") for row in hours.values()) else [])
    if len(last_passes) == FAILING_PASSES_IN_A_ROW and not any(ok for ok, _ in last_passes):
        status = Status.FAILING
        reason = _("The last %(count)s passes failed: %(error)s") % {
            "count": FAILING_PASSES_IN_A_ROW, "error": last_passes[0][1]}
    elif lag > OUTBOX_FAILING_SECONDS:
        status, reason = Status.FAILING, _("A due step has waited %(wait)s.") % {
            "wait": duration_text(lag)}
    elif lag > OUTBOX_LAGGING_SECONDS:
        status, reason = Status.LAGGING, _("A due step has waited %(wait)s.") % {
            "wait": duration_text(lag)}
    elif errors_hour:
        status = Status.LAGGING
        reason = ngettext("%(count)s pass failed in the last hour: %(error)s",
                          "%(count)s passes failed in the last hour: %(error)s",
                          errors_hour) % {"count": errors_hour, "error": last_error}
    else:
        status, reason = Status.OK, ""
    return StreamHealth(
        enabled=True, status=status, reason=reason, system="", direction="out",
        schedule_seconds=SCHEDULE_SECONDS,
        last_success_at=max((row["last_ok"] for row in hours.values() if row.get("last_ok")),
                            default=ctx.pass_success_before.get(PASS_LOG)),
        lag_seconds=lag,
        throughput_last_hour=sum(int(row.get("rows_hour") or 0) for row in hours.values()),
        unit="steps",
        errors_last_hour=errors_hour,
        last_error=last_error,
        # Passes are logged only when steps were due: the chart shows steps run per hour.
        history=tuple(HourBucket(hour=bucket.hour, throughput=bucket.throughput,
                                 errors=bucket.errors, lag_seconds=None) for bucket in history))


@health_source("campaigns_to_marketo", label=gettext_lazy("Campaign activities to Marketo"),
               order=71)
def campaigns_to_marketo_health(ctx: HealthContext) -> StreamHealth:
    return outbox_health(ctx, target=Delivery.Target.MARKETO, kinds=[ADDED_KIND, REMOVED_KIND],
                         enabled=ctx.settings.log_activities_to_marketo,
                         off_reason=_('Switched off: "Log sales activities to Marketo" on '
                                      "Settings."))
