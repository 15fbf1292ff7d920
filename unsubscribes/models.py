"""Unsubscribes (SPEC section 7): who asked not to get sales email, and the history of it."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _


class Unsubscribe(models.Model):
    """A person asked not to get sales email. In force until an admin removes it (with a
    reason); removed ones are kept as history. At most one is in force per person.

    ``email`` is the person's address when it was recorded: suppression is by address, so the
    address stays suppressed even if Marketo later gives the person another one."""

    class Source(models.TextChoices):
        SALESFORCE = "salesforce", _("Salesforce opt-out")
        MANUAL = "manual", _("Entered by hand")
        LINK = "link", _("Clicked the unsubscribe link")
        BOUNCE = "bounce", _("Email bounced")

    # People are never deleted (they leave the workspace instead), so neither is their history.
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT,
                               related_name="unsubscribes")
    email = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    # The sales email that caused it: its link (or one-click), or a hard bounce or complaint
    # on it. Blank for the other sources. The analytics count it as that email's unsubscribe.
    sales_email = models.ForeignKey("emails.SalesEmail", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="unsubscribes")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    removed_reason = models.TextField(blank=True)
    # Its push to Salesforce (syncing/unsubscribes/senders.py).
    deliveries = GenericRelation("syncing.Delivery", content_type_field="record_type",
                                 object_id_field="record_id")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Also the index behind "is this person unsubscribed?", asked for every list row.
            models.UniqueConstraint(fields=["person"], condition=models.Q(removed_at__isnull=True),
                                    name="unsubscribe_one_in_force"),
        ]
        indexes = [
            # "Is this address suppressed?" (case-insensitive, as Django's iexact compares).
            models.Index(Upper("email"), condition=models.Q(removed_at__isnull=True),
                         name="unsubscribe_address_in_force"),
        ]

    def __str__(self) -> str:
        return f"{self.email or self.person} ({self.get_source_display()})"

    @property
    def in_force(self) -> bool:
        return self.removed_at is None

    @property
    def salesforce_push(self):
        """Its latest push to Salesforce (a ``Delivery``), or None (imported from Salesforce,
        or recorded before pushes existed). Prefetch ``deliveries`` when listing."""
        return max(self.deliveries.all(), key=lambda delivery: delivery.pk, default=None)
