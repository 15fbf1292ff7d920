"""A model field whose value is encrypted at rest (Fernet, key derived from SECRET_KEY)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"salesactions.secrets:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class EncryptedTextField(models.TextField):
    """Stores ``Fernet(plaintext)``; reads give the plaintext back.

    Rotating SECRET_KEY makes stored secrets unreadable: they read as "" and the settings page
    asks for them again, rather than failing every request.
    """

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return ""
        return _fernet().encrypt(value.encode()).decode()

    def from_db_value(self, value, expression, connection):
        if not value:
            return ""
        try:
            return _fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            return ""
