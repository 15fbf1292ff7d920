"""Unsubscribes (SPEC section 7). For now only what the people pages read: whether a person has
an unsubscribe in force. Recording, removing and syncing them come with the unsubscribes issue."""

from django.conf import settings
from django.db import models


class Unsubscribe(models.Model):
    """A person asked not to get sales email. In force until an admin removes it (with a
    reason); removed ones are kept as history."""

    class Source(models.TextChoices):
        SALESFORCE = "salesforce", "Salesforce opt-out"
        MANUAL = "manual", "Entered by hand"
        LINK = "link", "Clicked the unsubscribe link"
        BOUNCE = "bounce", "Email bounced"

    # People are never deleted (they leave the workspace instead), so neither is their history.
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT,
                               related_name="unsubscribes")
    email = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    removed_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "Is this person unsubscribed?" is asked for every row of the people list.
            models.Index(fields=["person"], condition=models.Q(removed_at__isnull=True),
                         name="unsubscribe_in_force"),
        ]

    def __str__(self) -> str:
        return f"{self.email or self.person} ({self.get_source_display()})"

    @property
    def in_force(self) -> bool:
        return self.removed_at is None
