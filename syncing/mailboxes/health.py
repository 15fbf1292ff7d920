"""The "Mailboxes" stream on Sync health: every connected mailbox's reading pass (state, last
pass, messages matched, errors) as one periodic stream; a paused mailbox (its login stopped
working) is named with its reason."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from mailboxes.models import Mailbox
from mailboxes.reading import PASS_LOG
from syncing.health.registry import (
    HealthContext,
    Status,
    StreamHealth,
    health_source,
    hourly_history,
    periodic_status,
    unit_text,
)

#: Mailboxes named one by one in the stream's detail (the rest are counted).
NAMED = 20


@health_source(PASS_LOG, label=gettext_lazy("Mailboxes"), order=65)
def mailboxes_health(ctx: HealthContext) -> StreamHealth:
    """Lag: the longest any connected mailbox has gone without a successful pass (since it
    was connected, for one never read)."""
    mailboxes = list(Mailbox.objects.select_related("user").order_by("user__username", "id")
                     .only("state", "paused_reason", "last_pass_at", "last_success_at",
                           "last_error", "connected_at", "messages_matched", "user__username"))
    hours = ctx.pass_hours.get(PASS_LOG, {})
    schedule = ctx.settings.mailbox_pass_interval_seconds
    connected = [m for m in mailboxes if not m.paused]
    paused = [m for m in mailboxes if m.paused]
    lag = max(((ctx.now - (m.last_success_at or m.connected_at)).total_seconds()
               for m in connected), default=None)
    failed = [m for m in connected if m.last_error]
    status, reason = periodic_status(
        enabled=bool(mailboxes), off_reason=_("No seller has connected a mailbox."),
        blocked_reason="" if connected or not paused else _("Every mailbox is paused."),
        schedule_seconds=schedule, lag_seconds=max(0.0, lag) if lag is not None else None,
        last_failed=bool(failed),
        last_error=f"{failed[0].user.username}: {failed[0].last_error}" if failed else "")
    if paused and status in (Status.OK, Status.PAUSED):
        status = Status.PAUSED
        reason = "; ".join(_("%(username)s's mailbox is paused: %(reason)s") % {
            "username": m.user.username, "reason": m.paused_reason} for m in paused[:NAMED])
    lines = [_line(ctx, mailbox) for mailbox in mailboxes[:NAMED]]
    if len(mailboxes) > NAMED:
        lines.append(_("… and %(count)s more") % {"count": len(mailboxes) - NAMED})
    errors = [m for m in mailboxes if m.last_error]
    latest_error = max(errors, key=lambda m: m.last_pass_at or m.connected_at, default=None)
    return StreamHealth(
        enabled=bool(mailboxes), status=status, reason=reason, system="", direction="in",
        schedule_seconds=schedule,
        last_success_at=max((m.last_success_at for m in mailboxes if m.last_success_at),
                            default=None),
        lag_seconds=lag, unit="messages matched",
        throughput_last_hour=sum(int(row.get("rows_hour") or 0) for row in hours.values()),
        errors_last_hour=sum(int(row.get("errors_hour") or 0) for row in hours.values()),
        last_error=latest_error.last_error if latest_error else "",
        last_error_at=latest_error.last_pass_at if latest_error else None,
        history=hourly_history(ctx, hours, ctx.pass_success_before.get(PASS_LOG)),
        detail="\n".join(lines))


def _line(ctx: HealthContext, mailbox: Mailbox) -> str:
    last = (_("last pass %(when)s") % {
                "when": f"{timezone.localtime(mailbox.last_pass_at):%Y-%m-%d %H:%M}"}
            if mailbox.last_pass_at else _("never read"))
    state = (_("paused (%(reason)s)") % {"reason": mailbox.paused_reason} if mailbox.paused
             else pgettext("sync health status", "ok"))
    matched = unit_text(mailbox.messages_matched, "messages matched")
    if mailbox.last_error and not mailbox.paused:
        # Translators: one mailbox's line on Sync health, e.g.
        # "sam: ok, last pass 2026-12-06 14:05, 3 messages matched, error: …".
        return _("%(username)s: %(state)s, %(last)s, %(matched)s, error: %(error)s") % {
            "username": mailbox.user.username, "state": state, "last": last,
            "matched": matched, "error": mailbox.last_error}
    return _("%(username)s: %(state)s, %(last)s, %(matched)s") % {
        "username": mailbox.user.username, "state": state, "last": last, "matched": matched}
