"""Connecting, reconnecting, pausing and disconnecting a seller's mailbox."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from emails.sending import emails_send_soon

from .models import Mailbox
from .oauth import Provider, Tokens
from .transport import (
    NONE,
    Credentials,
    Endpoint,
    MailboxError,
    imap_check,
    is_loopback,
    smtp_check,
)

#: What a connection is made of (PATCH may change any; the rest is kept).
CONNECTION_FIELDS = ("imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port",
                     "smtp_security", "username", "password")
#: Hosts whose servers file a copy of what is sent through them in Sent by themselves.
KEEPS_OWN_SENT = ("gmail.com", "googlemail.com", "office365.com", "outlook.com")


class MailboxRefused(Exception):
    """The mailbox was not connected; ``errors`` are field errors in DRF's shape."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for messages in errors.values() for m in messages))
        self.errors = errors


def keeps_own_sent(provider: str, imap_host: str) -> bool:
    host = imap_host.lower().rstrip(".")
    return provider != Mailbox.Provider.PASSWORD or any(
        host == domain or host.endswith(f".{domain}") for domain in KEEPS_OWN_SENT)


def security_errors(values: dict) -> dict[str, list[str]]:
    """Plain text (security ``none``) only to a loopback host, unless the admin allows it."""
    if settings.MAILBOX_ALLOW_INSECURE:
        return {}
    insecure = _("Plain-text connections (security \"none\") are allowed only to this machine "
                 "(localhost, 127.0.0.1): choose tls or starttls, or have the admin set "
                 "MAILBOX_ALLOW_INSECURE=true.")
    return {f"{side}_security": [insecure] for side in ("imap", "smtp")
            if values[f"{side}_security"] == NONE and not is_loopback(values[f"{side}_host"])}


def mailbox_connect(user, *, imap_host: str, imap_port: int, imap_security: str,
                    smtp_host: str, smtp_port: int, smtp_security: str, username: str,
                    password: str = "", provider: str = Mailbox.Provider.PASSWORD,
                    refresh_token: str = "", access_token: str = "",
                    access_token_expires_at=None) -> Mailbox:
    """Connect ``user``'s mailbox, or reconnect it (which resumes a paused one): both logins
    are tried first, and a refusal names the one that failed in the server's words
    (``MailboxRefused``). Reading starts again from the first-connection window when the
    IMAP account changes."""
    values = {"imap_host": imap_host.strip(), "imap_port": imap_port,
              "imap_security": imap_security, "smtp_host": smtp_host.strip(),
              "smtp_port": smtp_port, "smtp_security": smtp_security,
              "username": username.strip()}
    errors = security_errors(values)
    if errors:
        raise MailboxRefused(errors)
    credentials = Credentials(values["username"], password, access_token)
    timeout = settings.MAILBOX_TIMEOUT
    try:
        sent_folder = imap_check(Endpoint(imap_host, imap_port, imap_security), credentials,
                                 timeout=timeout)
    except MailboxError as error:
        raise MailboxRefused({"password" if error.login_failed else "imap_host":
                              [error.message]}) from error
    try:
        smtp_check(Endpoint(smtp_host, smtp_port, smtp_security), credentials, timeout=timeout)
    except MailboxError as error:
        raise MailboxRefused({"password" if error.login_failed else "smtp_host":
                              [error.message]}) from error
    now = timezone.now()
    with transaction.atomic():
        mailbox = (Mailbox.objects.select_for_update().filter(user=user).first()
                   or Mailbox(user=user))
        same_inbox = bool(mailbox.pk) and (mailbox.imap_host, mailbox.imap_port,
                                           mailbox.username) == (
            values["imap_host"], values["imap_port"], values["username"])
        for name, value in values.items():
            setattr(mailbox, name, value)
        mailbox.password = password
        mailbox.provider = provider
        mailbox.refresh_token, mailbox.access_token = refresh_token, access_token
        mailbox.access_token_expires_at = access_token_expires_at
        mailbox.sent_folder = "" if keeps_own_sent(provider, imap_host) else sent_folder
        mailbox.state, mailbox.paused_reason, mailbox.paused_at = Mailbox.State.OK, "", None
        mailbox.last_error = ""
        if not same_inbox:
            mailbox.uidvalidity, mailbox.last_uid = None, 0
        mailbox.connected_at = now
        mailbox.save()
        # A seller's emails waited while the mailbox was paused: send them now.
        transaction.on_commit(emails_send_soon)
    return mailbox


def mailbox_update(mailbox: Mailbox, **changes) -> Mailbox:
    """Change some of the connection (PATCH) and reconnect with it; a password not given is
    the saved one."""
    values = {name: getattr(mailbox, name) for name in CONNECTION_FIELDS}
    values.update({name: value for name, value in changes.items() if name in CONNECTION_FIELDS})
    return mailbox_connect(mailbox.user, provider=mailbox.provider,
                           refresh_token=mailbox.refresh_token,
                           access_token=mailbox.access_token,
                           access_token_expires_at=mailbox.access_token_expires_at, **values)


def mailbox_disconnect(mailbox: Mailbox) -> None:
    """Forget the mailbox (and its credentials): the seller's mail goes out through
    ``EMAIL_URL`` again, and nothing more is read."""
    mailbox.delete()
    transaction.on_commit(emails_send_soon)


def mailbox_connect_oauth(user, provider: Provider, tokens: Tokens) -> Mailbox:
    """Connect ``user``'s Google or Microsoft 365 mailbox after the sign-in: XOAUTH2 on the
    provider's IMAP and SMTP servers, tried first like any connection."""
    if not tokens.refresh_token:
        raise MailboxRefused({"password": [
            _("%(provider)s gave no refresh token: remove the app's access in your "
              "account's security settings and sign in again.") % {"provider": provider.label}]})
    return mailbox_connect(
        user, imap_host=provider.imap.host, imap_port=provider.imap.port,
        imap_security=provider.imap.security, smtp_host=provider.smtp.host,
        smtp_port=provider.smtp.port, smtp_security=provider.smtp.security,
        username=tokens.address or user.email, provider=provider.name,
        refresh_token=tokens.refresh_token, access_token=tokens.access_token,
        access_token_expires_at=tokens.expires_at)
