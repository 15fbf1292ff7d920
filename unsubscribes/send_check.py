""""May we email this address?" — asked by sales email and campaigns before every send.

App suppression first (``selectors.addresses_suppressed``). Then, with the admin's
``marketo_unsubscribe_check`` on, Marketo is asked whether the address is unsubscribed there
(``leads.json?filterType=email&fields=unsubscribed``, up to 300 addresses a call, answers cached
briefly). When Marketo cannot answer (down, quota, not connected) the verdict is "hold": the
send waits and is checked again, never sent unchecked. The app never writes to Marketo here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

from django.core.cache import cache
from django.utils.translation import gettext_noop

from people.models import Person
from salesactions.caching import cache_set_many
from syncing.clients.transport import TransportError
from syncing.settings.selectors import marketo_connection_get, sync_settings_get
from syncing.settings.services import client_kept

from .selectors import addresses_suppressed, people_with_unsubscribed

log = logging.getLogger(__name__)

#: Addresses per leads.json call (Marketo's filterValues limit).
MARKETO_BATCH = 300
#: How long Marketo's answer about an address is trusted.
MARKETO_CACHE_SECONDS = 60
#: When a held send should be checked again.
HOLD_RETRY_SECONDS = 300


@dataclass(frozen=True)
class SendVerdict:
    """``allowed``, ``blocked`` (never send; ``reason`` says why) or ``hold`` (not yet:
    Marketo could not answer; check again after ``retry_after`` seconds)."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    HOLD = "hold"

    status: str
    reason: str = ""
    retry_after: int | None = None

    @property
    def allowed(self) -> bool:
        return self.status == self.ALLOWED

    @classmethod
    def allow(cls) -> SendVerdict:
        return cls(cls.ALLOWED)

    @classmethod
    def block(cls, reason: str) -> SendVerdict:
        return cls(cls.BLOCKED, reason)

    @classmethod
    def hold(cls, reason: str) -> SendVerdict:
        return cls(cls.HOLD, reason, HOLD_RETRY_SECONDS)


# Stored as they are (a failed email's error); marked so a refusal read at once can translate them.
NO_ADDRESS = gettext_noop("There is no email address.")
UNSUBSCRIBED_HERE = gettext_noop("Unsubscribed in the app.")
UNSUBSCRIBED_IN_MARKETO = gettext_noop("The address is unsubscribed in Marketo.")


def person_send_verdicts(people: Iterable[Person], *, within: float | None = None,
                         suppressed: set[str] | None = None) -> dict[int, SendVerdict]:
    """A verdict for each person (by id) at their current address: blocked while the person
    has an unsubscribe in force even if Marketo has since changed their address. ``within``,
    ``suppressed``: see ``send_verdicts``."""
    return person_send_verdicts_begin(people, within=within, suppressed=suppressed)()


def person_send_verdicts_begin(people: Iterable[Person], *, within: float | None = None,
                               suppressed: set[str] | None = None, background: bool = False
                               ) -> Callable[[], dict[int, SendVerdict]]:
    """``person_send_verdicts`` in two halves: the database and the cache are read now, and
    the returned callable gives the verdicts (the same every call). With ``background``,
    Marketo is asked meanwhile in this process's checking thread, so the caller can do other
    work while Marketo answers (a campaign batch builds its emails and ends its memberships:
    with four workers on two cores, all four waiting at once left the cores idle). The
    thread never touches the database (the caller's transaction stays in the caller's
    thread) and caches the answers through the caller (the client counts its calls in the
    cache, as from any thread); an error there is raised by the callable, as
    ``person_send_verdicts`` raises it."""
    people = list(people)
    unsubscribed = set(people_with_unsubscribed(Person.objects.filter(
        pk__in=[person.pk for person in people])).filter(unsubscribed=True)
        .values_list("pk", flat=True))
    by_address = send_verdicts_begin((person.email for person in people
                                      if person.pk not in unsubscribed), within=within,
                                     suppressed=suppressed, background=background)

    def verdicts() -> dict[int, SendVerdict]:
        answers = by_address()
        return {person.pk: SendVerdict.block(UNSUBSCRIBED_HERE) if person.pk in unsubscribed
                else answers[person.email] for person in people}
    return verdicts


def send_verdict(email: str) -> SendVerdict:
    """Whether a sales email may go to ``email`` now."""
    return send_verdicts([email])[email]


def send_verdicts(emails: Iterable[str], *, within: float | None = None,
                  suppressed: set[str] | None = None) -> dict[str, SendVerdict]:
    """A verdict for each of ``emails`` (a bulk send asks once for all of them).

    ``within``: seconds Marketo's part may take all told (someone is waiting on the answer);
    what Marketo cannot say by then is "hold" — the email waits and is checked again — never
    a long wait on a rate limit inside a web request.

    ``suppressed``: the caller's own ``addresses_suppressed`` answer for these addresses (or
    more), read in its transaction, so that app suppression is not read twice (a campaign
    batch reads it to end unsubscribed members); ``None``: read here."""
    return send_verdicts_begin(emails, within=within, suppressed=suppressed)()


