"""Sending through sellers' mailboxes: which emails of a batch leave through which mailbox, the
SMTP backend signed in as the seller, and the copies for each mailbox's Sent folder.

``emails/sending.py`` keeps every sending rule (claims, checks, hand-off, outcomes); this module
only answers "through what" and files the copies. A copy is recorded in the transaction that
marks its email sent and appended afterwards (``sent_copies_append``), looking for the
Message-ID in the folder first: a worker that dies between the SMTP hand-off and the copy, or
between the APPEND and forgetting the row, never causes a second send nor a second copy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F
from imapclient.exceptions import IMAPClientError

from .connection import connection_of, mailbox_pause
from .models import Mailbox, SentCopy
from .transport import (
    MailboxError,
    SmtpBackend,
    imap_logout,
    imap_open,
    server_words,
    smtp_login_failed,
)

log = logging.getLogger(__name__)

#: Copies appended per IMAP connection.
APPEND_BATCH = 200


@dataclass
class Route:
    """Emails of one seller going out through their mailbox."""

    mailbox: Mailbox

    @property
    def address(self) -> str:
        return self.mailbox.address

    def backend(self) -> SmtpBackend:
        connection = connection_of(self.mailbox)
        return SmtpBackend(connection.smtp, connection.credentials,
                           timeout=settings.MAILBOX_TIMEOUT)

    def login_refused(self, error: BaseException) -> bool:
        """A refused SMTP login (or OAuth2 refresh) pauses the mailbox (returns True); other
        errors do not."""
        if isinstance(error, MailboxError):
            if error.login_failed:
                mailbox_pause(self.mailbox.pk, error.message)
            return error.login_failed
        if not smtp_login_failed(error):
            return False
        mailbox_pause(self.mailbox.pk, f"The SMTP login failed: {server_words(error)}")
        return True


def routes_for(emails) -> list[tuple[Route | None, list]]:
    """The emails grouped by how they leave: (a seller's mailbox, their emails), and
    (None, the others: ``EMAIL_URL``). Paused mailboxes' emails are not claimed at all."""
    mailboxes = {mailbox.user_id: mailbox for mailbox in Mailbox.objects.filter(
        user_id__in={email.sender_id for email in emails}, state=Mailbox.State.OK)
        .select_related("user")}
    groups: dict[int | None, list] = {}
    for email in emails:
        key = email.sender_id if email.sender_id in mailboxes else None
        groups.setdefault(key, []).append(email)
    return [(Route(mailboxes[key]) if key is not None else None, group)
            for key, group in groups.items()]


def sent_copies_build(route: Route | None, sent: list, raw_of: dict[int, bytes]) -> list[SentCopy]:
    """The Sent copies of ``sent`` emails (saved with their outcome), when the route files one."""
    if route is None or not route.mailbox.sent_folder:
        return []
    return [SentCopy(email=email, mailbox=route.mailbox, raw=raw_of[email.pk])
            for email in sent if email.pk in raw_of]


def sent_copies_append(mailbox: Mailbox, limit: int = APPEND_BATCH) -> int:
    """Append the mailbox's waiting copies to its Sent folder; returns how many were filed.
    Each copy is looked for first (by Message-ID), so none is ever there twice. A refused
    login pauses the mailbox; another error leaves the copies for the next try."""
    copies = list(SentCopy.objects.filter(mailbox=mailbox).select_related("email")
                  .order_by("id")[:limit])
    if not copies or not mailbox.sent_folder or mailbox.paused:
        return 0
    try:
        connection = connection_of(mailbox)
        client = imap_open(connection.imap, connection.credentials,
                           timeout=settings.MAILBOX_TIMEOUT)
    except MailboxError as error:
        if error.login_failed:
            mailbox_pause(mailbox.pk, error.message)
        SentCopy.objects.filter(pk__in=[c.pk for c in copies]).update(
            attempts=F("attempts") + 1, error=error.message)
        return 0
    filed = 0
    try:
        client.select_folder(mailbox.sent_folder)
        for copy in copies:
            message_id = copy.email.message_id
            if not client.search(["HEADER", "Message-ID", message_id]):
                client.append(mailbox.sent_folder, bytes(copy.raw), flags=[b"\\Seen"],
                              msg_time=copy.email.handed_off_at)
            copy.delete()
            filed += 1
    except (OSError, IMAPClientError) as error:
        text = f"Filing the Sent copy failed: {server_words(error)}"
        log.warning("mailbox %s: %s", mailbox.pk, text)
        SentCopy.objects.filter(pk__in=[c.pk for c in copies if c.pk]).update(
            attempts=F("attempts") + 1, error=text)
    finally:
        imap_logout(client)
    return filed
