"""Sending queued sales emails: the worker (beat's tick enqueues it) and ``manage.py sync``.

One pass claims due emails in batches (``EMAIL_SEND_BATCH``): ``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so workers share the queue; on SQLite the claim runs in an IMMEDIATE
transaction (one writer at a time), which is as safe. For each batch:

1. Unsubscribes are checked again for the whole batch at once (``send_verdicts``: app
   suppression, then Marketo, 300 addresses a call): blocked → ``failed`` with the reason;
   Marketo cannot answer → ``held`` and checked again later; never sent unchecked.
2. One connection to the email backend (``EMAIL_URL``, or anymail) for the batch — and one
   to each seller's own mailbox for their emails (``mailboxes.outgoing``; a paused mailbox's
   emails are not claimed, and a refused login pauses it and queues them again). Before a
   message is handed to it, ``handed_off_at`` is set and committed (for a group of
   ``HAND_OFF_GROUP`` at a time; the Message-ID was stored when the email was queued).
3. A transient error (SMTP 4xx, connection refused or dropped, an ESP's 5xx) clears
   ``handed_off_at`` and queues the email again with backoff (``EMAIL_RETRY_BASE_SECONDS``,
   doubling, ``EMAIL_MAX_ATTEMPTS``); a permanent one (SMTP 5xx) fails it with the server's
   text. Sent emails, their ``sent`` events and their outbox deliveries (Salesforce Task,
   Marketo "Send Sales Email") are written in one transaction every ``RECORD_EVERY``
   outcomes and at the end of the batch.

Crash rule: an email whose claim expired with ``handed_off_at`` set and no outcome may have
left (the worker died between handing it off and recording the answer). It is never sent
again: it is marked ``failed`` with ``UNKNOWN_OUTCOME`` as its error, so the seller can look
and send it again by hand if it did not arrive. An email whose claim expired before it was
handed off is simply sent by the next pass.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation

from analytics.rollups import rollups_recount, slices
from mailboxes.models import Mailbox, SentCopy
from mailboxes.outgoing import Route, routes_for, sent_copies_append, sent_copies_build
from mailboxes.transport import MailboxError
from people.models import Person
from syncing.email.senders import KIND as EMAIL_KIND
from syncing.models import SyncStream
from syncing.outbox.queue import deliveries_build, deliveries_save
from syncing.outbox.skips import person_skip_rules
from syncing.queueing import backlog_helper_enqueue, task_named
from syncing.settings.selectors import (
    sync_settings_get,
)
from syncing.streams import stream_get, stream_pass_record
from unsubscribes.selectors import people_with_unsubscribed
from unsubscribes.send_check import SendVerdict, send_verdicts

from .message import build_message, options_from
from .models import EmailEvent, SalesEmail
from .signals import email_status_changed

log = logging.getLogger(__name__)


def seller_language(seller) -> str:
    """The language of the system text in a seller's email (its unsubscribe footer): the one
    the seller chose, else the install's default. The seller's own text is never translated."""
    return getattr(seller, "language", "") or settings.LANGUAGE_CODE


Status = SalesEmail.Status
SEND_TASK = "emails.tasks.emails_send_task"
#: Emails marked handed off (one committed statement) before the group is sent.
HAND_OFF_GROUP = 10
#: Outcomes are recorded once this many messages of a batch have an outcome (and at its
#: end): a worker that dies leaves at most RECORD_EVERY + HAND_OFF_GROUP emails with an
#: unknown outcome.
RECORD_EVERY = 20

UNKNOWN_OUTCOME = ("Outcome unknown: the sending worker stopped after handing this email to "
                   "the mail server and before recording its answer. It may have been sent, "
                   "so it is not sent again automatically.")
SKIP_SALESFORCE_OFF = "Logging emails to Salesforce is switched off on Settings."


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    held: int = 0
    blocked: int = 0
    unknown: int = 0

    def __str__(self) -> str:
        return (f"emails: {self.sent} sent, {self.failed} failed, {self.retried} to retry, "
                f"{self.held} held, {self.blocked} blocked, {self.unknown} outcome unknown "
                f"({self.claimed} claimed)")


# ----------------------------------------------------------------------------- enqueueing

def _soon_key() -> str:
    # Per database: test runs and benchmarks on one machine share the file cache.
    return f"emails-send-soon:{db_connection.settings_dict['NAME']}"


def emails_send_soon(countdown: float = 0.5) -> None:
    """Enqueue a send unless one is waiting to start. Never raises: with the broker down the
    emails stay queued and beat's tick (or ``manage.py sync``) sends them."""
    key = _soon_key()
    try:
        if not cache.add(key, 1, timeout=60):
            return
    except Exception:
        log.warning("cache unavailable; enqueueing the email send anyway", exc_info=True)
    try:
        task_named(SEND_TASK).apply_async(countdown=countdown or None, retry=False)
    except Exception:
        log.warning("could not enqueue the email send; beat's tick will", exc_info=True)
        try:
            cache.delete(key)
        except Exception:
            log.debug("cache unavailable", exc_info=True)


