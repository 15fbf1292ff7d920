"""What recipients do with a sales email, logged to Marketo (SPEC section 4): the outbox kinds
``email_open`` ("Open Sales Email"), ``email_click`` ("Click Sales Email", with the link),
``email_reply`` ("Sales Email Replied") and ``email_bounce`` ("Sales Email Bounced", with
the details). Each delivery's record is the ``EmailEvent``; ``emails.events`` creates the
deliveries (a repeat open within the hour gets none). Marketo only, in batches of up to 300
like every custom activity (``syncing/outbox/marketo_activities.py``).

The sending of the email itself (kind ``email``) lives in ``senders.py`` beside this module.
"""

from __future__ import annotations

from emails.models import EmailEvent
from syncing.models import Delivery
from syncing.outbox.batch import Batch, SenderResult
from syncing.outbox.marketo_activities import (
    SOURCE,
    activities_add,
    marketo_datetime,
    marketo_open,
)
from syncing.outbox.registry import sender
from syncing.settings.selectors import sync_settings_get

EMAIL_OPEN = "email_open"
EMAIL_CLICK = "email_click"
EMAIL_REPLY = "email_reply"
EMAIL_BOUNCE = "email_bounce"
#: The outbox kind of each event kind that is logged to Marketo.
EVENT_KINDS = {"opened": EMAIL_OPEN, "clicked": EMAIL_CLICK, "replied": EMAIL_REPLY,
               "bounced": EMAIL_BOUNCE}
#: The custom activity type (apiName, registered by marketo_activities) of each kind.
TYPE_NAMES = {EMAIL_OPEN: "openSalesEmail", EMAIL_CLICK: "clickSalesEmail",
              EMAIL_REPLY: "salesEmailReplied", EMAIL_BOUNCE: "salesEmailBounced"}
MARKETO_SWITCHED_OFF = ("Logging sales activities to Marketo was switched off before this was "
                        "sent.")
STRING_MAX = 255
TEXT_MAX = 2000


def _events(batch: Batch) -> dict[int, EmailEvent]:
    return EmailEvent.objects.select_related(
        "email", "email__person", "email__sender").in_bulk(batch.record_ids())


def _short(value: str, limit: int = STRING_MAX) -> str:
    return (value or "")[:limit]


def _common(email) -> dict:
    return {"sentBy": email.sender.email, "source": SOURCE,
            "salesCampaignName": _short(email.sales_campaign_name)}


def event_activity(event: EmailEvent, kind: str, type_id: int) -> dict:
    """An email event as a custom activity record for Add Custom Activities."""
    email = event.email
    subject = _short(email.subject) or "(no subject)"
    if kind == EMAIL_CLICK:
        primary = event.url or "(no link)"
        attributes = {"emailSubject": subject, **_common(email)}
    elif kind == EMAIL_REPLY:
        primary = subject
        attributes = {"receivedBy": email.sender.email, "source": SOURCE}
    elif kind == EMAIL_BOUNCE:
        primary = subject
        attributes = {"details": _short(event.detail, TEXT_MAX), "email": email.to_email,
                      "sentBy": email.sender.email}
    else:
        primary = subject
        attributes = _common(email)
    return {"leadId": email.person.marketo_id, "activityDate": marketo_datetime(event.at),
            "activityTypeId": type_id, "primaryAttributeValue": primary,
            "attributes": [{"apiName": name, "value": value}
                           for name, value in attributes.items() if value not in ("", None)]}


def _send(kind: str):
    def send(batch: Batch) -> SenderResult:
        opened = marketo_open(batch, enabled=sync_settings_get().log_activities_to_marketo,
                              switched_off=MARKETO_SWITCHED_OFF, type_name=TYPE_NAMES[kind])
        if isinstance(opened, SenderResult):
            return opened
        client, type_id = opened
        events = _events(batch)
        records = {delivery.pk: event_activity(events[delivery.record_id], kind, type_id)
                   for delivery in batch.deliveries}
        return activities_add(client, batch, records, type_id)

    send.__name__ = send.__qualname__ = f"{kind}_activities_send"
    return sender(Delivery.Target.MARKETO, kind)(send)


email_open_activities_send = _send(EMAIL_OPEN)
email_click_activities_send = _send(EMAIL_CLICK)
email_reply_activities_send = _send(EMAIL_REPLY)
email_bounce_activities_send = _send(EMAIL_BOUNCE)
