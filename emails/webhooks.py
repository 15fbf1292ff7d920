"""anymail's own webhooks, fed into the same event service as ``POST /api/v1/emails/events/``.

``salesactions/urls.py`` mounts ``anymail.urls`` under ``/anymail/``; for Postmark (the ESP
README documents) the provider posts to ``/anymail/postmark/tracking/`` (delivery, bounce,
open, click, spam complaint) and ``/anymail/postmark/inbound/`` (replies), with HTTP basic
auth ``ANYMAIL_WEBHOOK_SECRET`` (``user:password``) in the URL. anymail checks the secret,
normalizes the payload and sends its ``tracking`` / ``inbound`` signals, received here:

- tracking: matched to a sales email by the event's ``message_id`` — Postmark's own
  ``MessageID``, which the sender keeps as ``provider_message_id`` — or our Message-ID (also
  taken from ``metadata["message_id"]`` when the sender sets it); delivered, bounced,
  opened, clicked, complained are applied; a Postmark
  ``SoftBounce`` is recorded as a bounce that does not unsubscribe;
- inbound: a reply, matched by its ``In-Reply-To``, then ``References``, to our Message-ID.

Unmatched events are logged and acknowledged (an ESP would retry a failure forever). Without
``ANYMAIL_WEBHOOK_SECRET`` the receivers refuse every post (400): the ESP shows the failures,
and nobody can post forged bounces (which unsubscribe addresses).
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import EventType, inbound, tracking
from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone

from .events import EventIn, emails_by_message_id, events_apply
from .models import EmailEvent

log = logging.getLogger(__name__)

Kind = EmailEvent.Kind
TRACKING_KINDS = {EventType.DELIVERED: Kind.DELIVERED, EventType.BOUNCED: Kind.BOUNCED,
                  EventType.OPENED: Kind.OPENED, EventType.CLICKED: Kind.CLICKED,
                  EventType.COMPLAINED: Kind.COMPLAINED}
#: ESP bounce types that are not permanent (the address is not unsubscribed).
SOFT_BOUNCE_TYPES = frozenset({"SoftBounce", "Transient", "DnsError"})
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def _secret_required() -> None:
    if not getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET"):
        raise AnymailWebhookValidationFailure(
            "ANYMAIL_WEBHOOK_SECRET is not set: email webhooks are refused.")


@receiver(tracking, dispatch_uid="emails.webhooks.tracking")
def tracking_received(sender, event, esp_name, **kwargs) -> None:
    _secret_required()
    kind = TRACKING_KINDS.get(event.event_type)
    if kind is None:
        return
    candidates = [str(value) for value in ((event.metadata or {}).get("message_id"),
                                           event.message_id) if value]
    found = emails_by_message_id(candidates)
    email = next((found[c] for c in candidates if c in found), None)
    if email is None:
        log.info("%s %s event for an unknown message %s", esp_name, event.event_type,
                 candidates)
        return
    esp_event = event.esp_event if isinstance(event.esp_event, dict) else {}
    hard = not (kind == Kind.BOUNCED and esp_event.get("Type") in SOFT_BOUNCE_TYPES)
    detail = event.description or event.mta_response or ""
    if kind == Kind.BOUNCED and not hard:
        detail = f"Soft bounce: {detail}"
    events_apply([EventIn(email=email, kind=kind, at=event.timestamp or timezone.now(),
                          source=EmailEvent.Source.PROVIDER,
                          url=(event.click_url or "") if kind == Kind.CLICKED else "",
                          detail=detail, hard=hard)])


def replied_to(message) -> list[str]:
    """The Message-IDs a message answers: In-Reply-To first, then References (newest last,
    so read from the end)."""
    in_reply_to = _MESSAGE_ID.findall(str(message.get("In-Reply-To") or ""))
    references = _MESSAGE_ID.findall(str(message.get("References") or ""))
    return in_reply_to + list(reversed(references))


def _sent_at(message):
    """The reply's Date header (so a retried webhook is recognised as the same reply), else
    now."""
    try:
        moment = parsedate_to_datetime(str(message.get("Date") or ""))
    except (TypeError, ValueError):
        moment = None
    now = timezone.now()
    if moment is None or moment.tzinfo is None or not (now - timedelta(days=365) < moment
                                                         <= now + timedelta(hours=1)):
        return now
    return moment


@receiver(inbound, dispatch_uid="emails.webhooks.inbound")
def inbound_received(sender, event, esp_name, **kwargs) -> None:
    _secret_required()
    message = event.message
    if message is None:
        return
    candidates = replied_to(message)
    found = emails_by_message_id(candidates)
    email = next((found[c] for c in candidates if c in found), None)
    if email is None:
        log.info("%s inbound message answers no sales email (%s)", esp_name, candidates)
        return
    sender_address = getattr(message.from_email, "addr_spec", "") or email.to_email
    subject = message.subject or ""
    events_apply([EventIn(email=email, kind=Kind.REPLIED, at=event.timestamp or _sent_at(message),
                          source=EmailEvent.Source.PROVIDER,
                          detail=f"Reply from {sender_address}: {subject}"[:2000])])
