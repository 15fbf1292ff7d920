"""People: the read-only mirror of Marketo leads that have a sales owner (SPEC section 2)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkspaceManager(models.Manager):
    """People sellers can see: qualifying (owner set) and not deleted in Marketo."""

    def get_queryset(self):
        return super().get_queryset().filter(in_workspace=True)


class Person(models.Model):
    """One Marketo lead, keyed by its Marketo id. Two leads with one email are two people.

    Rows are never created or edited in the app; only the Marketo sync writes them. A lead that
    loses its owner or is deleted in Marketo keeps its row (so the calls, tasks and unsubscribes
    logged against it stay intact) but leaves the workspace until it qualifies again.
    """

    class RemovedReason(models.TextChoices):
        NONE = "", _("In the workspace")
        OWNER_CLEARED = "owner_cleared", _("Sales owner cleared in Marketo")
        DELETED = "deleted", _("Deleted in Marketo")

    marketo_id = models.BigIntegerField(_("Marketo id"), unique=True)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=255, blank=True)
    company = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=255, blank=True)
    linkedin_url = models.CharField(_("LinkedIn URL"), max_length=1024, blank=True)
    source = models.CharField(max_length=255, blank=True)
    sfdc_contact_id = models.CharField(_("Salesforce contact id"), max_length=18, blank=True)
    sfdc_lead_id = models.CharField(_("Salesforce lead id"), max_length=18, blank=True)
    sfdc_account_id = models.CharField(_("Salesforce account id"), max_length=18, blank=True)
    sfdc_opportunity_id = models.CharField(_("Salesforce opportunity id"), max_length=18,
                                           blank=True)

    sfdc_owner_id = models.CharField(_("Salesforce owner id"), max_length=18, blank=True)
    # Lower-cased, so "my people" is an index lookup on the seller's email.
    owner_email = models.CharField(max_length=255, blank=True)
    owner_first_name = models.CharField(max_length=255, blank=True)
    owner_last_name = models.CharField(max_length=255, blank=True)

    marketo_created_at = models.DateTimeField(null=True, blank=True)
    marketo_updated_at = models.DateTimeField(null=True, blank=True)

    in_workspace = models.BooleanField(default=True)
    removed_reason = models.CharField(max_length=20, choices=RemovedReason.choices, blank=True)
    synced_at = models.DateTimeField()
    # The initial sync stamps every lead it sees; people it did not see are gone from Marketo.
    seen_in_run = models.BigIntegerField(null=True, blank=True)

    objects = models.Manager()
    workspace = WorkspaceManager()

    class Meta:
        verbose_name_plural = _("people")
        # Each sort, filter and the search have a partial index over the workspace (see
        # migration 0002, PostgreSQL). Every index costs the sync's bulk writes, so there are
        # no others.

    def __str__(self) -> str:
        return self.full_name or self.email or _("Marketo lead %(id)s") % {"id": self.marketo_id}

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def owner_name(self) -> str:
        return " ".join(part for part in (self.owner_first_name, self.owner_last_name) if part)


class SavedView(models.Model):
    """A named people list: its filters and sort, kept as the list's query string. A seller's
    own (only they see it), or shared with everyone (admins share)."""

    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE,
                              related_name="people_views")
    name = models.CharField(max_length=100)
    # The normalised query string of the list (``people.filters.view_query``).
    query = models.CharField(max_length=2000, blank=True)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"],
                                               name="people_view_name_per_owner")]
        indexes = [models.Index(fields=["shared"], condition=models.Q(shared=True),
                                name="people_view_shared")]

    def __str__(self) -> str:
        return self.name


class ListColumns(models.Model):
    """The columns a user chose for the people list (the name always comes first)."""

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, primary_key=True,
                                related_name="people_columns")
    # Column keys in order, comma-separated (``people.filters.LIST_COLUMNS``).
    columns = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.user}: {self.columns}"
