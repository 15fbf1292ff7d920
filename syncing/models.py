"""Connections to Marketo and Salesforce and every sync switch (one row each, pk=1)."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import EncryptedTextField
from .validators import (
    number_bounds,
    validate_api_version,
    validate_salesforce_field_name,
    validate_task_subject_template,
)


class SingletonModel(models.Model):
    """A settings row: there is exactly one, created from the environment on first use."""

    SINGLETON_PK = 1

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return str(self._meta.verbose_name).capitalize()

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)

    @classmethod
    def environment_defaults(cls) -> dict:
        return {}

    @classmethod
    def load(cls):
        """The saved row, or (unsaved) the defaults from the environment."""
        try:
            return cls.objects.get(pk=cls.SINGLETON_PK)
        except cls.DoesNotExist:
            return cls(pk=cls.SINGLETON_PK, **cls.environment_defaults())


class ConnectionCheck(models.Model):
    """The outcome of the last "Test connection", shown on the settings page."""

    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True)
    last_check_message = models.TextField(blank=True)

    class Meta:
        abstract = True


class MarketoConnection(SingletonModel, ConnectionCheck):
    base_url = models.URLField(_("REST base URL"), blank=True,
                               help_text=_("e.g. https://123-ABC-456.mktorest.com"))
    client_id = models.CharField(_("Client ID"), max_length=200, blank=True)
    client_secret = EncryptedTextField(_("Client secret"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    @classmethod
    def environment_defaults(cls) -> dict:
        return {"base_url": settings.MARKETO_BASE_URL, "client_id": settings.MARKETO_CLIENT_ID,
                "client_secret": settings.MARKETO_CLIENT_SECRET}

    @property
    def is_configured(self) -> bool:
        return bool(self.base_url and self.client_id and self.client_secret)


class SalesforceConnection(SingletonModel, ConnectionCheck):
    url = models.URLField(_("My Domain URL"), blank=True,
                          help_text=_("e.g. https://yourcompany.my.salesforce.com"))
    client_id = models.CharField(_("Consumer key"), max_length=300, blank=True)
    client_secret = EncryptedTextField(_("Consumer secret"), blank=True)
    api_version = models.CharField(_("API version"), max_length=10, default="62.0",
                                   validators=[validate_api_version])
    updated_at = models.DateTimeField(auto_now=True)

    @classmethod
    def environment_defaults(cls) -> dict:
        return {"url": settings.SALESFORCE_URL, "client_id": settings.SALESFORCE_CLIENT_ID,
                "client_secret": settings.SALESFORCE_CLIENT_SECRET,
                "api_version": settings.SALESFORCE_API_VERSION}

    @property
    def is_configured(self) -> bool:
        return bool(self.url and self.client_id and self.client_secret)


DEFAULT_TASK_SUBJECT_TEMPLATE = "{{activity_type}}: {{activity_subject}}"


class SyncSettings(SingletonModel):
    """Every switch an admin has over the syncs (SPEC sections 2-7)."""

    class UnsubscribeSchedule(models.TextChoices):
        HOURLY = "hourly", _("Every hour")
        EVERY_6_HOURS = "6h", _("Every 6 hours")
        NIGHTLY = "nightly", _("Nightly (02:00)")

    # People (Marketo -> app)
    people_sync_enabled = models.BooleanField(
        _("Sync people from Marketo"), default=True)
    people_sync_interval_seconds = models.PositiveIntegerField(
        _("People sync interval (seconds)"), default=60,
        validators=number_bounds(10, 86400, _("The people sync interval must be between 10 "
                                               "and 86,400 seconds (24 hours).")),
        help_text=_("How often lead changes are read from Marketo: 10 to 86,400 seconds."))

    # Sales activities -> Marketo
    log_activities_to_marketo = models.BooleanField(
        _("Log sales activities to Marketo"), default=True)

    # Emails and calls -> Salesforce Tasks
    log_emails_to_salesforce = models.BooleanField(_("Log emails to Salesforce"), default=True)
    log_calls_to_salesforce = models.BooleanField(_("Log calls to Salesforce"), default=True)
    log_reminder_tasks_to_salesforce = models.BooleanField(
        _("Log reminder tasks to Salesforce"), default=True)
    task_subject_template = models.CharField(
        _("Salesforce Task subject template"), max_length=255,
        default=DEFAULT_TASK_SUBJECT_TEMPLATE, validators=[validate_task_subject_template],
        help_text=_("Placeholders: {{activity_type}}, {{activity_subject}}, {{call_outcome}}, "
                    "{{call_reason}}, {{sales_campaign_name}}."))
    salesforce_daily_api_share_percent = models.PositiveSmallIntegerField(
        _("Share of Salesforce daily API calls the app may use (%)"), default=50,
        validators=number_bounds(1, 100, _("The share of Salesforce daily API calls must be "
                                           "between 1 and 100 percent.")),
        help_text=_("Deliveries pause before the org's daily API usage passes this share."))

    # Reminder tasks <-> Salesforce
    reminder_task_sync_enabled = models.BooleanField(
        _("Two-way reminder task sync with Salesforce"), default=False)
    reminder_task_sync_interval_seconds = models.PositiveIntegerField(
        _("Reminder task sync interval (seconds)"), default=300,
        validators=number_bounds(30, 86400, _("The reminder task sync interval must be "
                                              "between 30 and 86,400 seconds (24 hours).")),
        help_text=_("How often Salesforce reminder Tasks are read (two-way sync): 30 to "
                    "86,400 seconds."))

    # Unsubscribes <-> Salesforce, checked against Marketo
    unsubscribe_sync_enabled = models.BooleanField(
        _("Periodic two-way unsubscribe sync with Salesforce"), default=False)
    unsubscribe_sync_schedule = models.CharField(
        _("Unsubscribe sync schedule"), max_length=10, choices=UnsubscribeSchedule.choices,
        default=UnsubscribeSchedule.NIGHTLY)
    unsubscribe_custom_optout_field = models.CharField(
        _("Custom opt-out field (API name)"), max_length=80, blank=True,
        validators=[validate_salesforce_field_name],
        help_text=_("Optional second Salesforce checkbox on Lead and Contact, e.g. "
                    "Sales_Opt_Out__c."))
    marketo_unsubscribe_check = models.BooleanField(
        _("Check Marketo for unsubscribes before sending"), default=True)

    # Sales email
    email_open_tracking = models.BooleanField(
        _("Track email opens (pixel)"), default=True)
    email_click_tracking = models.BooleanField(
        _("Track link clicks in emails"), default=True)
    email_from_address = models.EmailField(
        _("Send sales email from (verified address)"), blank=True,
        help_text=_("Optional: an address on a domain verified for sending, shown with the "
                    "seller's name; replies still go to the seller. Blank: from the seller's "
                    "own address."))

    # Sellers' own mailboxes (mailboxes/)
    mailbox_pass_interval_seconds = models.PositiveIntegerField(
        _("Mailbox reading interval (seconds)"), default=60,
        validators=number_bounds(15, 3600, _("The mailbox reading interval must be between 15 "
                                             "and 3,600 seconds.")),
        help_text=_("How often each seller's connected mailbox is read for replies, "
                    "auto-replies and bounces."))

    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = _("sync settings")


class SyncStream(models.Model):
    """The explicit, visible state of one synced stream; code resumes from it.

    ``cursor`` holds the stream's paging tokens and only moves forward in the same transaction
    as the changes it covers, so a crash re-reads rather than loses. ``lease_until`` is a claim:
    one pass at a time across every worker and the ``sync`` command.
    """

    class Name(models.TextChoices):
        PEOPLE = "people", _("People from Marketo")
        SALESFORCE_DELIVERIES = "salesforce_deliveries", _("Deliveries to Salesforce")
        MARKETO_DELIVERIES = "marketo_deliveries", _("Deliveries to Marketo")
        # Named ahead of their rooms (syncing/reminders/, syncing/unsubscribes/), so the two
        # need no migration of this table between them.
        REMINDER_TASKS = "reminder_tasks", _("Reminder tasks with Salesforce")
        UNSUBSCRIBES = "unsubscribes", _("Unsubscribes with Salesforce")
        EMAIL_SENDING = "email_sending", _("Sending sales email")
        CAMPAIGN_STEPS = "campaign_steps", _("Sales campaign steps")

    class Status(models.TextChoices):
        NEVER_RUN = "never_run", _("Never run")
        RUNNING = "running", _("Running")
        HEALTHY = "healthy", _("Healthy")
        FAILING = "failing", _("Failing")

    name = models.CharField(max_length=30, choices=Name.choices, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEVER_RUN)
    cursor = models.JSONField(default=dict, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Everything Marketo changed up to this moment has been applied.
    caught_up_to = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Deliveries: nothing is sent before this moment (API limit reached); last_error says why.
    paused_until = models.DateTimeField(null=True, blank=True)
    # What a stream learnt about the remote system and keeps (Task fields the org has,
    # Marketo custom activity type ids), with the connection it was learnt from.
    state = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.get_name_display()


class SyncRun(models.Model):
    """One run of a sync: the initial people sync (resumable) or one incremental pass."""

    class Kind(models.TextChoices):
        INITIAL = "initial", _("Initial people sync")
        INCREMENTAL = "incremental", _("Incremental people sync")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed (resumable)")

    class Method(models.TextChoices):
        BULK = "bulk", _("Bulk lead extract")
        LEADS = "leads", _("leads.json by id ranges")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    method = models.CharField(max_length=10, choices=Method.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    leads_read = models.PositiveIntegerField(default=0)
    people_written = models.PositiveIntegerField(default=0)
    people_left = models.PositiveIntegerField(default=0)
    people_removed = models.PositiveIntegerField(default=0)
    records_skipped = models.PositiveIntegerField(default=0)
    skipped_examples = models.JSONField(default=list, blank=True)
    windows_total = models.PositiveIntegerField(default=0)
    windows_done = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    failures = models.PositiveIntegerField(default=0)
    # Where an interrupted initial sync picks up: its windows, export jobs and byte offsets.
    state = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "status"], name="syncrun_kind_status")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status == self.Status.SUCCEEDED

    @property
    def progress_percent(self) -> int | None:
        if not self.windows_total:
            return None
        return min(100, round(100 * self.windows_done / self.windows_total))

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or self.heartbeat_at or self.started_at
        return (end - self.started_at).total_seconds()


class Delivery(models.Model):
    """One record on its way to one remote system: the outbox row (saleor's EventDelivery).

    ``kind`` names what is delivered ("call", ...) and ``record`` points at the app's row it
    delivers (a generic relation: the outbox knows no app's models). The sender registered
    for ``(target, kind)`` (``syncing/outbox/registry.py``) loads those records by id.

    Created in the transaction that saves the record, so nothing is lost when Redis, a
    worker or the remote system is down. A worker claims a batch (``claimed_until``,
    ``claim_token``); a claim that expires (a killed worker) is taken over by the next one.
    ``outcome_unknown`` is set, and committed, before a batch is sent and cleared once the
    answer is recorded: a delivery found with it set may have been applied remotely, so it is
    reconciled against the remote system before it is sent again.
    """

    class Target(models.TextChoices):
        SALESFORCE = "salesforce", "Salesforce"
        MARKETO = "marketo", "Marketo"

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        IN_PROGRESS = "in_progress", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    target = models.CharField(max_length=20, choices=Target.choices)
    kind = models.CharField(max_length=40)
    record_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    record_id = models.PositiveBigIntegerField()
    record = GenericForeignKey("record_type", "record_id")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    outcome_unknown = models.BooleanField(default=False)
    remote_id = models.CharField(max_length=64, blank=True)
    last_error_code = models.CharField(max_length=100, blank=True)
    last_error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = _("deliveries")
        indexes = [
            models.Index(fields=["target", "status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["status", "last_error_code"], name="delivery_status_code"),
            models.Index(fields=["target", "delivered_at"], name="delivery_delivered"),
            models.Index(fields=["record_type", "record_id"], name="delivery_record"),
        ]

    def __str__(self) -> str:
        return f"{self.kind.capitalize()} to {self.get_target_display()} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery, for Diagnostics (saleor's EventDeliveryAttempt)."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        RECONCILED = "reconciled", _("Found already applied")
        RETRY = "retry", _("Failed, will retry")
        UNKNOWN = "unknown", _("No answer, will reconcile")
        FAILED = "failed", _("Failed")
        PAUSED = "paused", _("Limit reached, paused")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        # Sync health reads the last 24 hours of attempts by hour (throughput, errors, waits).
        indexes = [models.Index(fields=["started_at"], name="attempt_started")]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.started_at:%H:%M:%S}: {self.outcome}"


class StreamPass(models.Model):
    """One pass of a periodic stream that keeps no run rows of its own (reminder tasks and
    unsubscribes from Salesforce; email and campaigns may use it too), for Sync health's
    throughput, errors and charts. ``stream`` is the health source's name, free text so a new
    stream needs no migration. Pruned with the rest of the history (``history.py``)."""

    stream = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    rows = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["stream", "finished_at"], name="streampass_stream")]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else "failed"
        return f"{self.stream} pass at {self.finished_at:%H:%M:%S} ({outcome})"
