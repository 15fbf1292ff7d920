"""Reading sellers' mailboxes for what became of the app's emails: replies, auto-replies and
delivery reports (beat, every ``mailbox_pass_interval_seconds``; ``manage.py sync``).

A pass over one mailbox, strictly read-only (EXAMINE, ``BODY.PEEK``: nothing is marked seen,
moved or deleted):

1. INBOX from the stored UIDVALIDITY and last UID (a first connection, or a new UIDVALIDITY,
   reads the last ``FIRST_WINDOW`` days);
2. headers first (``BODY.PEEK[HEADER.FIELDS (...)]``, ``CHUNK`` messages a FETCH); a message
   whose ``In-Reply-To`` / ``References`` names one of the app's Message-IDs, or that is a
   delivery report (or comes from a mailer daemon), has its body fetched too;
3. each one is classified — a delivery report (RFC 3464; other MTA formats through
   flufl.bounce) matched by the returned headers inside it: 5.x.x → ``bounced`` (hard: the
   address is unsubscribed, source bounce), 4.x.x or ``Action: delayed`` → ``soft_bounced``
   (the timeline only); an auto-reply (RFC 3834 ``Auto-Submitted``, ``X-Autoreply``,
   ``X-Autorespond``, ``Precedence: auto_reply``, the usual subjects) → ``auto_replied``; else
   a reply → ``replied`` with its first lines (quotes and signature cut by mail-parser-reply);
4. the events go through ``emails.events.events_apply`` (statuses, Marketo, unsubscribes, the
   campaigns' signal) in the transaction that moves the mailbox's last UID past the chunk.

An event's moment is the message's INTERNALDATE plus its UID in microseconds: stable however
often a message is read, so ``events_apply`` stores it once, and two messages never collide.
Mail that is not about the app's emails is left alone: nothing of it is stored.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from flufl.bounce import all_failures
from imapclient.exceptions import IMAPClientError
from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

from emails.events import EventIn, events_apply
from emails.models import EmailEvent, SalesEmail
from syncing.settings.selectors import sync_settings_get
from syncing.streams import stream_pass_record

from .connection import connection_of, mailbox_pause
from .models import Mailbox
from .outgoing import sent_copies_append
from .transport import MailboxError, imap_logout, imap_open, server_words

log = logging.getLogger(__name__)

PASS_LOG = "mailboxes"
FIRST_WINDOW = timedelta(days=7)
#: UIDs a FETCH asks for (headers are small: a chunk is well under a megabyte).
CHUNK = 1000
LEASE = timedelta(minutes=5)
HEADERS = ("Message-ID", "In-Reply-To", "References", "Subject", "From", "Content-Type",
           "Auto-Submitted", "X-Autoreply", "X-Autorespond", "Precedence")
HEADER_ITEM = f"BODY.PEEK[HEADER.FIELDS ({' '.join(h.upper() for h in HEADERS)})]"
BODY_ITEM = "BODY.PEEK[]"
SNIPPET_LINES, SNIPPET_CHARS = 5, 500

MESSAGE_ID = re.compile(r"<[^<>\s]+>")
AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?reply|auto(matic)? response|autoresponse|auto:"
    r"|out of (the )?office|ooo\b|abwesenheit|automatische antwort|réponse automatique"
    r"|absence|respuesta automática|fuera de la oficina|risposta automatica"
    r"|automatisch antwoord|afwezig)", re.IGNORECASE)
DAEMONS = ("mailer-daemon", "postmaster", "mail delivery")
_reply_parser = EmailReplyParser(languages=list(MAIL_LANGUAGES))


@dataclass
class PassReport:
    mailbox_id: int
    read: int = 0
    matched: int = 0
    replies: int = 0
    auto_replies: int = 0
    bounces: int = 0
    soft_bounces: int = 0
    commands: int = 0
    error: str = ""
    paused: bool = False

    def __str__(self) -> str:
        text = (f"mailbox {self.mailbox_id}: {self.read} read, {self.matched} about our emails "
                f"({self.replies} replies, {self.auto_replies} auto-replies, {self.bounces} "
                f"bounces, {self.soft_bounces} soft bounces), {self.commands} IMAP commands")
        if self.error:
            text += f"; {'paused' if self.paused else 'failed'}: {self.error}"
        return text


@dataclass
class _Found:
    email: SalesEmail
    kind: str
    detail: str = ""
    hard: bool = True


@dataclass
class _Chunk:
    read: int = 0
    events: list[EventIn] = field(default_factory=list)


# ------------------------------------------------------------------------------ scheduling

def _interval() -> timedelta:
    return timedelta(seconds=sync_settings_get().mailbox_pass_interval_seconds)


def mailboxes_due(now: datetime | None = None) -> list[int]:
    """Connected mailboxes whose last pass is older than the interval (and not leased)."""
    now = now or timezone.now()
    return list(Mailbox.objects.filter(state=Mailbox.State.OK)
                .filter(Q(last_pass_at__isnull=True) | Q(last_pass_at__lte=now - _interval()))
                .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
                .order_by("last_pass_at", "id").values_list("pk", flat=True))


def mailbox_passes_run(*, every: bool = False) -> list[PassReport]:
    """A pass over each due mailbox (``every``: each connected one, as ``manage.py sync``)."""
    ids = (list(Mailbox.objects.filter(state=Mailbox.State.OK).order_by("id")
                .values_list("pk", flat=True)) if every else mailboxes_due())
    return [report for report in map(mailbox_pass, ids) if report is not None]


# ------------------------------------------------------------------------------- the pass

def mailbox_pass(mailbox_id: int) -> PassReport | None:
    """One read-only pass over the mailbox's INBOX (None: another worker holds it, or it is
    paused). A refused login pauses the mailbox; other errors are kept for the next pass."""
    now = timezone.now()
    leased = Mailbox.objects.filter(pk=mailbox_id, state=Mailbox.State.OK).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)).update(lease_until=now + LEASE)
    if not leased:
        return None
    mailbox = Mailbox.objects.select_related("user").get(pk=mailbox_id)
    report = PassReport(mailbox_id)
    try:
        _read(mailbox, report)
    except MailboxError as error:
        report.error, report.paused = error.message, error.login_failed
        if error.login_failed:
            mailbox_pause(mailbox.pk, error.message)
    except (OSError, IMAPClientError) as error:
        report.error = f"The IMAP server failed: {server_words(error)}"
    finished = timezone.now()
    changes = {"lease_until": None, "last_pass_at": finished}
    if not report.error:
        changes |= {"last_success_at": finished, "last_error": ""}
    elif not report.paused:
        changes["last_error"] = report.error
    Mailbox.objects.filter(pk=mailbox.pk).update(**changes)
    if not report.error:
        # Copies a sending worker could not file (it died, or IMAP was down then).
        sent_copies_append(mailbox)
    stream_pass_record(PASS_LOG, now, rows=report.matched, error=report.error)
    return report


def _read(mailbox: Mailbox, report: PassReport) -> None:
    connection = connection_of(mailbox)
    client = imap_open(connection.imap, connection.credentials,
                       timeout=settings.MAILBOX_TIMEOUT)
    report.commands += 1  # the login
    try:
        client.normalise_times = False  # INTERNALDATE with its zone
        folder = client.select_folder("INBOX", readonly=True)  # EXAMINE
        report.commands += 1
        uidvalidity = int(folder[b"UIDVALIDITY"])
        uidnext = int(folder.get(b"UIDNEXT") or 0)
        last_uid = mailbox.last_uid if mailbox.uidvalidity == uidvalidity else 0
        if last_uid == 0:
            since = (timezone.now() - FIRST_WINDOW).date()
            uids = client.search(["SINCE", since])
            report.commands += 1
        elif uidnext and uidnext <= last_uid + 1:
            uids = []  # nothing new: no SEARCH
        else:
            uids = client.search(["UID", f"{last_uid + 1}:*"])
            report.commands += 1
        uids = sorted(uid for uid in uids if uid > last_uid)
        for start in range(0, len(uids), CHUNK):
            chunk = uids[start:start + CHUNK]
            found = _chunk_read(client, chunk, report)
            _chunk_record(mailbox, uidvalidity, chunk[-1], found, report)
        # Past everything seen (older mail outside a first window included).
        top = max([last_uid, *uids[-1:], uidnext - 1 if uidnext else 0])
        Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=uidvalidity, last_uid=top)
        mailbox.uidvalidity, mailbox.last_uid = uidvalidity, top
    finally:
        imap_logout(client)


def _header_block(data: dict) -> bytes:
    return next((value for key, value in data.items() if key.startswith(b"BODY[HEADER")), b"")


def _chunk_read(client, chunk: list[int], report: PassReport) -> _Chunk:
    """Classify one chunk of new messages: headers for all, bodies for the few that may be
    about the app's emails."""
    fetched = client.fetch(chunk, [HEADER_ITEM, "INTERNALDATE"])
    report.commands += 1
    report.read += len(chunk)
    headers = {uid: email.message_from_bytes(_header_block(data), policy=email.policy.compat32)
               for uid, data in fetched.items()}
    moments = {uid: _moment(data.get(b"INTERNALDATE"), uid) for uid, data in fetched.items()}
    referenced = {uid: _ours(_ids(h.get("In-Reply-To", "")) + _ids(h.get("References", "")))
                  for uid, h in headers.items()}
    reports = {uid for uid, h in headers.items() if _maybe_report(h)}
    emails = _emails({mid for ids in referenced.values() for mid in ids})
    wanted = sorted(uid for uid in headers
                    if uid in reports or (any(m in emails for m in referenced[uid])
                                          and not _auto_reply(headers[uid])))
    bodies = {}
    if wanted:
        bodies = {uid: email.message_from_bytes(data.get(b"BODY[]", b""),
                                                policy=email.policy.compat32)
                  for uid, data in client.fetch(wanted, [BODY_ITEM]).items()}
        report.commands += 1
    result = _Chunk(read=len(chunk))
    if reports:
        inner = {uid: _returned_ids(bodies[uid]) for uid in reports if uid in bodies}
        emails |= _emails({mid for ids in inner.values() for mid in ids} - set(emails))
    for uid, message_headers in headers.items():
        found = _classify(message_headers, bodies.get(uid), referenced[uid], emails,
                          uid in reports)
        if found is None:
            continue
        result.events.append(EventIn(email=found.email, kind=found.kind, at=moments[uid],
                                     source=EmailEvent.Source.MAILBOX, detail=found.detail,
                                     hard=found.hard))
    return result