def _due(now: datetime) -> Q:
    # A seller whose mailbox is paused (its login stopped working) sends nothing until they
    # reconnect it.
    return ((Q(status__in=[Status.QUEUED, Status.HELD], next_attempt_at__lte=now)
             | Q(status=Status.SENDING, claimed_until__lt=now))
            & ~Q(sender_id__in=Mailbox.objects.filter(state=Mailbox.State.PAUSED)
                 .values("user_id")))


def emails_due(now: datetime | None = None) -> bool:
    """Is there an email to send, re-check or settle (beat's tick asks every few seconds)?"""
    return SalesEmail.objects.filter(_due(now or timezone.now())).exists()


# ------------------------------------------------------------------------------ claiming

def _settle_unknown(now: datetime, report: SendReport) -> None:
    """Emails a dead worker handed off without recording the answer: failed, never resent."""
    ids = list(SalesEmail.objects.filter(status=Status.SENDING, claimed_until__lt=now,
                                         handed_off_at__isnull=False)
               .values_list("pk", flat=True)[:1000])
    if not ids:
        return
    with transaction.atomic():
        settled = list(SalesEmail.objects.filter(
            pk__in=ids, status=Status.SENDING, claimed_until__lt=now))
        SalesEmail.objects.filter(pk__in=[e.pk for e in settled]).update(
            status=Status.FAILED, error=UNKNOWN_OUTCOME, claim_token="", claimed_until=None)
        EmailEvent.objects.bulk_create([
            EmailEvent(email=email, kind=EmailEvent.Kind.FAILED, at=now, detail=UNKNOWN_OUTCOME)
            for email in settled])
        _signal_after_commit(settled, Status.FAILED)
    report.unknown += len(settled)


def _claim(now: datetime, limit: int) -> tuple[str, list[int]]:
    token = uuid.uuid4().hex
    with transaction.atomic():
        due = SalesEmail.objects.filter(_due(now)).filter(handed_off_at__isnull=True)
        if db_connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
        if ids:
            SalesEmail.objects.filter(pk__in=ids).update(
                status=Status.SENDING, claim_token=token,
                claimed_until=now + timedelta(seconds=settings.EMAIL_CLAIM_SECONDS))
    return token, ids


# ------------------------------------------------------------------------------- sending

def emails_send_due(*, now: datetime | None = None, until_empty: bool = True,
                    batch_size: int | None = None) -> SendReport:
    """Send every due email (one batch unless ``until_empty``); returns what became of them."""
    try:
        cache.delete(_soon_key())
    except Exception:
        log.debug("cache unavailable", exc_info=True)
    report = SendReport()
    started = timezone.now()
    limit = batch_size or settings.EMAIL_SEND_BATCH
    error = ""
    while True:
        moment = now or timezone.now()
        _settle_unknown(moment, report)
        token, ids = _claim(moment, limit)
        if not ids:
            break
        report.claimed += len(ids)
        if len(ids) == limit:
            # A backlog: another worker (if one is idle) takes the next batch meanwhile, and
            # so on, so N workers send N batches at once.
            backlog_helper_enqueue(SEND_TASK)
        error = _send_batch(token, ids, report, moment) or error
        if not until_empty:
            break
    if report.claimed or report.unknown:
        _stream_record(report, error, started)
    return report


