"""Sales emails sellers send, their templates and the events that follow (SPEC section 8).

The shared shape other branches build on (tracking, campaigns): see
``../notes/EMAIL_INTERFACE.md``. Add fields, never rename them.
"""

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


def new_message_id() -> str:
    """A unique RFC 5322 Message-ID, assigned when the email is queued."""
    domain = getattr(settings, "EMAIL_MESSAGE_ID_DOMAIN", "") or "salesactions.local"
    return f"<{uuid.uuid4().hex}@{domain}>"


class EmailTemplate(models.Model):
    """A saved subject and body: a seller's own, or a shared one only an admin makes."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.CASCADE, related_name="email_templates")
    shared = models.BooleanField(default=False)
    name = models.CharField(max_length=120)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-shared", "name", "id"]

    def __str__(self) -> str:
        return self.name


#: What an analytics report reads of each sent email, beside when and who sent it.
REPORT_COLUMNS = ["template", "opened_at", "clicked_at", "replied_at", "bounced_at"]


class SalesEmail(models.Model):
    """One sales email to one person, from queueing to its last event.

    ``subject`` and ``body`` are the merged text, exactly what is sent. The sending worker
    claims due rows (``claim_token``, ``claimed_until``) and sets ``handed_off_at`` (committed)
    before it hands the message to the backend, so a crash never sends it twice: a row found
    with ``handed_off_at`` set and no outcome is not sent again (``emails/sending.py``).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("email status", "Queued")
        HELD = "held", pgettext_lazy("email status", "Held")
        SENDING = "sending", pgettext_lazy("email status", "Sending")
        SENT = "sent", pgettext_lazy("email status", "Sent")
        DELIVERED = "delivered", pgettext_lazy("email status", "Delivered")
        OPENED = "opened", pgettext_lazy("email status", "Opened")
        CLICKED = "clicked", pgettext_lazy("email status", "Clicked")
        REPLIED = "replied", pgettext_lazy("email status", "Replied")
        BOUNCED = "bounced", pgettext_lazy("email status", "Bounced")
        FAILED = "failed", pgettext_lazy("email status", "Failed")
        CANCELLED = "cancelled", pgettext_lazy("email status", "Cancelled")

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT,
                               related_name="sales_emails")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="sales_emails")
    to_email = models.CharField(max_length=255)
    subject = models.CharField(max_length=998)
    body = models.TextField()
    track = models.BooleanField(default=True)
    sales_campaign_name = models.CharField(max_length=255, blank=True)
    template = models.ForeignKey(EmailTemplate, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    hold_reason = models.TextField(blank=True)
    error = models.TextField(blank=True)
    message_id = models.CharField(max_length=255, unique=True, default=new_message_id)
    # The id an ESP gave the message when it took it (anymail's ``message_id``; Postmark's
    # MessageID), which its events name; blank over SMTP, where events carry ``message_id``.
    provider_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    # When the seller scheduled it for (null: at once). A scheduled email waits ``queued``
    # with ``next_attempt_at`` at this moment, so no sending pass claims it earlier.
    send_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The first event of each outcome (``events_apply`` keeps them in the event's transaction;
    # ``manage.py analytics_rebuild`` recounts them): each email counts once per outcome in
    # the analytics, however often it was opened or clicked.
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deliveries = GenericRelation("syncing.Delivery", content_type_field="record_type",
                                 object_id_field="record_id", related_query_name="sales_email")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="salesemail_due"),
            models.Index(fields=["person", "-created_at"], name="salesemail_person"),
            models.Index(fields=["sender", "-created_at"], name="salesemail_sender"),
            # The analytics (analytics/selectors.py): sent emails by day, whole team or one
            # seller, answered from the index alone on PostgreSQL.
            models.Index(fields=["sent_at"], include=REPORT_COLUMNS,
                         condition=models.Q(sent_at__isnull=False), name="salesemail_sent_report"),
            models.Index(fields=["sender", "sent_at"], include=REPORT_COLUMNS,
                         condition=models.Q(sent_at__isnull=False),
                         name="salesemail_sender_sent_report"),
            models.Index(fields=["sender", "replied_at"], condition=models.Q(
                replied_at__isnull=False), name="salesemail_sender_replied"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to_email} ({self.status})"


class EmailEvent(models.Model):
    """Something that happened to an email: its timeline on the pages and in the API."""

    class Kind(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("email status", "Queued")
        HELD = "held", pgettext_lazy("email status", "Held")
        SENT = "sent", pgettext_lazy("email status", "Sent")
        FAILED = "failed", pgettext_lazy("email status", "Failed")
        DELIVERED = "delivered", pgettext_lazy("email status", "Delivered")
        OPENED = "opened", pgettext_lazy("email status", "Opened")
        CLICKED = "clicked", pgettext_lazy("email status", "Clicked")
        REPLIED = "replied", pgettext_lazy("email status", "Replied")
        BOUNCED = "bounced", pgettext_lazy("email status", "Bounced")
        COMPLAINED = "complained", pgettext_lazy("email status", "Complained")
        UNSUBSCRIBED = "unsubscribed", pgettext_lazy("email status", "Unsubscribed")
        # Read from the seller's mailbox: shown on the timeline, no status change.
        AUTO_REPLIED = "auto_replied", pgettext_lazy("email status", "Auto-reply")
        SOFT_BOUNCED = "soft_bounced", pgettext_lazy("email status", "Soft bounce")
        SCHEDULED = "scheduled", pgettext_lazy("email status", "Scheduled")
        CANCELLED = "cancelled", pgettext_lazy("email status", "Cancelled")

    class Source(models.TextChoices):
        APP = "app", _("App")
        TRACKING = "tracking", _("Tracking")
        PROVIDER = "provider", _("Provider")
        MAILBOX = "mailbox", _("Seller's mailbox")

    email = models.ForeignKey(SalesEmail, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    url = models.TextField(blank=True)
    detail = models.TextField(blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.APP)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["email", "kind", "at"], name="emailevent_email_kind_at")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"
