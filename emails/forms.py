"""Forms for the compose panel and the templates page."""

from django import forms

from .models import EmailTemplate
from .services import SUBJECT_MAX_LENGTH

MERGE_HELP = ("Merge fields: {{first_name}}, {{last_name}}, {{company}}, {{title}}, "
              "{{sender_name}}. A fallback for an empty value goes after a bar: "
              "{{first_name|there}}.")


class ComposeForm(forms.Form):
    template = forms.ModelChoiceField(queryset=EmailTemplate.objects.none(), required=False,
                                      empty_label="— No template —", label="Template")
    subject = forms.CharField(max_length=SUBJECT_MAX_LENGTH)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), help_text=MERGE_HELP)
    track = forms.BooleanField(required=False, initial=True,
                               label="Track opens and clicks for this email")

    def __init__(self, *args, templates=None, **kwargs):
        super().__init__(*args, **kwargs)
        if templates is not None:
            self.fields["template"].queryset = templates
        self.fields["template"].widget.attrs["autocomplete"] = "off"


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=120)
    subject = forms.CharField(max_length=SUBJECT_MAX_LENGTH)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), help_text=MERGE_HELP)
    shared = forms.BooleanField(required=False, label="Shared with every seller")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is None or not user.is_admin:
            del self.fields["shared"]
