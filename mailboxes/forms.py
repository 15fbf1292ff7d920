"""The You page's mailbox form (the same fields as ``POST /api/v1/mailboxes/``)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Mailbox


class MailboxForm(forms.Form):
    username = forms.CharField(label=_("Login (usually your address)"), max_length=254)
    password = forms.CharField(label=_("Password or app password"), max_length=1024, strip=False,
                               widget=forms.PasswordInput,
                               help_text=_("Stored encrypted; never shown again."))
    imap_host = forms.CharField(label=_("IMAP server"), max_length=253)
    imap_port = forms.IntegerField(label=_("IMAP port"), min_value=1, max_value=65535,
                                   initial=993)
    imap_security = forms.ChoiceField(label=_("IMAP security"), choices=Mailbox.Security.choices,
                                      initial=Mailbox.Security.TLS)
    smtp_host = forms.CharField(label=_("SMTP server"), max_length=253)
    smtp_port = forms.IntegerField(label=_("SMTP port"), min_value=1, max_value=65535,
                                   initial=465)
    smtp_security = forms.ChoiceField(label=_("SMTP security"), choices=Mailbox.Security.choices,
                                      initial=Mailbox.Security.TLS)
