"""Reaching a connected mailbox (its endpoints and fresh credentials) and pausing it when its
login stops working; used by sending and reading alike."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone

from .models import Mailbox
from .oauth import access_token_fresh
from .transport import Credentials, Endpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """Everything needed to reach and sign in to one mailbox."""

    imap: Endpoint
    smtp: Endpoint
    credentials: Credentials


def connection_of(mailbox: Mailbox) -> Connection:
    """How to reach and sign in to ``mailbox``; an OAuth2 mailbox's access token is refreshed
    first when it is about to expire (``MailboxError`` when the provider refuses)."""
    access_token = ""
    if mailbox.provider != Mailbox.Provider.PASSWORD:
        access_token = access_token_fresh(mailbox)
    return Connection(
        imap=Endpoint(mailbox.imap_host, mailbox.imap_port, mailbox.imap_security),
        smtp=Endpoint(mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security),
        credentials=Credentials(mailbox.username, mailbox.password, access_token))


def mailbox_pause(mailbox_id: int, reason: str) -> bool:
    """A login stopped working: stop sending and reading through the mailbox until the seller
    reconnects (retrying would only lock the account at the provider). Returns whether it was
    paused now."""
    paused = Mailbox.objects.filter(pk=mailbox_id, state=Mailbox.State.OK).update(
        state=Mailbox.State.PAUSED, paused_reason=reason, paused_at=timezone.now(),
        last_error=reason)
    if paused:
        log.warning("mailbox %s paused: %s", mailbox_id, reason)
    return bool(paused)
