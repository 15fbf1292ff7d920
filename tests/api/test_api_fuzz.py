"""API fuzzing: schemathesis generates requests from the app's own OpenAPI schema (``/api/schema/``)
and sends them over HTTP to the live test server, as an admin and as a seller.

Every operation the schema lists is fuzzed, so an endpoint added later is covered as it lands.
Schema-valid requests (its examples, boundary values, random ones) and schema-breaking ones
(wrong types, out-of-range values, missing fields, undocumented methods) alike: no answer may be
a 5xx, an undocumented status, content type or body, and a request that breaks the schema must
be refused."""

import socket
import time
from collections import Counter

import pytest
import schemathesis
from celery import Task
from django.core.cache import cache
from factories import AdminFactory, CallFactory, UnsubscribeFactory, UserFactory
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig

from people.models import Person
from people.services import person_apply_leads
from sandbox import seed

pytestmark = pytest.mark.django_db(transaction=True)

# Fixed seed and bounded examples: the same cases every run, a few minutes on two cores.
CONFIG = {
    "seed": 18,
    "suppress-health-check": ["all"],
    "generation": {"mode": "all", "max-examples": 100, "database": "none"},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True},
               "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
    "checks": {
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "negative_data_rejection": {"enabled": True},
        "unsupported_method": {"enabled": True},
        # A write may be schema-valid and still break a rule the schema cannot state (the
        # person must exist, the outcome must be one an admin set up): 400 is right there.
        "positive_data_acceptance": {"enabled": False},
    },
    # Reads have no such rules: a query the schema allows must not be refused.
    "operations": [{"include-method": "GET",
                    "checks": {"positive_data_acceptance": {"enabled": True}}}],
    # An opaque cursor only comes from a response's next/previous link: ask for the first page.
    "parameters": {"query.cursor": ""},
    "request-timeout": 30,
}


@pytest.fixture(autouse=True)
def unthrottled(settings, monkeypatch):
    """Fuzzing sends far more than a person would: lift the rates, keep throttling on. No
    worker runs here, so the tasks the requests enqueue (syncs, deliveries) are not sent."""
    monkeypatch.setattr(Task, "apply_async", lambda task, *args, **kwargs: None)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "api-fuzz"}}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "user": "100000/min", "anon": "100000/min", "marketo_activities": "100000/min"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()


@pytest.fixture(autouse=True)
def only_this_machine(monkeypatch):
    """Fuzzed mailbox connections (``POST /api/v1/mailboxes/`` tries the logins) reach only
    this machine: any other host is refused before a packet leaves."""
    from mailboxes.transport import is_loopback

    connect = socket.create_connection

    def loopback_only(address, *args, **kwargs):
        host = address[0]
        addresses = {info[4][0] for info in socket.getaddrinfo(host, address[1])}
        if not all(is_loopback(each) for each in addresses):
            raise ConnectionRefusedError(f"fuzzing reaches this machine only, not {host}")
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", loopback_only)


@pytest.fixture
def fuzz_tally(request):
    """Cases sent per operation; the figures are printed with the test results."""
    tally, started = Counter(), time.monotonic()
    yield tally
    plugins = request.config.pluginmanager
    with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
        plugins.get_plugin("terminalreporter").write_line(
            f"\nAPI fuzz as {request.node.callspec.id}: {len(tally)} operations, "
            f"{sum(tally.values())} cases, {time.monotonic() - started:.0f} s")


@pytest.fixture(params=["admin", "seller"])
def api_schema(request, live_server, marketo_connected):
    """The live schema, with requests sent as an admin or as a seller, over data to hit:
    people (one unsubscribed) and calls of each role."""
    person_apply_leads(seed.lead(i, 1, 120) for i in range(1, 121))
    person = Person.objects.order_by("pk").first()
    UnsubscribeFactory(person=person)
    user = (AdminFactory if request.param == "admin" else UserFactory)()
    calls = [CallFactory(person=person, logged_by=user),
             CallFactory(person=person, logged_by=UserFactory())]
    token = Token.objects.create(user=user)
    # Random ids mostly miss: half the time, a parameter that names an object names a real one.
    ids = sorted({person.pk, user.pk, *(c.pk for c in calls), *(c.logged_by_id for c in calls)})
    real = {"dictionary": "ids", "probability": 0.5}
    config = SchemathesisConfig.from_dict({
        **CONFIG, "headers": {"Authorization": f"Token {token.key}"},
        "dictionaries": {"ids": {"values": ids}},
        "parameters": {**CONFIG["parameters"], "path.id": real, "body.person": real,
                       "query.person": real, "query.logged_by": real,
                       "query.assignee": real}})
    return schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json",
        headers={"Authorization": f"Token {token.key}"}, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_fuzzing_the_api_finds_no_errors(case, fuzz_tally):
    fuzz_tally[case.operation.label] += 1
    case.call_and_validate()
