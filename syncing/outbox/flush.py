"""Flushing a target: claim due deliveries batch by batch, hand them to their senders,
record what became of them."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from syncing.models import Delivery

from .batch import Batch, Outcome, SenderResult
from .queue import (
    BATCH_SIZES,
    batch_record,
    deliveries_claim,
    deliveries_due,
    deliveries_flush_soon,
)
from .registry import sender_for
from .streams import delivery_pause, delivery_paused_until

log = logging.getLogger(__name__)

Target = Delivery.Target
Status = Delivery.Status


@dataclass
class FlushReport:
    target: str
    batches: int = 0
    counts: Counter = field(default_factory=Counter)
    paused_until: datetime | None = None

    def __str__(self) -> str:
        parts = [f"{self.counts[status]} {status}" for status in
                 (Status.DELIVERED, Status.PENDING, Status.FAILED, Status.SKIPPED)
                 if self.counts[status]]
        text = f"{self.target}: {', '.join(parts) or 'nothing due'}"
        if self.paused_until:
            text += f" (paused until {self.paused_until:%H:%M:%S})"
        return text

    def summary(self) -> str:
        """The report for an admin reading ``manage.py sync`` (``__str__`` is for the logs)."""
        texts = {
            Status.DELIVERED: lambda n: ngettext("%(count)s delivered", "%(count)s delivered", n),
            Status.PENDING: lambda n: ngettext("%(count)s pending", "%(count)s pending", n),
            Status.FAILED: lambda n: ngettext("%(count)s failed", "%(count)s failed", n),
            Status.SKIPPED: lambda n: ngettext("%(count)s skipped", "%(count)s skipped", n),
        }
        parts = [texts[status](self.counts[status]) % {"count": self.counts[status]}
                 for status in texts if self.counts[status]]
        counts = ", ".join(parts) or _("nothing due")
        if self.paused_until:
            # Translators: "salesforce" or "marketo", then what a flush did.
            return _("deliveries to %(target)s: %(counts)s (paused until %(time)s)") % {
                "target": self.target, "counts": counts,
                "time": f"{self.paused_until:%H:%M:%S}"}
        return _("deliveries to %(target)s: %(counts)s") % {"target": self.target,
                                                             "counts": counts}


NO_SENDER = "NO_SENDER"


def batch_send(batch: Batch) -> SenderResult:
    """Hand each kind's part of the batch to its registered sender; merge their answers.

    A part whose sender raised is retried with backoff (Diagnostics shows it once it gives up),
    reconciling first whatever may already have been sent. Once a part pauses the target the
    parts after it are not sent (released: back in the queue as they were).
    """
    result = SenderResult()
    for kind, part in batch.by_kind().items():
        send = sender_for(batch.target, kind)
        if send is None:
            message = f"No sender is registered for {kind!r} deliveries to {batch.target}."
            result.outcomes.update({pk: Outcome.failed(NO_SENDER, message) for pk in part.by_id})
            continue
        try:
            answer = send(part)
        except Exception as error:
            log.exception("%s batch of %s failed", batch.target, kind)
            code, message = type(error).__name__, str(error)
            answer = SenderResult(outcomes={
                pk: (Outcome.unknown if pk in part.sent else Outcome.retry)(code, message)
                for pk in part.by_id})
        result.outcomes.update(answer.outcomes)
        if answer.pause_reason:
            result.pause_reason = answer.pause_reason
            break
    return result


def deliveries_flush(target: str, *, max_batches: int | None = None,
                     full_batches_only: bool = False, until_empty: bool = False
                     ) -> FlushReport:
    """Send due deliveries of ``target`` batch by batch, until a batch is not full (or,
    ``until_empty``, until none is due) or the target pauses.

    Stopping after a partial batch lets what arrives meanwhile gather for the next flush
    (enqueued after commit with a short linger), so a trickle of calls is not sent a few at a
    time. While there is a backlog (a full batch was claimed) another flush is enqueued, so
    several workers send in parallel; that helper sends full batches only.
    """
    report = FlushReport(target)
    while max_batches is None or report.batches < max_batches:
        report.paused_until = delivery_paused_until(target)
        if report.paused_until:
            break
        batch = deliveries_claim(target, full_only=full_batches_only)
        if batch is None:
            if full_batches_only and deliveries_due(target).exists():
                # Less than a batch is left: an ordinary flush sends it after the linger.
                deliveries_flush_soon([target])
            break
        report.batches += 1
        if len(batch.deliveries) == BATCH_SIZES[target]:
            deliveries_flush_soon([target], full_batches_only=True)
        result = batch_send(batch)
        if result.pause_reason:
            report.paused_until = delivery_pause(target, result.pause_reason)
        report.counts.update(batch_record(batch, result))
        if result.pause_reason:
            break
        if len(batch.deliveries) < BATCH_SIZES[target] and not until_empty:
            break
    return report


def delivery_targets_due(now: datetime | None = None) -> list[str]:
    """Targets with a delivery due now and no pause in force (for beat's tick)."""
    now = now or timezone.now()
    return [target for target in Target.values
            if not delivery_paused_until(target, now)
            and deliveries_due(target, now).exists()]
