"""What a sender gets and gives back: a claimed ``Batch`` of deliveries of one kind, and an
``Outcome`` per delivery in a ``SenderResult``.

``Batch.mark_sending`` commits ``outcome_unknown`` before a request leaves;
``Batch.reconcile_earlier_sends`` matches the deliveries an earlier attempt may have applied
against what the remote system holds before anything is sent again (no duplicates).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from syncing.models import Delivery


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery in one attempt (``sent``: an attempt row is logged)."""

    kind: str
    remote_id: str = ""
    code: str = ""
    message: str = ""
    duration_ms: int = 0
    sent: bool = True

    @classmethod
    def delivered(cls, remote_id: str, duration_ms: int = 0) -> Outcome:
        return cls("delivered", remote_id=str(remote_id), duration_ms=duration_ms)

    @classmethod
    def reconciled(cls, remote_id: str, duration_ms: int = 0) -> Outcome:
        """Found already applied by an earlier attempt whose answer was lost."""
        return cls("reconciled", remote_id=str(remote_id), duration_ms=duration_ms)

    @classmethod
    def retry(cls, code: str, message: str, duration_ms: int = 0) -> Outcome:
        """Not applied; a later attempt can succeed (backoff)."""
        return cls("retry", code=code or "", message=message, duration_ms=duration_ms)

    @classmethod
    def unknown(cls, code: str, message: str, duration_ms: int = 0) -> Outcome:
        """Maybe applied: reconcile before the next attempt."""
        return cls("unknown", code=code or "", message=message, duration_ms=duration_ms)

    @classmethod
    def failed(cls, code: str, message: str, duration_ms: int = 0) -> Outcome:
        """Cannot succeed as it is; shown on Diagnostics for an admin to retry."""
        return cls("failed", code=code or "", message=message, duration_ms=duration_ms)

    @classmethod
    def paused(cls, code: str, message: str, duration_ms: int = 0) -> Outcome:
        """Refused for an API limit: not applied, waits for the target to resume."""
        return cls("paused", code=code or "", message=message, duration_ms=duration_ms)

    @classmethod
    def skipped(cls, reason: str) -> Outcome:
        return cls("skipped", message=reason, sent=False)

    @classmethod
    def released(cls) -> Outcome:
        """Not attempted this time (the target paused first); back in the queue as it was."""
        return cls("released", sent=False)


@dataclass
class SenderResult:
    """A sender's answer for a batch: outcomes by delivery id (missing ones are released), and
    a reason to pause the whole target when an API limit was reached."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    pause_reason: str = ""


class Batch:
    """Deliveries claimed by one worker; ``reconcile`` holds the ids that may already have been
    applied by an earlier attempt."""

    def __init__(self, target: str, token: str, deliveries: list[Delivery], reconcile: set[int],
                 sent: set[int] | None = None):
        self.target = target
        self.token = token
        self.deliveries = deliveries
        self.by_id = {delivery.pk: delivery for delivery in deliveries}
        self.reconcile = reconcile
        self.sent: set[int] = set() if sent is None else sent

    def by_kind(self) -> dict[str, Batch]:
        """The batch split by kind, one part per sender; the parts share what was sent."""
        kinds: dict[str, list[Delivery]] = {}
        for delivery in self.deliveries:
            kinds.setdefault(delivery.kind, []).append(delivery)
        return {kind: Batch(self.target, self.token, deliveries,
                            self.reconcile & {d.pk for d in deliveries}, self.sent)
                for kind, deliveries in kinds.items()}

    def record_ids(self) -> list[int]:
        """The ids of the records these deliveries carry, for the sender to load."""
        return sorted({delivery.record_id for delivery in self.deliveries})

    def mark_sending(self, ids: list[int]) -> None:
        """Commit that these are about to be sent, before the request leaves."""
        now = timezone.now()
        Delivery.objects.filter(pk__in=ids, claim_token=self.token).update(
            outcome_unknown=True, attempts=F("attempts") + 1, last_attempt_at=now,
            first_attempt_at=Coalesce(F("first_attempt_at"), now))
        for pk in ids:
            delivery = self.by_id[pk]
            delivery.outcome_unknown = True
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.first_attempt_at = delivery.first_attempt_at or now
        self.sent.update(ids)

    def reconcile_earlier_sends(self, records: dict[int, object], result: SenderResult,
                                find: Callable[[dict], dict[int, str]],
                                errors: type[Exception]) -> dict[int, object]:
        """Before sending again, match the deliveries an earlier attempt may have applied
        against what the remote holds: ``find(maybe_applied_records) -> {id: remote id}``.

        Matched deliveries are recorded as delivered; if the remote cannot be checked (one of
        ``errors``), they wait, since sending blind could duplicate. Returns the records still
        to send.
        """
        unknown = {pk: record for pk, record in records.items() if pk in self.reconcile}
        if not unknown:
            return records
        started = time.monotonic()
        try:
            found = find(unknown)
        except errors as error:
            for pk in unknown:
                result.outcomes[pk] = Outcome.unknown(
                    getattr(error, "code", None) or "RECONCILE_FAILED",
                    f"Could not check for an earlier delivery: {error}")
            return {pk: record for pk, record in records.items() if pk not in unknown}
        for pk, remote_id in found.items():
            result.outcomes[pk] = Outcome.reconciled(remote_id, ms_since(started))
        return {pk: record for pk, record in records.items() if pk not in found}

    def taken_remote_ids(self, remote_ids: list[str]) -> set[str]:
        """Those of ``remote_ids`` that deliveries of this target already own."""
        return set(Delivery.objects.filter(target=self.target, remote_id__in=remote_ids)
                   .values_list("remote_id", flat=True))


def ms_since(started: float) -> int:
    """Milliseconds since a ``time.monotonic()`` reading."""
    return int((time.monotonic() - started) * 1000)