def _chunk_record(mailbox: Mailbox, uidvalidity: int, last_uid: int, found: _Chunk,
                  report: PassReport) -> None:
    """The chunk's events and the mailbox's place, in one transaction: a crash re-reads the
    chunk, and its events are not stored twice (same email, kind and moment)."""
    with transaction.atomic():
        applied = events_apply(found.events)
        counts = Counter(row.kind for row in applied.created)
        Kind = EmailEvent.Kind
        Mailbox.objects.filter(pk=mailbox.pk).update(
            uidvalidity=uidvalidity, last_uid=last_uid,
            messages_read=F("messages_read") + found.read,
            messages_matched=F("messages_matched") + len(applied.created),
            replies=F("replies") + counts[Kind.REPLIED],
            auto_replies=F("auto_replies") + counts[Kind.AUTO_REPLIED],
            bounces=F("bounces") + counts[Kind.BOUNCED] + counts[Kind.SOFT_BOUNCED])
    report.matched += len(applied.created)
    report.replies += counts[Kind.REPLIED]
    report.auto_replies += counts[Kind.AUTO_REPLIED]
    report.bounces += counts[Kind.BOUNCED]
    report.soft_bounces += counts[Kind.SOFT_BOUNCED]


# ------------------------------------------------------------------------- classifying