def _send_batch(token: str, ids: list[int], report: SendReport, now: datetime) -> str:
    """Send one claimed batch; returns the last error text ("" when none). ``now`` is the
    pass's clock: holds and retries are due from it."""
    emails = list(SalesEmail.objects.filter(pk__in=ids, claim_token=token)
                  .select_related("person", "sender", "template").order_by("id"))
    verdicts = send_verdicts(email.to_email for email in emails)
    unsubscribed = set(people_with_unsubscribed(
        Person.objects.filter(pk__in={email.person_id for email in emails}))
        .filter(unsubscribed=True).values_list("pk", flat=True))
    allowed, blocked, held = [], [], []
    for email in emails:
        verdict = verdicts[email.to_email]
        if email.person_id in unsubscribed:
            verdict = SendVerdict.block("Unsubscribed in the app.")
        if verdict.status == SendVerdict.ALLOWED:
            allowed.append(email)
        elif verdict.status == SendVerdict.BLOCKED:
            blocked.append((email, verdict.reason))
        else:
            held.append((email, verdict))
    _record_checks(token, blocked, held, now)
    report.blocked += len(blocked)
    report.held += len(held)
    if not allowed:
        return ""
    options = options_from(sync_settings_get())
    skipped = _skip_rules()
    last_error = ""
    for route, group in routes_for(allowed):
        last_error = _send_route(route, group, token, report, now, options, skipped) or last_error
    return last_error


def _send_route(route: Route | None, allowed: list[SalesEmail], token: str, report: SendReport,
                now: datetime, options, skipped) -> str:
    """Send checked emails through one connection: the seller's own mailbox (``route``) or
    ``EMAIL_URL`` (None). A mailbox whose login is refused is paused and its emails wait,
    queued, with no attempt counted, until the seller reconnects."""
    sent, retry, failed, waiting = [], [], [], []
    raw_of: dict[int, bytes] = {}
    last_error = ""
    if route is not None:
        options = replace(options, from_address=route.address)

    def record():
        # Outcomes are written every RECORD_EVERY messages, so a crash leaves few unknown.
        copies = sent_copies_build(route, sent, raw_of)
        _record_outcomes(token, sent, retry, failed, now, skipped, waiting, copies)
        gave_up = sum(1 for email, _ in retry if email.status == Status.FAILED)
        report.sent += len(sent)
        report.failed += len(failed) + gave_up
        report.retried += len(retry) - gave_up + len(waiting)
        for outcomes in (sent, retry, failed, waiting):
            outcomes.clear()

    def refused(error: Exception, emails) -> bool:
        # The seller's mailbox refused the login: pause it, and the emails wait for it.
        if route is None or not route.login_refused(error):
            return False
        text = error.message if isinstance(error, MailboxError) else _error_text(error)
        waiting.extend((email, f"Waiting for the mailbox: {text}") for email in emails)
        return True

    try:
        backend = route.backend() if route is not None else get_connection(fail_silently=False)
    except MailboxError as error:  # the mailbox's OAuth2 token could not be refreshed
        last_error = error.message
        if not refused(error, allowed):
            retry.extend((email, last_error) for email in allowed)
        record()
        return last_error
    opened = False
    pending = list(allowed)
    while pending:
        group, pending = pending[:HAND_OFF_GROUP], pending[HAND_OFF_GROUP:]
        messages = []
        for email in group:
            try:
                with translation.override(seller_language(email.sender)):
                    messages.append((email, build_message(email, options, connection=backend)))
            except Exception as error:  # noqa: BLE001 - a bad address: this email fails alone
                failed.append((email, f"The message could not be built: {error}"))
        if not opened and messages:
            try:
                backend.open()
                opened = True
            except Exception as error:  # noqa: BLE001 - connection refused, TLS, auth ...
                last_error = _error_text(error)
                unsent = [email for email, _ in messages] + pending
                if not refused(error, unsent):
                    retry.extend((email, last_error) for email in unsent)
                break
        # Committed before any of them is handed to the backend (one statement a group).
        handed_off_at = timezone.now()
        ours = _hand_off([email.pk for email, _ in messages], token, handed_off_at)
        for position, (email, message) in enumerate(messages):
            if email.pk not in ours:
                continue  # the claim was taken over (this worker was too slow): leave it
            email.handed_off_at = handed_off_at
            if not opened:  # the connection broke on an earlier message of the group
                try:
                    backend.open()
                    opened = True
                except Exception as error:  # noqa: BLE001
                    last_error = _error_text(error)
                    if refused(error, [e for e, _ in messages[position:] if e.pk in ours]
                               + pending):
                        pending = []
                        break
                    retry.append((email, last_error))
                    continue
            try:
                backend.send_messages([message])
            except Exception as error:  # noqa: BLE001 - classified below
                last_error = _error_text(error)
                if _is_transient(error):
                    retry.append((email, last_error))
                else:
                    failed.append((email, last_error))
                if _connection_broken(error):
                    _close(backend)
                    opened = False
                continue
            provider_id = getattr(getattr(message, "anymail_status", None), "message_id", None)
            if provider_id not in (None, ""):
                email.provider_message_id = str(provider_id)[:255]
            if getattr(message, "sent_bytes", None) is not None:
                raw_of[email.pk] = message.sent_bytes
            sent.append(email)
        if len(sent) + len(retry) + len(failed) >= RECORD_EVERY:
            record()
    if opened:
        _close(backend)
    record()
    if route is not None:
        sent_copies_append(route.mailbox)
    return last_error


