"""The user's own settings: one small form per card of the You page."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from .models import User
from .validators import time_zone_names

SIGNATURE_MAX = User._meta.get_field("signature").max_length


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label=_("Time zone"), required=False,
        help_text=_("Your task queue's Today and Tomorrow, and the times you schedule emails "
                    "for, follow this time zone."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [
            ("", _("Server default (%(zone)s)") % {"zone": settings.TIME_ZONE}),
            *((name, name) for name in time_zone_names())]


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"), required=False,
        help_text=_("The language of your pages, dates and numbers. “Your browser's language” "
                    "follows your browser's preferred languages."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Each language named in its own language, as a reader of it would look for it.
        self.fields["language"].choices = [("", _("Your browser's language")),
                                           *settings.LANGUAGES]


class NameForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)


class SignatureForm(forms.Form):
    signature = forms.CharField(
        label=_("Email signature"), required=False, max_length=SIGNATURE_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Plain text added to each sales email you send (campaign emails too), "
                    "after the body and before the unsubscribe link. Leave it empty for none."))


class PasswordForm(PasswordChangeForm):
    """Django's password change, without its autofocus: on the You page it would pull the
    focus (and the page) down to the last card."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].widget.attrs.pop("autofocus", None)
