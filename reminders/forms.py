"""Forms of the task pages: add/edit a task, snooze it, filter the queue."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import User

from .models import ReminderTask
from .services import DETAILS_MAX, EARLIEST_DUE, LATEST_DUE, NAME_MAX


class _DateInput(forms.DateInput):
    input_type = "date"


def _due_field(label=None, **kwargs) -> forms.DateField:
    return forms.DateField(label=label or _("Due date"), widget=_DateInput(attrs={
        "min": EARLIEST_DUE.isoformat(), "max": LATEST_DUE.isoformat()}), **kwargs)


class TaskForm(forms.Form):
    """A task's fields; admins also pick the assignee."""

    name = forms.CharField(label=pgettext_lazy("task name", "Name"), max_length=NAME_MAX)
    type = forms.ChoiceField(label=pgettext_lazy("task type", "Type"),
                             choices=ReminderTask.Type.choices, initial=ReminderTask.Type.CALL)
    due_date = _due_field()
    priority = forms.ChoiceField(label=_("Priority"), choices=ReminderTask.Priority.choices,
                                 initial=ReminderTask.Priority.NORMAL)
    details = forms.CharField(label=_("Details"), required=False, max_length=DETAILS_MAX,
                              widget=forms.Textarea(attrs={"rows": 2}))
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=User.objects.none(),
                                      required=False, empty_label=_("Me"))

    def __init__(self, *args, user: User, sellers: list[User] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if user.is_admin:
            self.fields["assignee"].queryset = User.objects.filter(
                pk__in=[seller.pk for seller in sellers or []] + [user.pk])
        else:
            del self.fields["assignee"]

    def task_fields(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("assignee") is None:
            data.pop("assignee", None)
        return data

    def service_errors(self, error) -> None:
        """Errors the service found, shown on their fields."""
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


class BulkTaskForm(TaskForm):
    """One task for each of many people: always assigned to whoever adds it."""

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields.pop("assignee", None)


class SnoozeForm(forms.Form):
    due_date = _due_field(_("Snooze to"), error_messages={
        "required": _("Pick the day to snooze it to."),
        "invalid": _("Pick a day, like 2026-03-31.")})


class QueueFilterForm(forms.Form):
    """The queue's filters: type, and for admins the assignee."""

    type = forms.ChoiceField(choices=[("", _("Every type")), *ReminderTask.Type.choices],
                             required=False)
    assignee = forms.ChoiceField(required=False)

    def __init__(self, *args, user: User, sellers: list[User], **kwargs):
        super().__init__(*args, **kwargs)
        if user.is_admin:
            self.fields["assignee"].choices = [("", _("Every seller")), *(
                (str(seller.pk), seller.get_full_name() or seller.username)
                for seller in sellers)]
        else:
            del self.fields["assignee"]
