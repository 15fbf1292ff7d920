"""Forms: logging a call, and the dialer settings on the settings page."""

import re

from django import forms
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from .models import MAX_CALL_NOTES, CallSettings, CallStatus

_DURATION = re.compile(r"^\s*(?:(\d{1,3}):)?(\d{1,5})\s*$")


def _notes_limit(text: str) -> str:
    """``text`` translated, with the notes' limit written the viewer's way (32,000 / 32 000);
    ``%(show_value)s`` stays for Django's length check to fill."""
    return gettext(text) % {"limit": number_format(MAX_CALL_NOTES, force_grouping=True),
                            "show_value": "%(show_value)s"}


_notes_limit_lazy = lazy(_notes_limit, str)


class CallForm(forms.Form):
    """Log a call. Outcome and reason menus come from the admin's settings; the service checks
    the values again, so this form only shapes the input."""

    outcome = forms.ChoiceField(required=False, label=_("Outcome"))
    reason = forms.ChoiceField(required=False, label=_("Reason"))
    duration = forms.CharField(
        label=_("Duration"), required=False, max_length=10,
        help_text=_("Minutes:seconds (4:30) or seconds (270)."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "0:00"}))
    phone_number = forms.CharField(label=_("Phone number"), required=False, max_length=40,
                                   widget=forms.TextInput(attrs={"type": "tel"}))
    called_at = forms.DateTimeField(
        label=pgettext_lazy("when a call was made", "When"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                   format="%Y-%m-%dT%H:%M"))
    notes = forms.CharField(
        required=False, max_length=MAX_CALL_NOTES, label=_("Notes"),
        help_text=_notes_limit_lazy(gettext_noop(
            "At most %(limit)s characters (a Salesforce Task's Description).")),
        error_messages={"max_length": _notes_limit_lazy(gettext_noop(
            "At most %(limit)s characters (what a Salesforce Task's Description holds); "
            "this note has %(show_value)s."))},
        widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, person, call_settings: CallSettings, outcomes, reasons, **kwargs):
        kwargs.setdefault("initial", {
            "phone_number": person.phone,
            "called_at": timezone.localtime().replace(second=0, microsecond=0),
        })
        super().__init__(*args, **kwargs)
        mode = call_settings.outcome_mode
        if mode == CallSettings.OutcomeMode.OFF or not outcomes:
            del self.fields["outcome"]
        else:
            blank = (gettext("Choose an outcome") if mode == CallSettings.OutcomeMode.REQUIRED
                     else "—")
            self.fields["outcome"].choices = [("", blank)] + [(o.name, o.name) for o in outcomes]
            self.fields["outcome"].required = mode == CallSettings.OutcomeMode.REQUIRED
        if reasons:
            self.fields["reason"].choices = [("", "—")] + [(r.name, r.name) for r in reasons]
        else:
            del self.fields["reason"]

    def clean_duration(self) -> int:
        text = self.cleaned_data["duration"]
        if not text:
            return 0
        match = _DURATION.match(text)
        if not match:
            raise forms.ValidationError(gettext("Use minutes:seconds (4:30) or seconds (270)."))
        minutes, seconds = match.groups()
        if minutes is not None and int(seconds) >= 60:
            raise forms.ValidationError(gettext("Seconds must be below 60 after a colon."))
        return int(minutes or 0) * 60 + int(seconds)

    def service_errors(self, error) -> None:
        """Show the service's ValidationError on the fields it names (or above the form)."""
        for name, messages in error.message_dict.items():
            name = {"duration_seconds": "duration"}.get(name, name)
            for message in messages:
                self.add_error(name if name in self.fields else None, message)

    def call_fields(self) -> dict:
        """The cleaned values as ``call_log`` takes them."""
        data = self.cleaned_data
        return {"outcome": data.get("outcome", ""), "reason": data.get("reason", ""),
                "notes": data["notes"], "duration_seconds": data["duration"],
                "phone_number": data["phone_number"], "called_at": data["called_at"]}


class CallSettingsForm(forms.ModelForm):
    class Meta:
        model = CallSettings
        fields = ["outcome_mode"]


class CallOutcomeForm(forms.Form):
    name = forms.CharField(max_length=80, label=_("Name"))
    call_status = forms.ChoiceField(label=_("Counts as"), choices=CallStatus.choices,
                                    initial=CallStatus.COMPLETED)


class CallReasonForm(forms.Form):
    name = forms.CharField(max_length=80, label=_("Name"))