def _ids(text: str) -> list[str]:
    return MESSAGE_ID.findall(text or "")


def _ours(ids: list[str]) -> list[str]:
    """The Message-IDs the app could have assigned (its domain), in order."""
    suffix = f"@{settings.EMAIL_MESSAGE_ID_DOMAIN}>".lower()
    return [mid for mid in ids if mid.lower().endswith(suffix)]


def _emails(message_ids: set[str]) -> dict[str, SalesEmail]:
    if not message_ids:
        return {}
    return {found.message_id: found for found in SalesEmail.objects.select_related(
        "person", "sender").filter(message_id__in=message_ids)}


def _maybe_report(headers: Message) -> bool:
    """A delivery report, or a bounce from a mailer daemon in another format."""
    content_type = headers.get("Content-Type", "").lower()
    sender = headers.get("From", "").lower()
    return "multipart/report" in content_type or any(name in sender for name in DAEMONS)


def _auto_reply(headers: Message) -> bool:
    """RFC 3834 and the usual vendor headers and subjects."""
    submitted = headers.get("Auto-Submitted", "").strip().lower()
    if submitted and not submitted.startswith("no"):
        return True
    if headers.get("X-Autoreply") or headers.get("X-Autorespond"):
        return True
    if headers.get("Precedence", "").strip().lower() == "auto_reply":
        return True
    return bool(AUTO_SUBJECT.match(str(headers.get("Subject", ""))))


