"""Sales campaigns (SPEC section 9): ordered steps run for each member, counted in days from
the moment the person was added.

Scheduling: each active member carries ``next_step_due_at`` (the due time of the step at
``next_position``), indexed for the scheduler's one query (partial index over active members
with a due time). A member waiting in the review queue, or of a paused campaign, has no due
time (``held_due_at`` keeps it during a pause). ``MemberStep`` is the history: which step ran
for whom, when, and with what result; it outlives the membership.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("campaign status", "Draft")
        ACTIVE = "active", pgettext_lazy("campaign status", "Active")
        PAUSED = "paused", pgettext_lazy("campaign status", "Paused")
        ARCHIVED = "archived", pgettext_lazy("campaign status", "Archived")

    name = models.CharField(max_length=255)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="campaigns")
    shared = models.BooleanField(default=False, help_text=_("Other sellers may add people to it."))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Sending window for email steps, in the sending seller's time zone: weekdays (0 Monday
    # .. 6 Sunday, as digits) and hours [start, end). Off: email steps send when due.
    window_enabled = models.BooleanField(default=False)
    window_days = models.CharField(max_length=7, default="01234")
    window_start_hour = models.PositiveSmallIntegerField(default=9)
    window_end_hour = models.PositiveSmallIntegerField(default=17)
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return self.name


class CampaignStep(models.Model):
    class Type(models.TextChoices):
        EMAIL = "email", pgettext_lazy("campaign step type", "Email")
        CALL = "call", pgettext_lazy("campaign step type", "Call")
        INMAIL = "inmail", pgettext_lazy("campaign step type", "InMail")
        CUSTOM = "custom", pgettext_lazy("campaign step type", "Custom")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    type = models.CharField(max_length=10, choices=Type.choices)
    # Days after the person was added (not after the previous step).
    day_offset = models.PositiveIntegerField(default=0)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    auto_send = models.BooleanField(default=False)
    name = models.CharField(max_length=255, blank=True)
    details = models.TextField(blank=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("campaign step")
        verbose_name_plural = _("campaign steps")

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        if self.type == self.Type.EMAIL:
            return self.subject or self.get_type_display()
        return self.name or self.get_type_display()


class CampaignMember(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("campaign membership status", "Active")
        REVIEW = "review", pgettext_lazy("campaign membership status", "Waiting for review")
        ENDED = "ended", pgettext_lazy("campaign membership status", "Ended")

    class EndReason(models.TextChoices):
        REMOVED = "removed", pgettext_lazy("campaign membership end", "Removed")
        REPLIED = "replied", pgettext_lazy("campaign membership end", "Replied")
        BOUNCED = "bounced", pgettext_lazy("campaign membership end", "Bounced")
        UNSUBSCRIBED = "unsubscribed", pgettext_lazy("campaign membership end", "Unsubscribed")
        COMPLETED = "completed", pgettext_lazy("campaign membership end", "Last step done")
        ARCHIVED = "archived", pgettext_lazy("campaign membership end", "Campaign archived")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT,
                               related_name="campaign_memberships")
    # The seller whose emails and reminder tasks the steps make.
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+")
    added_at = models.DateTimeField()
    # Day offsets count from here: the moment of adding, moved on by each pause's length.
    anchor_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    next_position = models.PositiveIntegerField(default=0)
    next_step_due_at = models.DateTimeField(null=True, blank=True)
    held_due_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=15, choices=EndReason.choices, blank=True)

    # "Add to / Removed from Sales Campaign" on their way to Marketo.
    deliveries = GenericRelation("syncing.Delivery", content_type_field="record_type",
                                 object_id_field="record_id")

    class Meta:
        ordering = ["-added_at", "id"]
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")
        indexes = [
            # The scheduler's query: due active members, earliest first.
            models.Index(fields=["next_step_due_at"], name="campaign_member_due",
                         condition=Q(status="active", next_step_due_at__isnull=False)),
            models.Index(fields=["person", "status"], name="campaign_member_person"),
            models.Index(fields=["campaign", "status"], name="campaign_member_campaign"),
        ]
        constraints = [
            # One live membership per person and campaign; ended ones stay as history.
            models.UniqueConstraint(fields=["campaign", "person"], name="campaign_member_once",
                                    condition=~Q(status="ended")),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} in {self.campaign_id}"

    @property
    def is_live(self) -> bool:
        return self.status != self.Status.ENDED

    @property
    def marketo_end_reason(self) -> str:
        """Why the membership ended as Marketo's "Removed from Sales Campaign" activity
        receives it: fixed English text, whatever language the labels are shown in."""
        return MARKETO_END_REASONS.get(self.end_reason, self.end_reason)


#: End reasons as they leave the app (Marketo's activity attribute): never translated.
MARKETO_END_REASONS = {
    CampaignMember.EndReason.REMOVED: "removed",
    CampaignMember.EndReason.REPLIED: "replied",
    CampaignMember.EndReason.BOUNCED: "bounced",
    CampaignMember.EndReason.UNSUBSCRIBED: "unsubscribed",
    CampaignMember.EndReason.COMPLETED: "last step done",
    CampaignMember.EndReason.ARCHIVED: "campaign archived",
}


class MemberStep(models.Model):
    """One step as it ran (or waits for review) for one member."""

    class Result(models.TextChoices):
        REVIEW = "review", pgettext_lazy("campaign step result", "Waiting for review")
        QUEUED = "queued", pgettext_lazy("campaign step result", "Email queued")
        HELD = "held", pgettext_lazy("campaign step result", "Email held")
        REFUSED = "refused", pgettext_lazy("campaign step result", "Email refused")
        SKIPPED = "skipped", pgettext_lazy("campaign step result", "Skipped")
        TASK = "task", pgettext_lazy("campaign step result", "Reminder task created")
        FAILED = "failed", pgettext_lazy("campaign step result", "Failed")

    member = models.ForeignKey(CampaignMember, on_delete=models.CASCADE, related_name="history")
    step = models.ForeignKey(CampaignStep, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="runs")
    position = models.PositiveIntegerField()
    type = models.CharField(max_length=10, choices=CampaignStep.Type.choices)
    title = models.CharField(max_length=255, blank=True)
    due_at = models.DateTimeField()
    ran_at = models.DateTimeField()
    result = models.CharField(max_length=10, choices=Result.choices)
    detail = models.TextField(blank=True)
    # The review queue's draft (email steps waiting for the seller), as the step wrote it.
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    task = models.ForeignKey("reminders.ReminderTask", on_delete=models.SET_NULL, null=True,
                             blank=True, related_name="+")
    email = models.ForeignKey("emails.SalesEmail", on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="campaign_runs")

    class Meta:
        ordering = ["ran_at", "id"]
        verbose_name = _("campaign step run")
        verbose_name_plural = _("campaign step runs")
        indexes = [models.Index(fields=["result", "member"], name="member_step_result")]
        constraints = [
            # A step runs once per member, whatever the workers do.
            models.UniqueConstraint(fields=["member", "step"], name="member_step_once",
                                    condition=Q(step__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.result})"
