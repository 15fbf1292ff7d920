"""The "Mailboxes" stream on Sync health: every connected mailbox's reading pass (state, last
pass, messages matched, errors) as one periodic stream; a paused mailbox (its login stopped
working) is named with its reason."""

from __future__ import annotations

from django.utils import timezone

from mailboxes.models import Mailbox
from mailboxes.reading import PASS_LOG
from syncing.health.registry import (
    HealthContext,
    Status,
    StreamHealth,
    health_source,
    hourly_history,
    periodic_status,
)

#: Mailboxes named one by one in the stream's detail (the rest are counted).
NAMED = 20


@health_source(PASS_LOG, label="Mailboxes", order=65)
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
        enabled=bool(mailboxes), off_reason="No seller has connected a mailbox.",
        blocked_reason="" if connected or not paused else "Every mailbox is paused.",
        schedule_seconds=schedule, lag_seconds=max(0.0, lag) if lag is not None else None,
        last_failed=bool(failed),
        last_error=f"{failed[0].user.username}: {failed[0].last_error}" if failed else "")
    if paused and status in (Status.OK, Status.PAUSED):
        status = Status.PAUSED
        reason = "; ".join(f"{m.user.username}'s mailbox is paused: {m.paused_reason}"
                           for m in paused[:NAMED])
    lines = [_line(ctx, mailbox) for mailbox in mailboxes[:NAMED]]
    if len(mailboxes) > NAMED:
        lines.append(f"… and {len(mailboxes) - NAMED} more")
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
    last = (f"last pass {timezone.localtime(mailbox.last_pass_at):%Y-%m-%d %H:%M}"
            if mailbox.last_pass_at else "never read")
    state = f"paused ({mailbox.paused_reason})" if mailbox.paused else "ok"
    error = f", error: {mailbox.last_error}" if mailbox.last_error and not mailbox.paused else ""
    return (f"{mailbox.user.username}: {state}, {last}, {mailbox.messages_matched} messages "
            f"matched{error}")
