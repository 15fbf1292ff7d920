""""May we email this address?" (SPEC section 7): app suppression first, then Marketo's
``unsubscribed`` over real HTTP to the Marketo sandbox; "hold" when Marketo cannot answer."""

import pytest
from django.core.cache import cache
from factories import PersonFactory, UnsubscribeFactory

from sandbox import seed
from syncing.models import SyncSettings
from unsubscribes.send_check import (
    SendVerdict,
    person_send_verdicts,
    send_verdict,
    send_verdicts,
)

pytestmark = pytest.mark.django_db
LEADS = [seed.lead(i, 1, 2000) for i in range(1, 2001)]
VALID = [lead for lead in LEADS if lead["email"] and "@" in lead["email"]]
UNSUBSCRIBED_IN_MARKETO = next(lead["email"] for lead in VALID if lead["unsubscribed"])
# Addresses of one lead each (every 50th seed lead shares the previous one's).
_SHARED = {LEADS[i]["email"] for i in range(49, 2000, 50)}
SUBSCRIBED = [lead["email"] for lead in VALID
              if not lead["unsubscribed"] and lead["email"] not in _SHARED]


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "send-check",
                                   "OPTIONS": {"MAX_ENTRIES": 10_000}}}
    cache.clear()


def leads_calls(marketo) -> int:
    """leads.json calls (long filters go as POST with _method=GET, as Marketo documents)."""
    counts = marketo.counters()["by_endpoint"]
    return counts.get("GET /rest/v1/leads.json", 0) + counts.get("POST /rest/v1/leads.json", 0)


def test_an_address_unsubscribed_nowhere_is_allowed(marketo_connected):
    assert send_verdict(SUBSCRIBED[0]) == SendVerdict.allow()
    assert leads_calls(marketo_connected) == 1


def test_an_address_unsubscribed_in_marketo_is_blocked_whatever_its_case(marketo_connected):
    verdict = send_verdict(UNSUBSCRIBED_IN_MARKETO.upper())

    assert verdict.status == "blocked" and "Marketo" in verdict.reason


def test_app_suppression_blocks_without_asking_marketo(marketo_connected):
    UnsubscribeFactory(person=PersonFactory(email=SUBSCRIBED[0]))

    verdict = send_verdict(SUBSCRIBED[0])

    assert verdict.status == "blocked" and "in the app" in verdict.reason
    assert leads_calls(marketo_connected) == 0


def test_people_are_checked_by_their_own_unsubscribe_and_their_address(marketo_connected):
    moved = PersonFactory(email="old@example.com")
    UnsubscribeFactory(person=moved)
    moved.email = SUBSCRIBED[1]
    moved.save()
    clean = PersonFactory(email=SUBSCRIBED[2])
    in_marketo = PersonFactory(email=UNSUBSCRIBED_IN_MARKETO)

    verdicts = person_send_verdicts([moved, clean, in_marketo])

    assert verdicts[moved.pk].status == "blocked" and verdicts[clean.pk].allowed
    assert "Marketo" in verdicts[in_marketo.pk].reason


def test_with_the_check_off_marketo_is_not_asked(marketo_connected):
    SyncSettings(marketo_unsubscribe_check=False).save()

    assert send_verdict(UNSUBSCRIBED_IN_MARKETO).allowed
    assert leads_calls(marketo_connected) == 0


@pytest.mark.parametrize("fault", ["http_503", "607"])
def test_when_marketo_cannot_answer_the_send_is_held(marketo_connected, fault):
    marketo_connected.fault(fault, path="/rest/v1/leads.json", count=5)

    verdict = send_verdict(UNSUBSCRIBED_IN_MARKETO)

    assert verdict.status == "hold" and verdict.retry_after
    assert not verdict.allowed
    # Not cached: once Marketo answers again, so does the check.
    marketo_connected.clear_faults()
    assert send_verdict(UNSUBSCRIBED_IN_MARKETO).status == "blocked"


def test_without_a_marketo_connection_the_send_is_held(db):
    verdict = send_verdict(SUBSCRIBED[0])

    assert verdict.status == "hold" and "not connected" in verdict.reason


def test_a_bulk_send_asks_300_addresses_a_call_and_answers_are_cached(marketo_connected):
    addresses = SUBSCRIBED[:650] + [UNSUBSCRIBED_IN_MARKETO, "no-address"]

    verdicts = send_verdicts(addresses)
    calls = leads_calls(marketo_connected)
    again = send_verdicts(addresses)

    assert calls == 3
    assert leads_calls(marketo_connected) == calls  # the second ask came from the cache
    assert again == verdicts
    assert all(verdicts[email].allowed for email in SUBSCRIBED[:650])
    assert verdicts[UNSUBSCRIBED_IN_MARKETO].status == "blocked"
    assert verdicts["no-address"].status == "blocked"


@pytest.mark.parametrize("fault, options", [
    ("606", {"count": 5}),  # the client would back off half a window (10 s) before its retry
    ("latency", {"latency_ms": 20_000, "count": 5}),  # Marketo would answer after 20 s
])
def test_someone_waiting_gets_hold_within_the_deadline_not_a_long_wait(marketo_connected,
                                                                      fault, options):
    import time

    marketo_connected.fault(fault, path="/rest/v1/leads.json", **options)
    started = time.monotonic()

    verdict = send_verdicts([SUBSCRIBED[0]], within=1.5)[SUBSCRIBED[0]]

    assert verdict.status == "hold"
    # The deadline, not the 5-10 s backoff after a 606 nor a 20 s answer (a margin for load).
    assert time.monotonic() - started < 5


def test_checks_share_one_token(marketo_connected):
    """Each check used to build a client that asked Marketo for a token first: one more round
    trip per check (half of a campaign batch's check, bench/workers.py)."""
    for address in SUBSCRIBED[:3]:
        assert send_verdict(address).allowed

    counts = marketo_connected.counters()["by_endpoint"]
    assert leads_calls(marketo_connected) == 3
    assert sum(n for endpoint, n in counts.items() if "/identity/" in endpoint) == 1


def test_app_suppression_read_by_the_caller_is_not_read_again(marketo_connected):
    """A campaign batch reads suppression itself (it ends those members) and passes it on."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    UnsubscribeFactory(person=PersonFactory(email=SUBSCRIBED[0]))
    suppressed = {SUBSCRIBED[1]}  # what the caller read: trusted, not read again

    with CaptureQueriesContext(connection) as queries:
        verdicts = send_verdicts(SUBSCRIBED[:3], suppressed=suppressed)

    assert not [q for q in queries.captured_queries if "unsubscribes_unsubscribe" in q["sql"]]
    assert verdicts[SUBSCRIBED[1]].status == "blocked"
    assert "in the app" in verdicts[SUBSCRIBED[1]].reason
    assert verdicts[SUBSCRIBED[0]].allowed and verdicts[SUBSCRIBED[2]].allowed


def test_a_check_in_the_background_answers_as_the_check_does(marketo_connected,
                                                             monkeypatch):
    """Marketo asked from the checking thread: the same verdicts, cached the same way, and
    the callable gives them again without asking twice."""
    import threading

    from syncing.clients.marketo import MarketoClient
    from unsubscribes.send_check import person_send_verdicts_begin

    moved = PersonFactory(email="old@example.com")
    UnsubscribeFactory(person=moved)
    moved.email = SUBSCRIBED[1]
    moved.save()
    people = [moved, PersonFactory(email=SUBSCRIBED[2]),
              PersonFactory(email=UNSUBSCRIBED_IN_MARKETO)]
    asked_from = []
    real_leads = MarketoClient.leads_by_filter

    def leads_by_filter(client, *args, **kwargs):
        asked_from.append(threading.current_thread().name)
        return real_leads(client, *args, **kwargs)

    monkeypatch.setattr(MarketoClient, "leads_by_filter", leads_by_filter)

    check = person_send_verdicts_begin(people, background=True)
    verdicts = check()

    assert asked_from == ["marketo-unsubscribe-check_0"]
    assert check() == verdicts
    assert leads_calls(marketo_connected) == 1
    assert verdicts[people[0].pk].status == "blocked" and verdicts[people[1].pk].allowed
    assert "Marketo" in verdicts[people[2].pk].reason
    cache.clear()
    assert person_send_verdicts(people) == verdicts  # asked in this thread
    assert asked_from[1] == threading.current_thread().name
    # The background check cached its answers too: asked again, Marketo is not.
    cache.clear()
    person_send_verdicts_begin(people, background=True)()
    assert person_send_verdicts_begin(people, background=True)() == verdicts
    assert leads_calls(marketo_connected) == 3


def test_a_failed_background_check_raises_when_its_answer_is_asked(marketo_connected,
                                                                  monkeypatch):
    from syncing.clients.marketo import MarketoClient
    from unsubscribes.send_check import person_send_verdicts_begin

    def broken(*args, **kwargs):
        raise RuntimeError("not a transport error")

    monkeypatch.setattr(MarketoClient, "leads_by_filter", broken)
    check = person_send_verdicts_begin([PersonFactory(email=SUBSCRIBED[0])], background=True)

    with pytest.raises(RuntimeError, match="not a transport error"):
        check()
    with pytest.raises(RuntimeError):
        check()  # the same error again, Marketo not asked twice
