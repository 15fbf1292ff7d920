"""The user's own settings: one small form per card of the You page."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordChangeForm

from .models import User
from .validators import time_zone_names

SIGNATURE_MAX = User._meta.get_field("signature").max_length


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone", required=False,
        help_text="Your task queue's Today and Tomorrow, and the times you schedule emails "
                  "for, follow this time zone.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [
            ("", f"Server default ({settings.TIME_ZONE})"),
            *((name, name) for name in time_zone_names())]


class NameForm(forms.Form):
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)


class SignatureForm(forms.Form):
    signature = forms.CharField(
        label="Email signature", required=False, max_length=SIGNATURE_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Plain text added to each sales email you send (campaign emails too), "
                  "after the body and before the unsubscribe link. Leave it empty for none.")


class PasswordForm(PasswordChangeForm):
    """Django's password change, without its autofocus: on the You page it would pull the
    focus (and the page) down to the last card."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].widget.attrs.pop("autofocus", None)
