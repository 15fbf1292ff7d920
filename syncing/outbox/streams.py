"""Per-target state of the outbox: the target's ``SyncStream`` (pause, last success, what was
learnt about the remote system) and this process's API client for it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from syncing.models import Delivery, MarketoConnection, SalesforceConnection, SyncStream
from syncing.settings.services import client_kept

log = logging.getLogger(__name__)

Target = Delivery.Target
STREAMS = {Target.SALESFORCE: SyncStream.Name.SALESFORCE_DELIVERIES,
           Target.MARKETO: SyncStream.Name.MARKETO_DELIVERIES}


def limit_pause_seconds() -> float:
    """How long a target pauses when its API limit is reached, before probing again."""
    return settings.OUTBOX_LIMIT_PAUSE_SECONDS


def delivery_stream(target: str) -> SyncStream:
    """The target's stream: pause state and what was learnt about the remote system."""
    stream, _ = SyncStream.objects.get_or_create(name=STREAMS[target])
    return stream


def delivery_stream_attempted(target: str, now: datetime, *, delivered: bool) -> None:
    """A batch was attempted at ``now`` (and delivered something): one UPDATE, no read."""
    values = {"last_attempt_at": now, **({"last_success_at": now} if delivered else {})}
    if not SyncStream.objects.filter(name=STREAMS[target]).update(**values):
        SyncStream.objects.filter(pk=delivery_stream(target).pk).update(**values)


def delivery_pause(target: str, reason: str, seconds: float | None = None) -> datetime:
    """Stop sending to ``target`` for a while (an API limit); returns when it resumes."""
    until = timezone.now() + timedelta(seconds=limit_pause_seconds() if seconds is None
                                       else seconds)
    SyncStream.objects.filter(pk=delivery_stream(target).pk).update(
        paused_until=until, last_error=reason, status=SyncStream.Status.FAILING)
    log.warning("%s deliveries paused until %s: %s", target, until.isoformat(), reason)
    return until


def delivery_resume(target: str) -> None:
    """Clear a pause (the next batch probes the limit again)."""
    SyncStream.objects.filter(pk=delivery_stream(target).pk).update(
        paused_until=None, last_error="", status=SyncStream.Status.HEALTHY)


def delivery_paused_until(target: str, now: datetime | None = None) -> datetime | None:
    """When the target's pause ends, if it is paused now."""
    until = delivery_stream(target).paused_until
    return until if until and until > (now or timezone.now()) else None


def delivery_stream_state_save(target: str, state: dict) -> None:
    SyncStream.objects.filter(pk=delivery_stream(target).pk).update(state=state)


def delivery_client(connection: SalesforceConnection | MarketoConnection):
    """This process's client for a connection: one login and one token for many batches.
    Few retries inside the client: the outbox retries with backoff and the claim must
    outlast a send."""
    return client_kept(connection, timeout=30, max_attempts=3)