def _hand_off(pks: list[int], token: str, moment: datetime) -> set[int]:
    """Mark (committed: autocommit) the emails about to be handed to the backend, of those
    this worker still holds; returns their ids."""
    if not pks:
        return set()
    marked = SalesEmail.objects.filter(pk__in=pks, claim_token=token,
                                       status=Status.SENDING).update(handed_off_at=moment)
    if marked == len(pks):
        return set(pks)
    return set(SalesEmail.objects.filter(pk__in=pks, claim_token=token, handed_off_at=moment)
               .values_list("pk", flat=True))


def _close(backend) -> None:
    try:
        backend.close()
    except Exception:  # noqa: BLE001 - the connection is gone either way
        log.debug("closing the email connection failed", exc_info=True)


def _error_text(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{address}: {code} {_decode(text)}"
                         for address, (code, text) in error.recipients.items())
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_decode(error.smtp_error)}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _decode(text) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _is_transient(error: Exception) -> bool:
    """Worth trying again later: SMTP 4xx, a dropped or refused connection, a timeout, an
    ESP that answered 429 or 5xx or not at all. Anything else (SMTP 5xx) is permanent."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500 or error.smtp_code == -1
    if isinstance(error, smtplib.SMTPServerDisconnected | OSError | socket.timeout):
        return True
    status = getattr(getattr(error, "response", None), "status_code", None)
    if type(error).__module__.startswith("anymail"):
        return status is None or status == 429 or status >= 500
    return False


def _connection_broken(error: Exception) -> bool:
    """After this error the connection cannot carry the next message (the server answered
    a 4xx/5xx to one message and reset: it can)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return False
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code in (421, -1)
    return True


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=settings.EMAIL_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))


# ------------------------------------------------------------------------------ recording

def _record_checks(token: str, blocked, held, now: datetime) -> None:
    if not (blocked or held):
        return
    with transaction.atomic():
        events = []
        for email, reason in blocked:
            email.status, email.error = Status.FAILED, f"Not sent: {reason}"
            email.claim_token, email.claimed_until, email.updated_at = "", None, now
            events.append(EmailEvent(email=email, kind=EmailEvent.Kind.FAILED, at=now,
                                     detail=email.error))
        for email, verdict in held:
            if email.hold_reason != verdict.reason:
                events.append(EmailEvent(email=email, kind=EmailEvent.Kind.HELD, at=now,
                                         detail=verdict.reason))
            email.status, email.hold_reason = Status.HELD, verdict.reason
            email.next_attempt_at = now + timedelta(seconds=verdict.retry_after or 300)
            email.claim_token, email.claimed_until, email.updated_at = "", None, now
        SalesEmail.objects.bulk_update(
            [email for email, _ in [*blocked, *held]],
            ["status", "error", "hold_reason", "next_attempt_at", "claim_token",
             "claimed_until", "updated_at"])
        EmailEvent.objects.bulk_create(events)
        _signal_after_commit([email for email, _ in blocked], Status.FAILED)


