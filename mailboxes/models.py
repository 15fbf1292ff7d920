"""A seller's connected mailbox, and the copies of sent emails waiting for its Sent folder."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from syncing.fields import EncryptedTextField


class Mailbox(models.Model):
    """One seller's mailbox (at most one each): how to reach its IMAP and SMTP servers, how to
    sign in (a password, or an OAuth2 refresh token for Google and Microsoft 365), and the
    reading state — INBOX's UIDVALIDITY and the last UID read, so each pass starts where the
    last one stopped.

    ``state`` is ``paused`` when a login stopped working: the seller's sending stops (their
    emails wait, queued) and so does reading, with ``paused_reason`` in the server's words,
    until the seller reconnects.
    """

    class Security(models.TextChoices):
        NONE = "none", _("None (plain text)")
        STARTTLS = "starttls", "STARTTLS"
        TLS = "tls", "TLS"

    class Provider(models.TextChoices):
        PASSWORD = "password", _("Password")
        GOOGLE = "google", "Google"
        MICROSOFT = "microsoft", "Microsoft 365"

    class State(models.TextChoices):
        OK = "ok", pgettext_lazy("mailbox state", "Connected")
        PAUSED = "paused", pgettext_lazy("mailbox state", "Paused")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="mailbox")
    provider = models.CharField(max_length=20, choices=Provider.choices,
                                default=Provider.PASSWORD)
    imap_host = models.CharField(max_length=253)
    imap_port = models.PositiveIntegerField()
    imap_security = models.CharField(max_length=10, choices=Security.choices)
    smtp_host = models.CharField(max_length=253)
    smtp_port = models.PositiveIntegerField()
    smtp_security = models.CharField(max_length=10, choices=Security.choices)
    username = models.CharField(max_length=254)
    password = EncryptedTextField(blank=True)
    # OAuth2 (Google, Microsoft 365): the refresh token lasts; the access token is refreshed
    # before ``access_token_expires_at``.
    refresh_token = EncryptedTextField(blank=True)
    access_token = EncryptedTextField(blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    # The folder flagged \Sent (RFC 6154) that gets a copy of each email; blank: no copy (Gmail
    # and Microsoft 365 keep their own, or the server has none).
    sent_folder = models.CharField(max_length=255, blank=True)

    state = models.CharField(max_length=10, choices=State.choices, default=State.OK)
    paused_reason = models.TextField(blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)

    # Reading INBOX: where the last pass stopped (a new UIDVALIDITY starts again from the
    # first-connection window).
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_pass_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    messages_read = models.PositiveBigIntegerField(default=0)
    messages_matched = models.PositiveBigIntegerField(default=0)
    replies = models.PositiveBigIntegerField(default=0)
    auto_replies = models.PositiveBigIntegerField(default=0)
    bounces = models.PositiveBigIntegerField(default=0)

    connected_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user__username", "id"]
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return f"{self.username} ({self.get_state_display()})"

    @property
    def address(self) -> str:
        """The address mail leaves from: the login when it is an address, else the seller's."""
        return self.username if "@" in self.username else self.user.email

    @property
    def paused(self) -> bool:
        return self.state == self.State.PAUSED


class SentCopy(models.Model):
    """A sent email's copy for the mailbox's Sent folder: recorded with the email's hand-off
    outcome, appended afterwards as a separate step. Appending first looks for the Message-ID
    in the folder, so a copy appended by a worker that died before recording it is not
    appended twice; the row goes once the copy is there."""

    email = models.OneToOneField("emails.SalesEmail", on_delete=models.CASCADE,
                                 related_name="+")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="sent_copies")
    raw = models.BinaryField()
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Sent copy of email {self.email_id}"