def _returned_ids(report: Message) -> list[str]:
    """The app's Message-IDs in a report's returned message (or its headers)."""
    found = []
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            for inner in part.get_payload() or []:
                found += _ids(inner.get("Message-ID", ""))
        elif kind == "text/rfc822-headers":
            returned = email.message_from_string(_text(part), policy=email.policy.compat32)
            found += _ids(returned.get("Message-ID", ""))
    return _ours(found)


def _dsn(report: Message) -> tuple[str, str] | None:
    """(``hard``|``soft``, the details) from an RFC 3464 report, or None when it is not one
    or reports no failure (a delivery notice)."""
    if report.get_content_type() != "multipart/report" or (
            report.get_param("report-type") or "").lower() != "delivery-status":
        return None
    hard, soft = [], []
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in (part.get_payload() or [])[1:]:  # the per-recipient fields
            status = (block.get("Status") or "").strip()
            action = (block.get("Action") or "").strip().lower()
            recipient = (block.get("Final-Recipient") or block.get("Original-Recipient")
                         or "").split(";")[-1].strip()
            diagnostic = " ".join((block.get("Diagnostic-Code") or "").split(";")[-1].split())
            line = " ".join(x for x in (recipient, status, diagnostic) if x)
            if status.startswith("5") or (action == "failed" and not status.startswith("4")):
                hard.append(line)
            elif status.startswith("4") or action == "delayed":
                soft.append(line)
    if hard:
        return "hard", "; ".join(hard)
    if soft:
        return "soft", "; ".join(soft)
    return None


def _bounce(report: Message, to_email: str) -> tuple[str, str] | None:
    """What a report says of ``to_email``: RFC 3464 first, else the MTA formats GNU
    Mailman's detectors know (flufl.bounce)."""
    found = _dsn(report)
    if found is not None:
        return found
    temporary, permanent = all_failures(report)
    address = to_email.lower().encode()
    if address in {a.lower() for a in permanent}:
        return "hard", f"{to_email}: permanent failure"
    if address in {a.lower() for a in temporary}:
        return "soft", f"{to_email}: temporary failure"
    return None


def _classify(headers: Message, body: Message | None, referenced: list[str],
              emails: dict[str, SalesEmail], is_report: bool) -> _Found | None:
    Kind = EmailEvent.Kind
    if is_report:
        if body is None:
            return None
        target = next((emails[m] for m in _returned_ids(body) if m in emails), None)
        target = target or next((emails[m] for m in referenced if m in emails), None)
        if target is None:
            return None  # a report about mail the app did not send
        bounce = _bounce(body, target.to_email)
        if bounce is None:
            return None
        severity, detail = bounce
        return _Found(target, Kind.BOUNCED if severity == "hard" else Kind.SOFT_BOUNCED,
                      detail, hard=severity == "hard")
    target = next((emails[m] for m in reversed(referenced) if m in emails), None)
    if target is None:
        return None
    if _auto_reply(headers):
        return _Found(target, Kind.AUTO_REPLIED, _header_text(headers.get("Subject", "")))
    return _Found(target, Kind.REPLIED, _snippet(body) if body is not None else "")


# ---------------------------------------------------------------------------- the text

def _header_text(value) -> str:
    return str(email.header.make_header(email.header.decode_header(str(value or ""))))


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    return payload.decode(part.get_content_charset() or "utf-8", "replace")


def _snippet(message: Message) -> str:
    """The reply's first lines, without the quoted email and the signature."""
    plain = html = ""
    for part in message.walk():
        if part.get_content_maintype() == "multipart" or part.get_filename():
            continue
        if part.get_content_type() == "text/plain" and not plain:
            plain = _text(part)
        elif part.get_content_type() == "text/html" and not html:
            html = _text(part)
    text = plain or re.sub(r"<[^>]+>", " ", re.sub(r"(?i)<br\s*/?>|</p>", "\n", html))
    text = text.replace("\r\n", "\n")
    try:
        replies = _reply_parser.read(text).replies
        text = replies[0].body if replies else text
    except Exception:  # noqa: BLE001 - an odd body: the raw first lines will do
        log.debug("reply parsing failed", exc_info=True)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:SNIPPET_LINES])[:SNIPPET_CHARS]


def _moment(internaldate, uid: int) -> datetime:
    """INTERNALDATE to the second, plus the UID in microseconds (see the module docstring)."""
    if not isinstance(internaldate, datetime):
        internaldate = timezone.now().replace(microsecond=0)
    if internaldate.tzinfo is None:
        internaldate = internaldate.replace(tzinfo=UTC)
    return internaldate.replace(microsecond=0) + timedelta(microseconds=uid % 1_000_000)
