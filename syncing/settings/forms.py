from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from syncing.models import MarketoConnection, SalesforceConnection, SyncSettings
from syncing.unsubscribes.optout_fields import optout_field_check
from syncing.validators import bounds_of


def _form_field(model_field, **kwargs):
    # A URL typed without a scheme is https (Django 6's default; no deprecation warning).
    if isinstance(model_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    if bounds := bounds_of(model_field):
        # The model's bounds, in the input (min/max) and in the model's words.
        low, high, message = bounds
        kwargs |= {"min_value": low, "max_value": high,
                   "error_messages": {"min_value": message, "max_value": message}}
    return model_field.formfield(**kwargs)


class ConnectionForm(forms.ModelForm):
    """A connection form whose secret is never rendered back; left blank it keeps the saved one."""

    client_secret = forms.CharField(
        required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._saved_secret = self.instance.client_secret
        field = self.fields["client_secret"]
        field.label = self.instance._meta.get_field("client_secret").verbose_name
        field.help_text = (_("Stored encrypted; leave blank to keep the saved secret.")
                           if self._saved_secret else _("Stored encrypted."))

    def clean_client_secret(self):
        return self.cleaned_data["client_secret"] or self._saved_secret


class MarketoConnectionForm(ConnectionForm):
    class Meta:
        model = MarketoConnection
        fields = ["base_url", "client_id", "client_secret"]
        formfield_callback = _form_field

    def clean_base_url(self):
        # People paste the REST endpoint from Marketo's admin page; the app wants the host.
        return self.cleaned_data["base_url"].rstrip("/").removesuffix("/rest")


class SalesforceConnectionForm(ConnectionForm):
    class Meta:
        model = SalesforceConnection
        fields = ["url", "client_id", "client_secret", "api_version"]
        formfield_callback = _form_field

    def clean_url(self):
        return self.cleaned_data["url"].rstrip("/")

    def clean_api_version(self):
        return self.cleaned_data["api_version"].strip().lstrip("v")


class SyncSettingsForm(forms.ModelForm):
    class Meta:
        model = SyncSettings
        fields = [field.name for field in SyncSettings._meta.get_fields()
                  if field.name not in ("id", "updated_at")]
        formfield_callback = _form_field

    def clean_unsubscribe_custom_optout_field(self):
        name = self.cleaned_data["unsubscribe_custom_optout_field"].strip()
        if name != self.instance.unsubscribe_custom_optout_field:
            # Asks Salesforce whether Contact and Lead both have it as a checkbox.
            optout_field_check(name)
        return name
