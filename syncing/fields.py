"""A model field whose value is encrypted at rest (Fernet, key derived from SECRET_KEY; values
written under a key in SECRET_KEY_FALLBACKS still read while it is listed)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


def _fernet_for(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"salesactions.secrets:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _fernet() -> MultiFernet:
    """Encrypts with the current key; decrypts with it or any fallback."""
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return MultiFernet([_fernet_for(key) for key in keys])


class EncryptedTextField(models.TextField):
    """Stores ``Fernet(plaintext)``; reads give the plaintext back.

    Rotating SECRET_KEY without keeping the old one in SECRET_KEY_FALLBACKS makes stored
    secrets unreadable: they read as "" and the settings page asks for them again, rather than
    failing every request. Saved again, a value is encrypted with the current key.
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
