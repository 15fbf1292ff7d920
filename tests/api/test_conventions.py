"""What every list endpoint shares (README "API rules"): page sizes clamped, ``count`` with
``count_exact``, throttles whose rates come from the environment and 429s with Retry-After;
call outcomes (defaults, ``calls/outcomes/``, name or id); the people export; and a schema
that validates."""

import csv
import importlib
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from factories import AdminFactory, CallFactory, PersonFactory, UnsubscribeFactory, UserFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from activities.models import Call, CallOutcome
from salesactions.api import MAX_PAGE_SIZE

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Throttle counts and cached lists of this module's own, empty for each test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "api-conventions"}}
    cache.clear()


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def seller():
    return UserFactory(email="ava.stone@example.com")


@pytest.fixture
def seller_api(seller):
    return client_for(seller)


@pytest.fixture
def admin_api():
    return client_for(AdminFactory())


# --------------------------------------------------------------------------- pages and counts


def test_a_page_size_above_the_maximum_is_clamped_and_the_count_is_exact(seller_api, seller):
    CallFactory.create_batch(MAX_PAGE_SIZE + 5, logged_by=seller)

    clamped = seller_api.get("/api/v1/calls/?page_size=100000")
    small = seller_api.get("/api/v1/calls/?page_size=3")

    assert clamped.status_code == 200
    body = clamped.json()
    assert len(body["results"]) == MAX_PAGE_SIZE
    assert (body["count"], body["count_exact"]) == (MAX_PAGE_SIZE + 5, True)
    assert body["next"] and "page=2" in body["next"]
    assert len(small.json()["results"]) == 3 and small.json()["count"] == MAX_PAGE_SIZE + 5


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", ""])
def test_a_page_size_that_is_no_whole_number_from_1_is_a_400(seller_api, value):
    response = seller_api.get(f"/api/v1/calls/?page_size={value}")

    assert response.status_code == 400
    assert "page_size" in response.json()


def test_the_people_list_clamps_and_counts(seller_api):
    PersonFactory.create_batch(MAX_PAGE_SIZE + 3)

    first = seller_api.get("/api/v1/people/?page_size=5000").json()
    second = seller_api.get(first["next"]).json()

    assert len(first["results"]) == MAX_PAGE_SIZE
    # SQLite (and small lists on PostgreSQL) count exactly; a long list on PostgreSQL is the
    # planner's estimate, flagged count_exact: false.
    for page in (first, second):
        if connection.vendor == "sqlite":
            assert (page["count"], page["count_exact"]) == (MAX_PAGE_SIZE + 3, True)
        else:
            assert page["count_exact"] is (page["count"] == MAX_PAGE_SIZE + 3)
            assert page["count"] > 0
    filtered = seller_api.get("/api/v1/people/?search=nobody-is-called-this").json()
    assert (filtered["count"], filtered["count_exact"], filtered["results"]) == (0, True, [])


def test_every_list_documents_count_and_page_size(admin_api):
    schema = admin_api.get("/api/schema/?format=json").json()

    lists = {path: operation["get"] for path, operation in schema["paths"].items()
             if "get" in operation and "{id}" not in path and "export" not in path}
    assert {"/api/v1/calls/", "/api/v1/people/", "/api/v1/tasks/", "/api/v1/unsubscribes/",
            "/api/v1/sync/runs/", "/api/v1/calls/outcomes/"} <= set(lists)
    for path, operation in lists.items():
        if path in ("/api/v1/sync/settings/", "/api/v1/sync/health/"):  # one object, no list
            continue
        if path.startswith("/api/v1/analytics/"):  # a report: every row and the totals at once
            continue
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        component = schema["components"]["schemas"][page.rsplit("/", 1)[1]]
        assert {"count", "count_exact", "results"} <= set(component["required"]), path
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert "page_size" in names, path


# --------------------------------------------------------------------------- throttles


def test_throttle_rates_come_from_the_environment():
    script = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = "
              "'salesactions.settings'; django.setup(); from django.conf import settings; "
              "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])")
    env = {"API_THROTTLE_USER": "7/min", "API_THROTTLE_ANON": "3/hour",
           "API_THROTTLE_MARKETO_ACTIVITIES": "2/min"}
    shown = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                           text=True, check=True, env=os.environ | env, timeout=120).stdout

    assert "'user': '7/min'" in shown and "'anon': '3/hour'" in shown
    assert "'marketo_activities': '2/min'" in shown


def test_the_default_rate_lets_an_admin_page_100000_people_at_100_a_page():
    from salesactions.throttling import UserThrottle

    requests, seconds = UserThrottle().parse_rate(UserThrottle().get_rate())

    # 1,000 pages, whatever pace the client keeps, plus room for other requests.
    assert requests >= 1000 + 50 and seconds <= 60


def test_past_the_rate_a_429_says_when_to_retry(seller_api, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "2/min"}}

    statuses = [seller_api.get("/api/v1/calls/") for _ in range(3)]

    assert [response.status_code for response in statuses] == [200, 200, 429]
    refused = statuses[-1]
    assert refused["Content-Type"] == "application/json"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "detail" in refused.json()


def test_with_the_cache_down_requests_are_served_unthrottled(seller_api, settings):
    with socket.socket() as sock:  # a port nothing listens on: Redis is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{port}/0"}}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "1/min"}}

    statuses = [seller_api.get("/api/v1/calls/").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]


