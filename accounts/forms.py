"""The user's own settings."""

from django import forms
from django.conf import settings

from .validators import time_zone_names


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone", required=False,
        help_text="Your task queue's Today and Tomorrow follow this time zone.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [
            ("", f"Server default ({settings.TIME_ZONE})"),
            *((name, name) for name in time_zone_names())]
