"""The analytics' rollups: counts per UTC hour (and per UTC day, their sums) × seller, kept in
the transaction of what they count (``analytics.rollups``) so a report sums a few thousand rows
instead of counting a million emails. ``manage.py analytics_rebuild`` recounts them."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EmailRollup(models.Model):
    """Emails sent in one hour (``hours=1``) or UTC day (``hours=24``) from ``start`` by one
    seller with one template and campaign step (0: none), and how many of them were opened,
    clicked, replied to, bounced and caused an unsubscribe: each email once per outcome, in
    the hour it was sent."""

    hours = models.PositiveSmallIntegerField()
    start = models.DateTimeField()
    sender_id = models.BigIntegerField()
    template_id = models.BigIntegerField(default=0)
    campaign_id = models.BigIntegerField(default=0)
    step_id = models.BigIntegerField(default=0)
    sent = models.IntegerField(default=0)
    opened = models.IntegerField(default=0)
    clicked = models.IntegerField(default=0)
    replied = models.IntegerField(default=0)
    bounced = models.IntegerField(default=0)
    unsubscribed = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["hours", "start", "sender_id", "template_id", "campaign_id", "step_id"],
            name="email_rollup_once")]
        indexes = [models.Index(fields=["hours", "sender_id", "start"],
                                name="email_rollup_seller")]

    def __str__(self) -> str:
        return f"{self.sent} sent by {self.sender_id} from {self.start} ({self.hours} h)"


class OpenTaskRollup(models.Model):
    """How many of one seller's tasks due on ``due_date`` are open now (not deleted): the
    activity report's "overdue now" sums the days before today."""

    due_date = models.DateField()
    user_id = models.BigIntegerField()
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["due_date", "user_id"],
                                               name="open_task_rollup_once")]

    def __str__(self) -> str:
        return f"{self.n} open tasks of {self.user_id} due {self.due_date}"


class ActivityRollup(models.Model):
    """One seller's calls (by outcome), replies received and tasks completed in one hour
    (``hours=1``) or UTC day (``hours=24``) from ``start``."""

    class Measure(models.TextChoices):
        CALL = "call", _("Call")
        REPLIED = "replied", _("Reply received")
        COMPLETED = "completed", _("Task completed")

    hours = models.PositiveSmallIntegerField()
    start = models.DateTimeField()
    user_id = models.BigIntegerField()
    measure = models.CharField(max_length=10, choices=Measure.choices)
    outcome = models.CharField(max_length=100, blank=True)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["hours", "start", "user_id", "measure", "outcome"],
            name="activity_rollup_once")]
        indexes = [models.Index(fields=["hours", "user_id", "start"],
                                name="activity_rollup_user")]

    def __str__(self) -> str:
        return f"{self.n} {self.measure} of {self.user_id} from {self.start} ({self.hours} h)"
