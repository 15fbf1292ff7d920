"""OAuth2 sign-in for Google (Gmail, Workspace) and Microsoft 365 mailboxes: the authorization
code flow with PKCE (S256), the refresh token kept encrypted on the mailbox, and an access
token refreshed before it expires (``REFRESH_MARGIN``) for XOAUTH2 on IMAP and SMTP.

The admin registers the app with each provider (README, "The seller's own mailbox") and sets
``GOOGLE_OAUTH_CLIENT_ID``/``_SECRET`` and ``MICROSOFT_OAUTH_CLIENT_ID``/``_SECRET``/``_TENANT``.
``MAILBOX_OAUTH_OVERRIDES`` points a provider elsewhere (the sandbox in ``sandbox/oauth.py``
for tests and the demo).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Mailbox
from .transport import TLS, Endpoint, MailboxError

#: An access token is refreshed when it has less than this left.
REFRESH_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    authorize_url: str
    token_url: str
    scope: str
    imap: Endpoint
    smtp: Endpoint
    client_id: str = ""
    client_secret: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


class OAuthError(Exception):
    """The provider refused; the message is its own words."""


def providers() -> dict[str, Provider]:
    """Google and Microsoft 365 as the admin configured them."""
    tenant = settings.MICROSOFT_OAUTH_TENANT or "common"
    found = {
        Mailbox.Provider.GOOGLE: Provider(
            Mailbox.Provider.GOOGLE, "Google",
            "https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token",
            "https://mail.google.com/ openid email",
            Endpoint("imap.gmail.com", 993, TLS), Endpoint("smtp.gmail.com", 465, TLS),
            settings.GOOGLE_OAUTH_CLIENT_ID, settings.GOOGLE_OAUTH_CLIENT_SECRET,
            # A refresh token only comes with offline access, and again only with consent.
            {"access_type": "offline", "prompt": "consent"}),
        Mailbox.Provider.MICROSOFT: Provider(
            Mailbox.Provider.MICROSOFT, "Microsoft 365",
            f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
            f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
            "https://outlook.office.com/IMAP.AccessAsUser.All "
            "https://outlook.office.com/SMTP.Send offline_access openid email",
            Endpoint("outlook.office365.com", 993, TLS),
            Endpoint("smtp.office365.com", 587, "starttls"),
            settings.MICROSOFT_OAUTH_CLIENT_ID, settings.MICROSOFT_OAUTH_CLIENT_SECRET),
    }
    for name, overrides in settings.MAILBOX_OAUTH_OVERRIDES.items():
        values = dict(overrides)
        for side in ("imap", "smtp"):
            if side in values:
                values[side] = Endpoint(*values[side])
        found[name] = replace(found[name], **values)
    return found


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(provider: Provider, *, redirect_uri: str, state: str, challenge: str,
                  login_hint: str = "") -> str:
    params = {"response_type": "code", "client_id": provider.client_id,
              "redirect_uri": redirect_uri, "scope": provider.scope, "state": state,
              "code_challenge": challenge, "code_challenge_method": "S256", **provider.extra}
    if login_hint:
        params["login_hint"] = login_hint
    return f"{provider.authorize_url}?{urlencode(params)}"


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_at: datetime
    refresh_token: str = ""
    address: str = ""


def _token_request(provider: Provider, data: dict) -> Tokens:
    try:
        response = requests.post(provider.token_url, data={
            "client_id": provider.client_id, "client_secret": provider.client_secret, **data},
            timeout=settings.MAILBOX_TIMEOUT)
    except requests.RequestException as error:
        raise MailboxError(_("%(provider)s sign-in could not be reached: %(reason)s") % {
            "provider": provider.label, "reason": error}) from error
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or "access_token" not in body:
        words = body.get("error_description") or body.get("error") or response.text[:200]
        # A refused grant (expired, revoked) is a login that stopped working; a provider
        # that is down is not.
        raise MailboxError(_("%(provider)s sign-in refused: %(reason)s") % {
            "provider": provider.label, "reason": words},
                           login_failed=400 <= response.status_code < 500)
    return Tokens(body["access_token"],
                  timezone.now() + timedelta(seconds=int(body.get("expires_in") or 3600)),
                  body.get("refresh_token", ""), _address(body.get("id_token", "")))


def _address(id_token: str) -> str:
    """The address in an OpenID Connect ID token, taken straight from the token endpoint over
    TLS (which OpenID Connect Core 3.1.3.7 lets stand for checking its signature)."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return ""
    return claims.get("email") or claims.get("preferred_username") or ""


def code_exchange(provider: Provider, *, code: str, verifier: str, redirect_uri: str) -> Tokens:
    """The tokens for an authorization code (``MailboxError`` with the provider's words)."""
    return _token_request(provider, {"grant_type": "authorization_code", "code": code,
                                     "code_verifier": verifier, "redirect_uri": redirect_uri})


def access_token_fresh(mailbox: Mailbox) -> str:
    """The mailbox's access token, refreshed first when it has less than ``REFRESH_MARGIN``
    left (the new one saved, encrypted). A refused refresh (revoked, expired) raises a
    ``MailboxError`` with ``login_failed``: the mailbox is paused by the caller."""
    expires = mailbox.access_token_expires_at
    if mailbox.access_token and expires and expires - timezone.now() > REFRESH_MARGIN:
        return mailbox.access_token
    provider = providers()[mailbox.provider]
    tokens = _token_request(provider, {"grant_type": "refresh_token",
                                       "refresh_token": mailbox.refresh_token})
    mailbox.access_token, mailbox.access_token_expires_at = tokens.access_token, tokens.expires_at
    fields = ["access_token", "access_token_expires_at"]
    if tokens.refresh_token:  # Microsoft rotates refresh tokens
        mailbox.refresh_token = tokens.refresh_token
        fields.append("refresh_token")
    mailbox.save(update_fields=fields)
    return mailbox.access_token