def test_the_marketo_panel_has_its_own_rate(seller_api, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "marketo_activities": "1/hour"}}
    person = PersonFactory()

    first = seller_api.get(f"/api/v1/people/{person.pk}/marketo-activities/")
    second = seller_api.get(f"/api/v1/people/{person.pk}/marketo-activities/")

    assert first.status_code == 503  # Marketo is not connected: still a request counted
    assert second.status_code == 429 and int(second["Retry-After"]) > 60
    assert seller_api.get("/api/v1/calls/").status_code == 200  # other endpoints go on


# --------------------------------------------------------------------------- call outcomes

DEFAULTS = ["Connected", "Left voicemail", "No answer", "Wrong number", "Busy",
            "Not interested", "Meeting booked"]


def test_a_fresh_install_has_the_default_outcomes():
    migration = importlib.import_module("activities.migrations.0002_default_call_outcomes")
    CallOutcome.objects.all().delete()

    migration.add_default_outcomes(apps, connection.schema_editor())
    again = list(CallOutcome.objects.values_list("name", flat=True))
    CallOutcome.objects.filter(name="Busy").delete()
    migration.add_default_outcomes(apps, connection.schema_editor())  # edited: left alone

    assert again == DEFAULTS
    assert "Busy" not in CallOutcome.objects.values_list("name", flat=True)


@pytest.fixture
def default_outcomes():
    migration = importlib.import_module("activities.migrations.0002_default_call_outcomes")
    CallOutcome.objects.all().delete()
    migration.add_default_outcomes(apps, connection.schema_editor())


def test_outcomes_are_listed_in_menu_order(seller_api, default_outcomes):
    response = seller_api.get("/api/v1/calls/outcomes/")

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["count_exact"]) == (7, True)
    assert [outcome["name"] for outcome in body["results"]] == DEFAULTS
    assert body["results"][2] == {"id": CallOutcome.objects.get(name="No answer").pk,
                                  "name": "No answer", "call_status": "no_answer",
                                  "position": 2}


def test_a_call_takes_its_outcome_by_name_or_by_id(seller_api, default_outcomes):
    person = PersonFactory()
    booked = CallOutcome.objects.get(name="Meeting booked")

    by_name = seller_api.post("/api/v1/calls/", {"person": person.pk, "outcome": "busy"},
                              format="json")
    by_id = seller_api.post("/api/v1/calls/", {"person": person.pk, "outcome": booked.pk},
                            format="json")
    unknown_id = seller_api.post("/api/v1/calls/", {"person": person.pk, "outcome": 999999},
                                 format="json")
    wrong_type = seller_api.post("/api/v1/calls/", {"person": person.pk, "outcome": True},
                                 format="json")

    assert by_name.status_code == 201 and by_name.json()["outcome"] == "Busy"
    assert by_id.status_code == 201 and by_id.json()["outcome"] == "Meeting booked"
    assert Call.objects.get(pk=by_id.json()["id"]).status == booked.call_status
    assert unknown_id.status_code == 400 and "outcome" in unknown_id.json()
    assert wrong_type.status_code == 400 and "outcome" in wrong_type.json()


def test_the_schema_shows_the_outcome_choices(admin_api, default_outcomes):
    schema = admin_api.get("/api/schema/?format=json").json()

    outcome = schema["components"]["schemas"]["CallInputRequest"]["properties"]["outcome"]
    names, ids = outcome["oneOf"]
    assert names["enum"] == [*DEFAULTS, ""]
    assert ids["enum"] == list(CallOutcome.objects.values_list("pk", flat=True))


# --------------------------------------------------------------------------- export


def test_an_admin_exports_people_as_csv_with_the_list_filters(admin_api, seller_api):
    ava = [PersonFactory(owner_email="ava.stone@example.com", company=f"Acme {n}")
           for n in range(3)]
    PersonFactory(owner_email="ben@example.com")
    UnsubscribeFactory(person=ava[1])
    ava[2].company = "=HYPERLINK(1)"
    ava[2].save()

    response = admin_api.get("/api/v1/people/export/?owner=ava.stone@example.com&format=csv")
    body = b"".join(response.streaming_content).decode()

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="people.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [int(row["id"]) for row in rows] == [person.pk for person in ava]
    assert [row["unsubscribed"] for row in rows] == ["false", "true", "false"]
    assert rows[2]["company"] == "'=HYPERLINK(1)"  # not run as a formula by a spreadsheet
    assert seller_api.get("/api/v1/people/export/").status_code == 403


def test_an_export_as_ndjson_has_the_fields_of_the_people_list(admin_api):
    PersonFactory.create_batch(3)

    streamed = admin_api.get("/api/v1/people/export/", HTTP_ACCEPT="application/x-ndjson")
    lines = b"".join(streamed.streaming_content).decode().splitlines()
    listed = admin_api.get("/api/v1/people/?ordering=name").json()["results"]

    assert streamed["Content-Type"] == "application/x-ndjson; charset=utf-8"
    exported = [json.loads(line) for line in lines]
    assert sorted(exported, key=lambda p: p["id"]) == sorted(listed, key=lambda p: p["id"])


@pytest.mark.parametrize("query,field", [("format=xml", "format"),
                                         ("unsubscribed=maybe", "unsubscribed")])
def test_a_bad_export_parameter_is_a_json_400(admin_api, query, field):
    response = admin_api.get(f"/api/v1/people/export/?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert field in response.json()


# --------------------------------------------------------------------------- the schema


def test_the_schema_validates_without_warnings(tmp_path, default_outcomes):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    assert "/api/v1/calls/outcomes/" in out.read_text()