def send_verdicts_begin(emails: Iterable[str], *, within: float | None = None,
                        suppressed: set[str] | None = None, background: bool = False
                        ) -> Callable[[], dict[str, SendVerdict]]:
    """``send_verdicts`` in two halves (see ``person_send_verdicts_begin``)."""
    emails = list(dict.fromkeys(emails))
    verdicts: dict[str, SendVerdict] = {}
    for email in emails:
        if not (email or "").strip() or "@" not in email:
            verdicts[email] = SendVerdict.block(NO_ADDRESS)
    if suppressed is None:
        suppressed = addresses_suppressed(e for e in emails if e not in verdicts)
    for email in emails:
        if email not in verdicts and email in suppressed:
            verdicts[email] = SendVerdict.block(UNSUBSCRIBED_HERE)
    pending = [email for email in emails if email not in verdicts]
    if not pending or not sync_settings_get().marketo_unsubscribe_check:
        return _answered(verdicts | dict.fromkeys(pending, SendVerdict.allow()))
    marketo = _marketo_verdicts_begin(pending, within, background)
    return lambda: verdicts | marketo()  # Marketo's half runs once (``_once``)


def _answered(verdicts: dict) -> Callable[[], dict]:
    return lambda: dict(verdicts)


def _once(answer: Callable[[], dict]) -> Callable[[], dict]:
    """``answer`` run on the first call only; later calls give its result (or its error)."""
    kept: list = []

    def once() -> dict:
        if not kept:
            try:
                kept.append((answer(), None))
            except Exception as error:
                kept.append((None, error))
        result, error = kept[0]
        if error is not None:
            raise error
        return dict(result)
    return once


def _marketo_verdicts_begin(emails: list[str], within: float | None, background: bool
                            ) -> Callable[[], dict[str, SendVerdict]]:
    connection = marketo_connection_get()
    if not connection.is_configured:
        return _answered(dict.fromkeys(emails, SendVerdict.hold(
            "Marketo is not connected, so its unsubscribes cannot be checked.")))
    keys = {email: _cache_key(connection.base_url, email) for email in emails}
    try:
        cached = cache.get_many(list(keys.values()))
    except Exception:  # noqa: BLE001 - the cache is an optimisation; Marketo answers
        log.warning("cache unavailable for the Marketo unsubscribe check", exc_info=True)
        cached = {}
    verdicts: dict[str, SendVerdict] = {}
    unknown = []
    for email in emails:
        if keys[email] in cached:
            verdicts[email] = _verdict(cached[keys[email]])
        else:
            unknown.append(email)
    if not unknown:
        return _answered(verdicts)
    # One quick retry inside the client, then "hold"; with a deadline, nothing waits past it.
    # The process's kept client: its token serves every check (a new one asks for a token).
    client = client_kept(connection, timeout=15, max_attempts=2)

    def ask() -> tuple[dict[str, bool], dict[str, SendVerdict]]:
        # The deadline is the client's per thread: set in the thread that calls.
        deadline = client.deadline(within) if within is not None else nullcontext()
        with deadline:
            return _marketo_ask(client, unknown)
    answer = _checking_thread().submit(ask).result if background else ask

    def finish() -> dict[str, SendVerdict]:
        answers, held = answer()
        if answers:  # cached by the caller's thread
            try:
                cache_set_many({keys[email]: value for email, value in answers.items()},
                               MARKETO_CACHE_SECONDS)
            except Exception:  # noqa: BLE001
                log.warning("cache unavailable for the Marketo unsubscribe check",
                            exc_info=True)
        return verdicts | held | {email: _verdict(value) for email, value in answers.items()}
    return _once(finish)


_thread: tuple[int, ThreadPoolExecutor] | None = None
_thread_lock = threading.Lock()


def _checking_thread() -> ThreadPoolExecutor:
    """This process's thread for checks asked in the background, made on first use (and
    again in a forked child: a pool worker does not inherit its parent's threads)."""
    global _thread
    with _thread_lock:
        if _thread is None or _thread[0] != os.getpid():
            _thread = (os.getpid(), ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="marketo-unsubscribe-check"))
        return _thread[1]


def _marketo_ask(client, unknown: list[str]
                 ) -> tuple[dict[str, bool], dict[str, SendVerdict]]:
    """Marketo's answer for each address it gave one (unsubscribed or not), and "hold" for
    the others."""
    answers: dict[str, bool] = {}
    held: dict[str, SendVerdict] = {}
    for start in range(0, len(unknown), MARKETO_BATCH):
        batch = unknown[start:start + MARKETO_BATCH]
        try:
            leads = client.leads_by_filter("email", batch, ["email", "unsubscribed"])
        except TransportError as error:
            held |= dict.fromkeys(batch, SendVerdict.hold(
                f"Marketo could not be asked about unsubscribes ({error}); will try again."))
            continue
        unsubscribed = {(lead.get("email") or "").strip().lower()
                        for lead in leads if lead.get("unsubscribed")}
        answers |= {email: email.strip().lower() in unsubscribed for email in batch}
    return answers, held


def _verdict(unsubscribed_in_marketo: bool) -> SendVerdict:
    return (SendVerdict.block(UNSUBSCRIBED_IN_MARKETO) if unsubscribed_in_marketo
            else SendVerdict.allow())


def _cache_key(base_url: str, email: str) -> str:
    digest = hashlib.blake2b(f"{base_url}|{email.strip().lower()}".encode(),
                             digest_size=16).hexdigest()
    return f"marketo-unsubscribed:{digest}"
