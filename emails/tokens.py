"""Signed tokens for the links inside an email (no login): open pixel, click, unsubscribe.

django.core.signing with a salt per purpose: each purpose signs with its own key derived from
``SECRET_KEY`` (``salted_hmac``), so a token for one purpose never works for another; tokens
signed with a key in ``SECRET_KEY_FALLBACKS`` still read (rotation, README "Security");
tampered or unsigned tokens raise ``BadToken``. URLs are absolute on ``SITE_URL``.
The views behind them are the ``tracking`` branch's (``emails/tracking_views.py``).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

PURPOSES = ("open", "unsubscribe")
_SALT = "emails.tokens."


class BadToken(Exception):
    """The token is tampered, unsigned or for another purpose."""


def email_token(email_id: int, purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return signing.dumps(int(email_id), salt=_SALT + purpose, compress=False)


def read_email_token(token: str, purpose: str) -> int:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    try:
        value = signing.loads(token, salt=_SALT + purpose)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadToken(str(error)) from error
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadToken("not an email id")
    return value


def click_token(email_id: int, url: str) -> str:
    return signing.dumps([int(email_id), str(url)], salt=_SALT + "click", compress=True)


def read_click_token(token: str) -> tuple[int, str]:
    try:
        value = signing.loads(token, salt=_SALT + "click")
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadToken(str(error)) from error
    if (not isinstance(value, list) or len(value) != 2 or not isinstance(value[0], int)
            or isinstance(value[0], bool) or not isinstance(value[1], str)):
        raise BadToken("not a click token")
    return value[0], value[1]


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def open_pixel_url(email) -> str:
    return _absolute(reverse("email-open", args=[email_token(email.pk, "open")]))


def click_url(email, url: str) -> str:
    return _absolute(reverse("email-click", args=[click_token(email.pk, url)]))


def unsubscribe_url(email) -> str:
    return _absolute(reverse("email-unsubscribe", args=[email_token(email.pk, "unsubscribe")]))
