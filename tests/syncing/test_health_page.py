"""The Sync health page, API and command: admins only, the same figures in each, inline SVG
charts and no script, a bounded number of queries however much history there is, and
``manage.py sync_health`` exiting 2 when a stream is failing."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from factories import DeliveryFactory
from rest_framework.test import APIClient

from syncing.health.registry import health_sources
from syncing.models import (
    Delivery,
    DeliveryAttempt,
    MarketoConnection,
    SalesforceConnection,
    StreamPass,
    SyncRun,
)

pytestmark = pytest.mark.django_db
URL, API = "/settings/health/", "/api/v1/sync/health/"


@pytest.fixture
def history(db):
    """Connected, with an hour of deliveries, attempts, people passes and logged passes."""
    MarketoConnection(base_url="http://127.0.0.1:9", client_id="id", client_secret="s").save()
    SalesforceConnection(url="http://127.0.0.1:9", client_id="id", client_secret="s").save()
    now = timezone.now()
    for minutes in range(5, 60, 10):
        row = DeliveryFactory(status=Delivery.Status.DELIVERED, delivered_at=now)
        DeliveryAttempt.objects.create(delivery=row, outcome="delivered",
                                       started_at=now - timedelta(minutes=minutes))
        SyncRun.objects.create(kind=SyncRun.Kind.INCREMENTAL, status=SyncRun.Status.SUCCEEDED,
                               leads_read=4, finished_at=now - timedelta(minutes=minutes))
        StreamPass.objects.create(stream="reminder_tasks_in", ok=True, rows=2,
                                  started_at=now - timedelta(minutes=minutes),
                                  finished_at=now - timedelta(minutes=minutes))
    # A pass three hours back: the lag line has several hours' points whatever the clock.
    SyncRun.objects.create(kind=SyncRun.Kind.INCREMENTAL, status=SyncRun.Status.SUCCEEDED,
                           leads_read=4, finished_at=now - timedelta(hours=3))
    DeliveryFactory(kind="reminder_task")
    return now


def test_sellers_get_403_and_anonymous_is_sent_to_login(seller_client, client):
    assert seller_client.get(URL).status_code == 403
    assert seller_client.get(API).status_code == 403
    seller_client.logout()
    assert client.get(URL).status_code == 302
    assert APIClient().get(API).status_code == 401


def test_the_page_shows_every_stream_with_its_chart(admin_client, history):
    page = admin_client.get(URL)

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<svg class="health-chart"') == len(health_sources())
    assert 'data-stream="calls_to_salesforce" data-status="ok"' in html
    assert "<rect " in html and "<polyline " in html
    assert "6 deliveries" in html           # the last hour's throughput
    assert "1 pending · 0 retrying · 0 failed" in html
    assert 'data-budget="marketo"' in html and 'data-budget="salesforce"' in html
    assert "<script" not in html.split("</head>")[1]  # nothing inline: a CSP is coming
    assert 'hx-trigger="every 30s"' in html


def test_htmx_refresh_gets_the_table_only(admin_client, history):
    part = admin_client.get(URL, headers={"HX-Request": "true"}).content.decode()
    assert part.lstrip().startswith("<div id=\"sync-health\"")
    assert "<html" not in part


def test_settings_links_to_it(admin_client):
    assert f'href="{URL}"' in admin_client.get("/settings/").content.decode()


def test_the_api_answers_every_stream_and_the_budget(admin_client, history):
    body = admin_client.get(API).json()

    assert body["status"] in ("ok", "lagging", "failing")
    assert set(body["api_budget"]) == {"marketo", "salesforce"}
    assert set(body["api_budget"]["marketo"]) == {
        "window_calls", "window_limit", "window_share", "window_seconds", "today_calls",
        "daily_quota"}
    streams = {stream["name"]: stream for stream in body["streams"]}
    assert len(streams) == len(health_sources())
    calls = streams["calls_to_salesforce"]
    assert calls["throughput_last_hour"] == 6
    assert calls["queue"] == {"pending": 0, "retrying": 0, "failed": 0}
    assert calls["system"] == "salesforce" and calls["direction"] == "out"
    assert len(calls["history"]) == 24
    assert set(calls["history"][0]) == {"hour", "throughput", "errors", "lag_seconds"}
    assert streams["reminder_tasks_out"]["queue"]["pending"] == 1
    assert streams["people_incremental"]["throughput_last_hour"] == 24
    assert streams["reminder_tasks_in"]["throughput_last_hour"] == 12
    assert streams["people_incremental"]["queue"] is None


def test_queries_stay_bounded_as_history_grows(admin_client, history):
    with CaptureQueriesContext(connection) as small:
        admin_client.get(API)
    now = timezone.now()
    rows = DeliveryFactory.create_batch(30, kind="unsubscribe", status="delivered",
                                        delivered_at=now)
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery=row, outcome=outcome, started_at=now - timedelta(hours=hour))
        for row in rows for hour in range(0, 24, 3) for outcome in ("delivered", "retry"))
    DeliveryFactory.create_batch(5, target="marketo", kind="email")  # a kind with no source

    with CaptureQueriesContext(connection) as large:
        api = admin_client.get(API)
    with CaptureQueriesContext(connection) as page:
        admin_client.get(URL)

    assert api.status_code == 200
    assert len(large) <= len(small)  # more history, no more queries
    assert len(large) <= 25, [query["sql"][:120] for query in large.captured_queries]
    assert len(page) <= 30


def test_no_call_to_marketo_or_salesforce_while_rendering(admin_client, history,
                                                           marketo_sandbox, salesforce_sandbox):
    # Connected to the real sandboxes: reading health must not reach either.
    MarketoConnection(base_url=marketo_sandbox.base_url, client_id="x", client_secret="y").save()
    SalesforceConnection(url=salesforce_sandbox.base_url, client_id="x", client_secret="y").save()
    marketo_sandbox.reset_counters()
    salesforce_sandbox.reset_counters()
    assert admin_client.get(URL).status_code == 200
    assert admin_client.get(API).status_code == 200
    assert marketo_sandbox.counters()["total"] == salesforce_sandbox.counters()["total"] == 0


def test_sync_health_command_prints_the_table_and_exits_0_when_nothing_fails(history, capsys):
    call_command("sync_health")
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["stream", "status", "on"]
    assert "calls_to_salesforce" in out and "6 deliveries" in out
    assert "Marketo API:" in out and "Salesforce API:" in out


def test_sync_health_command_exits_2_when_a_stream_fails(history, capsys):
    row = DeliveryFactory()
    Delivery.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(hours=2))

    with pytest.raises(CommandError) as failing:
        call_command("sync_health")

    assert failing.value.returncode == 2
    assert str(failing.value) == "failing: salesforce_deliveries, calls_to_salesforce"
    assert "failing" in capsys.readouterr().out


def test_sync_health_json_is_the_api_shape(admin_client, history, capsys):
    call_command("sync_health", "--json")
    printed = json.loads(capsys.readouterr().out)
    answered = admin_client.get(API).json()
    assert set(printed) == set(answered) == {"generated_at", "status", "streams", "api_budget"}
    assert [s["name"] for s in printed["streams"]] == [s["name"] for s in answered["streams"]]
