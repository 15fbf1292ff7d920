"""Reminder tasks: what a seller means to do for a person, and when (SPEC section 6)."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

#: The fields that sync with a Salesforce Task, and whose change times decide conflicts.
SYNCED_FIELDS = ("name", "status", "priority", "due_date", "details", "assignee", "person")


class LiveManager(models.Manager):
    """Tasks that are not deleted (deleted ones stay as tombstones until the sync is done)."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class ReminderTask(models.Model):
    """One reminder task: a person, a seller to do it, a type, a name and a due date.

    Created in the app, imported from a Salesforce Task, or (later) by a sales campaign step.
    A delete leaves a tombstone (``deleted_at``) so the delete can still reach Salesforce and
    a late copy from Salesforce is recognised instead of recreated.

    For the two-way sync: ``salesforce_push`` says whether its app changes go to Salesforce,
    ``field_changed_at`` holds when each synced field last changed here
    (ISO times by field name), ``synced_values`` what both sides held after the last sync (the
    Task's field values), ``salesforce_modstamp`` the Task's SystemModstamp then. A field
    Salesforce changed since is one whose value differs from ``synced_values``; when the app
    changed it too, the later of the two changes wins.
    """

    class Type(models.TextChoices):
        EMAIL = "email", pgettext_lazy("task type", "Email")
        CALL = "call", pgettext_lazy("task type", "Call")
        INMAIL = "inmail", pgettext_lazy("task type", "InMail")
        CUSTOM = "custom", pgettext_lazy("task type", "Custom")

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("task status", "Open")
        COMPLETE = "complete", pgettext_lazy("task status", "Complete")

    class Priority(models.TextChoices):
        NORMAL = "normal", pgettext_lazy("priority", "Normal")
        HIGH = "high", pgettext_lazy("priority", "High")

    class Origin(models.TextChoices):
        APP = "app", pgettext_lazy("where a task was created", "App")
        SALESFORCE = "salesforce", "Salesforce"

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT,
                               related_name="reminder_tasks")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="reminder_tasks")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.CUSTOM)
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=10, choices=Priority.choices,
                                default=Priority.NORMAL)
    due_date = models.DateField()
    details = models.TextField(blank=True)
    origin = models.CharField(max_length=12, choices=Origin.choices, default=Origin.APP)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    # Whether app changes go to Salesforce: set when the task is created while pushing is on,
    # so tasks that existed before the sync was switched on are never pushed.
    salesforce_push = models.BooleanField(default=False)
    salesforce_id = models.CharField(_("Salesforce Task id"), max_length=18, blank=True)
    salesforce_modstamp = models.DateTimeField(null=True, blank=True)
    field_changed_at = models.JSONField(default=dict, blank=True)
    synced_values = models.JSONField(default=dict, blank=True)

    # Its changes on their way to Salesforce (the outbox, kind "reminder_task").
    deliveries = GenericRelation("syncing.Delivery", content_type_field="record_type",
                                 object_id_field="record_id")

    objects = models.Manager()
    live = LiveManager()

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            # The queue and the navigation's count: one seller's open tasks by due date.
            models.Index(fields=["assignee", "status", "due_date"], name="task_queue",
                         condition=Q(deleted_at__isnull=True)),
            models.Index(fields=["person", "status", "due_date"], name="task_person",
                         condition=Q(deleted_at__isnull=True)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["salesforce_id"], name="task_salesforce_id",
                                    condition=~Q(salesforce_id="")),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN
