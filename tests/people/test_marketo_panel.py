"""The Marketo activity panel (SPEC section 3): read live from the Marketo sandbox over HTTP,
grouped by day and newest first, cached briefly, and never breaking the person page when
Marketo is slow, failing or not connected."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework.authtoken.models import Token

from people import marketo_panel
from people.models import Person
from people.services import person_apply_leads
from sandbox import seed
from sandbox.marketo.activities import seed_history

pytestmark = pytest.mark.django_db

LEADS = 2000  # the sandbox's default seed size: lead i is seed.lead(i, 1, 2000) there


@pytest.fixture(autouse=True)
def private_cache(settings):
    """A cache of this module's own, empty for each test: the panel caches what Marketo says."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "marketo-panel"}}
    cache.clear()


@pytest.fixture
def whole_history(monkeypatch):
    """A window reaching back before the first seed activity, whatever today's date."""
    days = (timezone.now() - seed.SEED_START).days + 30
    monkeypatch.setattr(marketo_panel, "PANEL_WINDOWS", (timedelta(days=days), timedelta(days=14)))


def person_for(lead_number: int) -> Person:
    person_apply_leads([{**seed.lead(lead_number, 1, LEADS), "sfdcLeadOwnerId": "005x",
                         "leadOwnerEmailAddress": "ava.stone@example.com"}])
    return Person.objects.get(marketo_id=lead_number)


def history(lead_number: int):
    return seed_history(seed.lead(lead_number, 1, LEADS), 1)


def busy_lead(minimum: int = 6) -> int:
    return next(i for i in range(LEADS, 0, -1) if len(history(i)) >= minimum)


