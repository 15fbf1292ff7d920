"""The wire to a seller's mailbox: IMAP (imapclient) and SMTP submission (Django's SMTP
backend), signed in with a password or an OAuth2 access token (XOAUTH2). Knows no models.

Every failure is a ``MailboxError`` whose message is the server's own words, naming the
protocol; ``login_failed`` marks a refused login (wrong password, revoked token), which pauses
the mailbox instead of being retried.
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import ssl
from dataclasses import dataclass

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import sanitize_address
from django.utils.translation import gettext as _
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

NONE, STARTTLS, TLS = "none", "starttls", "tls"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    security: str  # none | starttls | tls


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = ""
    #: OAuth2: signs in with XOAUTH2 instead of the password.
    access_token: str = ""


class MailboxError(Exception):
    def __init__(self, message: str, *, login_failed: bool = False):
        super().__init__(message)
        self.message = message
        self.login_failed = login_failed


def is_loopback(host: str) -> bool:
    """A host on this machine: ``localhost`` or a loopback address."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def server_words(error: BaseException) -> str:
    """What the server said, without Python's wrapping (``b'...'``, tuples)."""
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{error.smtp_code} {text}".strip()
    text = str(error)
    quoted = re.fullmatch(r"""b(['"])(.*)\1""", text, re.DOTALL)
    if quoted:
        text = quoted.group(2)
    return text or type(error).__name__


def xoauth2(username: str, access_token: str) -> str:
    """The XOAUTH2 initial client response (before base64), as Google and Microsoft define it."""
    return f"user={username}\x01auth=Bearer {access_token}\x01\x01"


# ------------------------------------------------------------------------------------ IMAP

def imap_open(endpoint: Endpoint, credentials: Credentials, *, timeout: float) -> IMAPClient:
    """A signed-in IMAP connection (the caller logs out)."""
    where = f"{endpoint.host}:{endpoint.port}"
    try:
        client = IMAPClient(endpoint.host, port=endpoint.port, ssl=endpoint.security == TLS,
                            ssl_context=ssl.create_default_context(), timeout=timeout)
    except (OSError, ValueError, IMAPClientError) as error:  # ValueError: a bad host name
        raise MailboxError(_("The IMAP server %(server)s could not be reached: %(reason)s") % {
            "server": where, "reason": server_words(error)}) from error
    try:
        if endpoint.security == STARTTLS:
            client.starttls(ssl.create_default_context())
        if credentials.access_token:
            client.oauth2_login(credentials.username, credentials.access_token)
        else:
            client.login(credentials.username, credentials.password)
    except LoginError as error:
        _imap_close(client)
        raise MailboxError(_("The IMAP login failed: %(reason)s") % {
            "reason": server_words(error)}, login_failed=True) from error
    except (OSError, IMAPClientError) as error:
        _imap_close(client)
        raise MailboxError(_("The IMAP server %(server)s failed: %(reason)s") % {
            "server": where, "reason": server_words(error)}) from error
    return client


def _imap_close(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:  # noqa: BLE001 - the connection is gone either way
        pass


def imap_logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - a dropped connection: nothing left to end
        _imap_close(client)


def sent_folder_find(client: IMAPClient) -> str:
    """The folder flagged ``\\Sent`` (RFC 6154; else one of the usual names), or ""."""
    return client.find_special_folder(b"\\Sent") or ""


def imap_check(endpoint: Endpoint, credentials: Credentials, *, timeout: float) -> str:
    """Sign in and out; returns the Sent folder's name ("" when there is none)."""
    client = imap_open(endpoint, credentials, timeout=timeout)
    try:
        return sent_folder_find(client)
    except (OSError, IMAPClientError) as error:
        raise MailboxError(_("The IMAP server failed: %(reason)s") % {
            "reason": server_words(error)}) from error
    finally:
        imap_logout(client)


# ------------------------------------------------------------------------------------ SMTP

class SmtpBackend(EmailBackend):
    """Django's SMTP backend signed in as the seller (password or XOAUTH2). It keeps the bytes
    of each message it hands over (``message.sent_bytes``) for the Sent copy."""

    def __init__(self, endpoint: Endpoint, credentials: Credentials, *, timeout: float):
        super().__init__(host=endpoint.host, port=endpoint.port,
                         username=credentials.username,
                         password="" if credentials.access_token else credentials.password,
                         use_tls=endpoint.security == STARTTLS,
                         use_ssl=endpoint.security == TLS, timeout=timeout,
                         fail_silently=False)
        self.access_token = credentials.access_token

    def open(self):
        opened = super().open()
        if opened and self.access_token:
            response = xoauth2(self.username, self.access_token)
            try:
                self.connection.ehlo_or_helo_if_needed()
                # A refusal comes as a 334 challenge (JSON); an empty answer ends it.
                self.connection.auth("XOAUTH2", lambda challenge=None: "" if challenge
                                     else response, initial_response_ok=True)
            except smtplib.SMTPException:
                self.close()
                raise
        return opened

    def _send(self, email_message):
        # As Django's, keeping the exact bytes handed over.
        if not email_message.recipients():
            return False
        encoding = email_message.encoding or settings.DEFAULT_CHARSET
        from_email = sanitize_address(email_message.from_email, encoding)
        recipients = [sanitize_address(address, encoding)
                      for address in email_message.recipients()]
        raw = email_message.message().as_bytes(linesep="\r\n")
        self.connection.sendmail(from_email, recipients, raw)
        email_message.sent_bytes = raw
        return True


def smtp_login_failed(error: BaseException) -> bool:
    """The server refused the credentials (not a network or server fault)."""
    if isinstance(error, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return True
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code in (530, 535)


def smtp_check(endpoint: Endpoint, credentials: Credentials, *, timeout: float) -> None:
    """Sign in to the SMTP server and out again."""
    backend = SmtpBackend(endpoint, credentials, timeout=timeout)
    try:
        backend.open()
    except smtplib.SMTPException as error:
        if smtp_login_failed(error):
            raise MailboxError(_("The SMTP login failed: %(reason)s") % {
                "reason": server_words(error)}, login_failed=True) from error
        raise MailboxError(_("The SMTP server %(server)s failed: %(reason)s") % {
            "server": f"{endpoint.host}:{endpoint.port}", "reason": server_words(error)}) from error
    except (OSError, ValueError) as error:  # ValueError: a bad host name
        raise MailboxError(_("The SMTP server %(server)s could not be reached: %(reason)s") % {
            "server": f"{endpoint.host}:{endpoint.port}", "reason": server_words(error)}) from error
    finally:
        backend.close()
