"""Calls sellers log, and the dialer settings an admin manages (SPEC sections 4 and 5)."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from syncing.models import SingletonModel

#: At most this many outcomes and this many reasons (the dialer's menus stay short).
MAX_CALL_OUTCOMES = 15
MAX_CALL_REASONS = 15
#: A call's notes become its Salesforce Task's Description, which holds 32,000 characters.
#: Longer notes are refused (form and API) rather than cut: what the seller wrote is what
#: Salesforce gets, and no delivery can fail forever on STRING_TOO_LONG.
MAX_CALL_NOTES = 32_000


class CallStatus(models.TextChoices):
    """How the call ended, as Marketo's "Sales Call Status" attribute names it."""

    COMPLETED = "completed", pgettext_lazy("call status", "Completed")
    NO_ANSWER = "no_answer", pgettext_lazy("call status", "No answer")
    CANCELLED = "cancelled", pgettext_lazy("call status", "Cancelled")
    FAILED = "failed", pgettext_lazy("call status", "Failed")


#: The statuses as Marketo's "Sales Call Status" attribute receives them: fixed English text,
#: whatever language the labels above are shown in (what leaves the app does not change).
MARKETO_CALL_STATUS = {
    CallStatus.COMPLETED: "completed",
    CallStatus.NO_ANSWER: "no answer",
    CallStatus.CANCELLED: "cancelled",
    CallStatus.FAILED: "failed",
}


class CallSettings(SingletonModel):
    """Dialer settings: whether sellers pick an outcome when they log a call."""

    class OutcomeMode(models.TextChoices):
        REQUIRED = "required", pgettext_lazy("call outcomes", "Required")
        OPTIONAL = "optional", pgettext_lazy("call outcomes", "Optional")
        OFF = "off", pgettext_lazy("call outcomes", "Off")

    outcome_mode = models.CharField(_("Call outcomes"), max_length=10, choices=OutcomeMode.choices,
                                    default=OutcomeMode.OPTIONAL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("call settings")
        verbose_name_plural = _("call settings")


class CallOutcome(models.Model):
    """An outcome a seller can pick ("Connected", "Left voicemail"). Becomes the Task's
    CallDisposition and the Marketo activity's subject; ``call_status`` is how such a call ended.
    """

    name = models.CharField(max_length=80, unique=True)
    call_status = models.CharField(_("Counts as"), max_length=20, choices=CallStatus.choices,
                                   default=CallStatus.COMPLETED)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("call outcome")
        verbose_name_plural = _("call outcomes")

    def __str__(self) -> str:
        return self.name


class CallReason(models.Model):
    """Why the seller called ("Follow-up", "Demo booking")."""

    name = models.CharField(max_length=80, unique=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("call reason")
        verbose_name_plural = _("call reasons")

    def __str__(self) -> str:
        return self.name


class Call(models.Model):
    """One call a seller made to a person.

    Outcome and reason are kept as text, so renaming or removing a menu entry later leaves the
    history as it was logged. Its deliveries to Salesforce and Marketo are
    ``syncing.Delivery`` rows of kind "call" created in the same transaction.
    """

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="calls")
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="calls")
    outcome = models.CharField(max_length=80, blank=True)
    reason = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=20, choices=CallStatus.choices,
                              default=CallStatus.COMPLETED)
    notes = models.TextField(blank=True)
    duration_seconds = models.PositiveIntegerField(default=0)
    phone_number = models.CharField(max_length=40, blank=True)
    called_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    deliveries = GenericRelation("syncing.Delivery", content_type_field="record_type",
                                 object_id_field="record_id", related_query_name="call")

    class Meta:
        ordering = ["-called_at", "-id"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        indexes = [
            models.Index(fields=["person", "-called_at"], name="call_person_called"),
            models.Index(fields=["logged_by", "-called_at"], name="call_logger_called"),
        ]

    def __str__(self) -> str:
        return f"Call to {self.person} on {self.called_at:%Y-%m-%d %H:%M}"

    @property
    def marketo_call_status(self) -> str:
        """The status as Marketo receives it (English, not the translated label)."""
        return MARKETO_CALL_STATUS.get(self.status, self.status)
