"""Forms for the compose panel and the templates page."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from .merge import KNOWN_FIELDS
from .models import EmailTemplate
from .services import SUBJECT_MAX_LENGTH, TEMPLATE_FIELDS

MERGE_HELP = gettext_lazy("Merge fields: {{first_name}}, {{last_name}}, {{company}}, {{title}}, "
                          "{{sender_name}}. A fallback for an empty value goes after a bar: "
                          "{{first_name|there}}.")
#: The "Insert merge field" menu's label for each field (the token itself is never translated).
MERGE_FIELD_LABELS = {
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "company": gettext_lazy("Company"),
    "title": pgettext_lazy("job title", "Title"),
    "sender_name": gettext_lazy("Sender name"),
    "sales_campaign_name": gettext_lazy("Sales campaign name"),
}


class ComposeForm(forms.Form):
    template = forms.ModelChoiceField(queryset=EmailTemplate.objects.none(), required=False,
                                      empty_label=gettext_lazy("— No template —"),
                                      label=gettext_lazy("Template"))
    subject = forms.CharField(max_length=SUBJECT_MAX_LENGTH, label=gettext_lazy("Subject"))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), help_text=MERGE_HELP,
                           label=gettext_lazy("Body"))
    track = forms.BooleanField(required=False, initial=True,
                               label=gettext_lazy("Track opens and clicks for this email"))
    send_date = forms.DateField(required=False, label=gettext_lazy("Send on"),
                                widget=forms.DateInput(attrs={"type": "date"}))
    # Translators: "Send on [date] at [time]": the label of the time input.
    send_time = forms.TimeField(required=False, label=gettext_lazy("at"),
                                widget=forms.TimeInput(attrs={"type": "time"}))

    def __init__(self, *args, templates=None, zone: ZoneInfo | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone or ZoneInfo(settings.TIME_ZONE)
        if templates is not None:
            self.fields["template"].queryset = templates
        self.fields["template"].widget.attrs["autocomplete"] = "off"
        self.fields["body"].widget.attrs.update({"rows": 14, "class": "email-editor"})

    def clean(self):
        data = super().clean()
        day, moment = data.get("send_date"), data.get("send_time")
        if day and not moment:
            self.add_error("send_time", _("Pick the time to send it, or clear the date."))
        elif moment and not day:
            self.add_error("send_date", _("Pick the day to send it, or clear the time."))
        # A wall-clock time in the seller's zone (fold=0: the first of a repeated hour).
        data["send_at"] = (datetime.combine(day, moment, tzinfo=self.zone)
                           if day and moment else None)
        return data


def merge_menu(fields=KNOWN_FIELDS) -> list[tuple[str, str]]:
    """The "Insert merge field" menu's entries: (token, label)."""
    return [("{{" + name + "}}",
             MERGE_FIELD_LABELS.get(name) or name.replace("_", " ").capitalize())
            for name in fields]


TEMPLATE_MERGE_MENU = merge_menu(TEMPLATE_FIELDS)


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=120, label=gettext_lazy("Name"))
    subject = forms.CharField(max_length=SUBJECT_MAX_LENGTH, label=gettext_lazy("Subject"))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 14, "class": "email-editor"}),
                           help_text=MERGE_HELP, label=gettext_lazy("Body"))
    shared = forms.BooleanField(required=False, label=pgettext_lazy(
        "email template", "Shared with every seller"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is None or not user.is_admin:
            del self.fields["shared"]