def _record_outcomes(token: str, sent, retry, failed, now: datetime, skipped, waiting=(),
                     copies=()) -> None:
    """Write what became of the emails handed off since the last record, in one transaction:
    sent ones with their events, outbox deliveries (``skipped``: the batch's skip rules) and
    Sent copies (``copies``); ``waiting`` ones (their mailbox is paused) queued again with no
    attempt counted."""
    events = []
    changed = []
    for email in sent:
        email.status, email.error, email.hold_reason = Status.SENT, "", ""
        email.attempts += 1
        email.sent_at = email.handed_off_at  # the server took it within that moment
        events.append(EmailEvent(email=email, kind=EmailEvent.Kind.SENT, at=email.sent_at))
    for email, text in failed:
        email.status, email.error = Status.FAILED, text
        email.attempts += 1
        events.append(EmailEvent(email=email, kind=EmailEvent.Kind.FAILED, at=now, detail=text))
        changed.append(email)
    for email, text in retry:
        email.attempts += 1
        email.error, email.handed_off_at = text, None
        if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
            email.status = Status.FAILED
            email.error = f"Gave up after {email.attempts} attempts: {text}"
            events.append(EmailEvent(email=email, kind=EmailEvent.Kind.FAILED, at=now,
                                     detail=email.error))
        else:
            email.status = Status.QUEUED
            email.next_attempt_at = now + _backoff(email.attempts)
        changed.append(email)
    for email, text in waiting:
        email.status, email.error, email.handed_off_at = Status.QUEUED, text, None
        email.next_attempt_at = now
        changed.append(email)
    for email in [*sent, *changed]:
        email.claim_token, email.claimed_until, email.updated_at = "", None, now
    if not (sent or changed):
        return
    with transaction.atomic():
        if sent:
            # One statement for all of them: what differs (sent_at) is already in the row.
            # The status only moves from "sending": a provider event (delivered, opened) that
            # landed between the hand-off and this write is further along and stays.
            sent_pks = [email.pk for email in sent]
            SalesEmail.objects.filter(pk__in=sent_pks, status=Status.SENDING).update(
                status=Status.SENT)
            SalesEmail.objects.filter(pk__in=sent_pks).update(
                error="", hold_reason="", attempts=F("attempts") + 1,
                sent_at=F("handed_off_at"), claim_token="", claimed_until=None, updated_at=now)
        with_provider_ids = [email for email in sent if email.provider_message_id]
        if with_provider_ids:  # sent through an ESP (anymail)
            SalesEmail.objects.bulk_update(with_provider_ids, ["provider_message_id"])
        if changed:
            SalesEmail.objects.bulk_update(
                changed, ["status", "error", "hold_reason", "attempts", "next_attempt_at",
                          "handed_off_at", "claim_token", "claimed_until", "updated_at"])
        EmailEvent.objects.bulk_create(events, batch_size=1000)
        if copies:
            SentCopy.objects.bulk_create(copies)
        if sent:
            deliveries_save([delivery for email in sent for delivery in deliveries_build(
                kind=EMAIL_KIND, record=email, skipped=skipped(email.person))])
            # Last, after every email row this writes (the sellers' locks come after the
            # emails', as in events_apply): the analytics count them in their hour.
            rollups_recount(emails=slices((email.sent_at, email.sender_id) for email in sent))
        _signal_after_commit(sent, Status.SENT)
        _signal_after_commit([e for e in changed if e.status == Status.FAILED], Status.FAILED)


def _skip_rules():
    """Why a sent email is not logged to a target: a function of the person."""
    return person_skip_rules(salesforce_switch="log_emails_to_salesforce",
                             salesforce_off=SKIP_SALESFORCE_OFF)


def _signal_after_commit(emails, status: str) -> None:
    emails = list(emails)
    if not emails or not email_status_changed.receivers:
        return

    def send():
        for email in emails:
            email_status_changed.send(sender=SalesEmail, email=email, status=status)

    transaction.on_commit(send)


def _stream_record(report: SendReport, error: str, started: datetime) -> None:
    """The ``email_sending`` stream's state and this pass's row, for Sync health."""
    now = timezone.now()
    stream_pass_record(SyncStream.Name.EMAIL_SENDING, started, rows=report.sent,
                       error=error if error and not report.sent else "")
    stream = stream_get(SyncStream.Name.EMAIL_SENDING)
    failing = bool(error) and not report.sent
    SyncStream.objects.filter(pk=stream.pk).update(
        last_attempt_at=now,
        status=SyncStream.Status.FAILING if failing else SyncStream.Status.HEALTHY,
        last_error=error if error else stream.last_error if failing else "",
        last_success_at=now if report.sent else stream.last_success_at,
        consecutive_failures=stream.consecutive_failures + 1 if failing else 0)