def panel_html(client, person) -> str:
    response = client.get(f"/people/{person.pk}/marketo-activities/",
                          headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def test_activity_is_grouped_by_day_newest_first(seller_client, marketo_connected,
                                                 whole_history):
    lead_number = busy_lead()
    person = person_for(lead_number)
    expected = sorted(history(lead_number), key=lambda entry: entry.key, reverse=True)

    panel = marketo_panel.person_marketo_activities(person)
    html = panel_html(seller_client, person)

    assert panel.ok
    assert [a.marketo_id for a in panel.activities] == [entry.id for entry in expected]
    days = re.findall(r'<h3 class="activity-day"><time datetime="([\d-]+)">', html)
    assert days == sorted({datetime.fromtimestamp(entry.ts_ms / 1000, UTC).date().isoformat()
                           for entry in expected}, reverse=True)
    assert html.count("<li>") == len(expected)
    if expected[0].primary_value:
        assert expected[0].primary_value.replace("'", "&#x27;") in html
    assert "<html" not in html


def test_only_activity_inside_the_window_is_shown(seller_client, marketo_connected,
                                                   monkeypatch):
    lead_number = busy_lead(minimum=8)
    entries = sorted(history(lead_number), key=lambda entry: entry.key)
    # A window starting between two of the lead's activities, whatever today's date.
    gap = next(k for k in range(len(entries) // 2, len(entries))
               if entries[k].ts_ms - entries[k - 1].ts_ms > 60_000)
    cutoff = datetime.fromtimestamp((entries[gap - 1].ts_ms + entries[gap].ts_ms) / 2000, UTC)
    monkeypatch.setattr(marketo_panel, "PANEL_WINDOWS", (timezone.now() - cutoff,))
    person = person_for(lead_number)

    panel = marketo_panel.person_marketo_activities(person)

    shown = {a.marketo_id for a in panel.activities}
    assert panel.ok
    assert shown == {entry.id for entry in entries if entry.ts_ms >= cutoff.timestamp() * 1000}
    assert 0 < len(shown) < len(entries)


def test_no_activity_says_so(seller_client, marketo_connected, whole_history):
    lead_number = next(i for i in range(1, LEADS) if not history(i))
    person = person_for(lead_number)

    html = panel_html(seller_client, person)

    assert "No marketing activity in Marketo since" in html


def test_slow_marketo_gives_a_clear_message(seller_client, marketo_connected, monkeypatch):
    monkeypatch.setattr(marketo_panel, "PANEL_TIMEOUT_SECONDS", 0.5)
    person = person_for(busy_lead())
    marketo_connected.fault("latency", path="activities.json", latency_ms=2000)

    html = panel_html(seller_client, person)

    assert "Marketo is taking too long to answer" in html
    assert "The rest of this page is up to date." in html
    assert "Try again" in html
    assert seller_client.get(f"/people/{person.pk}/").status_code == 200


@pytest.mark.parametrize("fault", ["http_503", "drop"])
def test_failing_marketo_gives_a_clear_message_and_is_not_cached(seller_client,
                                                                  marketo_connected, fault):
    person = person_for(busy_lead())
    marketo_connected.fault(fault, path="activities.json")

    failed = panel_html(seller_client, person)
    retried = panel_html(seller_client, person)

    assert "Marketo is not available right now" in failed
    assert "The rest of this page is up to date." in failed
    assert "Marketo is not available" not in retried


def test_marketo_not_connected(seller_client, settings):
    settings.MARKETO_BASE_URL = ""
    person = person_for(5)

    assert "Marketo is not connected" in panel_html(seller_client, person)


def test_panel_is_cached_for_a_minute_and_types_are_looked_up_once(seller_client,
                                                                  marketo_connected,
                                                                  whole_history):
    first, second = person_for(busy_lead()), person_for(busy_lead() - 1)
    panel_html(seller_client, first)
    marketo_connected.reset_counters()

    panel_html(seller_client, first)
    cached_calls = marketo_connected.counters()["total"]
    panel_html(seller_client, second)
    calls = marketo_connected.counters()["by_endpoint"]

    assert cached_calls == 0
    assert "GET /rest/v1/activities/types.json" not in calls
    assert calls["GET /rest/v1/activities/pagingtoken.json"] == 1
    assert calls["GET /rest/v1/activities.json"] >= 1


def test_a_busy_lead_shows_its_newest_activity(seller_client, marketo_connected, monkeypatch):
    """More activity than the page budget in the long window: the short one is read instead,
    so the newest activity is shown and the panel says there is more."""
    lead_number = busy_lead(minimum=8)
    newest = max(history(lead_number), key=lambda entry: entry.key)
    newest_at = datetime.fromtimestamp(newest.ts_ms / 1000, UTC)
    long_window = (timezone.now() - seed.SEED_START).days + 30
    short_window = timezone.now() - newest_at + timedelta(minutes=1)
    monkeypatch.setattr(marketo_panel, "PANEL_WINDOWS", (timedelta(days=long_window), short_window))
    monkeypatch.setattr(marketo_panel, "PANEL_PAGES_PER_WINDOW", 1)
    monkeypatch.setattr(marketo_panel, "PANEL_BATCH_SIZE", 3)
    person = person_for(lead_number)

    panel = marketo_panel.person_marketo_activities(person)

    assert panel.ok and panel.truncated
    assert panel.activities[0].marketo_id == newest.id
    assert "Marketo holds more activity" in panel_html(seller_client, person)


def test_api_returns_the_panel_data_or_503(client, seller, marketo_connected, whole_history):
    token = Token.objects.create(user=seller)
    headers = {"Authorization": f"Token {token.key}"}
    lead_number = busy_lead()
    person = person_for(lead_number)

    ok = client.get(f"/api/v1/people/{person.pk}/marketo-activities/", headers=headers)
    cache.clear()
    marketo_connected.fault("http_503", path="activities.json")
    down = client.get(f"/api/v1/people/{person.pk}/marketo-activities/", headers=headers)

    assert ok.status_code == 200
    assert [a["id"] for a in ok.json()["activities"]] == [
        entry.id for entry in sorted(history(lead_number), key=lambda e: e.key, reverse=True)]
    assert {"since", "truncated", "fetched_at"} <= set(ok.json())
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert down["Retry-After"] == "60"


def test_marketo_text_renders_as_text(rf, seller):
    request = rf.get("/")
    request.user = seller
    moment = timezone.now()
    panel = marketo_panel.MarketoPanel(
        marketo_panel.MarketoPanel.OK, since=moment, fetched_at=moment, activities=[
            marketo_panel.MarketoActivity(1, moment, "Fill Out Form", "<script>alert(1)</script>",
                                      "<img src=x onerror=alert(1)>")])

    html = render_to_string("people/partials/marketo_panel.html",
                            {"panel": panel, "person": Person(pk=1)}, request=request)

    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# ------------------------------------------------------------------ within its budget (3 s)


def timed_panel(person):
    started = time.monotonic()
    panel = marketo_panel.person_marketo_activities(person)
    return panel, time.monotonic() - started


def test_a_marketo_that_never_answers_in_time_still_gets_an_answer_within_the_budget(
        marketo_connected):
    assert marketo_panel.PANEL_BUDGET_SECONDS <= 3
    person = person_for(busy_lead())
    marketo_connected.fault("latency", latency_ms=20_000, count=50)  # every call

    panel, took = timed_panel(person)

    assert panel.status == marketo_panel.MarketoPanel.SLOW
    assert "Marketo is taking too long to answer" in panel.message
    assert took < 15  # the budget, not the 20 s Marketo would take (margin for a busy machine)


def test_a_spent_call_window_answers_busy_at_once_without_calling_marketo(client, seller,
                                                                          marketo_connected):
    from syncing import budget

    person = person_for(busy_lead())
    for _ in range(budget.MARKETO_WINDOW_LIMIT):
        budget.marketo_call_recorded()
    calls_before = marketo_connected.counters()["total"]

    panel, took = timed_panel(person)
    answer = client.get(f"/api/v1/people/{person.pk}/marketo-activities/",
                        headers={"Authorization": f"Token {Token.objects.create(user=seller)}"})

    assert panel.status == marketo_panel.MarketoPanel.BUSY
    assert re.fullmatch(r"Marketo is busy: the app has used its calls for the moment\. "
                        r"Try again in \d+ s\.", panel.message)
    assert 1 <= panel.retry_after <= 20
    assert marketo_connected.counters()["total"] == calls_before  # Marketo was not asked
    assert answer.status_code == 503
    assert answer.json()["status"] == "busy"
    assert 1 <= int(answer["Retry-After"]) <= 20


def test_a_full_limiter_answers_busy_instead_of_waiting_for_the_window(marketo_connected,
                                                                        settings):
    settings.MARKETO_CALLS_PER_WINDOW = 2  # fewer than one panel needs: it would wait 20 s
    person = person_for(busy_lead())

    panel, took = timed_panel(person)

    assert panel.status == marketo_panel.MarketoPanel.BUSY
    assert 1 <= panel.retry_after <= int(settings.MARKETO_WINDOW_SECONDS)
    assert took < 15


@pytest.mark.parametrize("code, retry_after", [("606", 20), ("615", 5)])
def test_marketos_own_rate_limits_answer_busy_with_when_to_try_again(marketo_connected, code,
                                                                     retry_after):
    person = person_for(busy_lead())
    marketo_connected.fault(code, path="activities.json")

    panel, _ = timed_panel(person)

    assert panel.status == marketo_panel.MarketoPanel.BUSY
    assert panel.retry_after == retry_after
    assert f"Try again in {retry_after} s." in panel.message
