"""API fuzzing: schemathesis generates requests from the app's own OpenAPI schema (``/api/schema/``)
and sends them over HTTP to the live test server, as an admin and as a seller.

Every operation the schema lists is fuzzed, so an endpoint added later is covered as it lands.
Schema-valid requests (its examples, boundary values, random ones) and schema-breaking ones
(wrong types, out-of-range values, missing fields, undocumented methods) alike: no answer may be
a 5xx, an undocumented status, content type or body; a request that breaks the schema must be
refused, and one the schema allows must be accepted — unless it breaks one of the rules below
that depend on the data or the clock, which no schema can state (``STATE_RULES``): each is
named with the message the server gives, so any other refusal of a schema-valid request fails.
"""

import re
import socket
import time
from collections import Counter

import hypothesis
import jsonschema
import pytest
import schemathesis
from celery import Task
from django.core.cache import cache
from factories import AdminFactory, CallFactory, UnsubscribeFactory, UserFactory
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

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
        # A body past the size limit is refused too (413), before it is read.
        "negative_data_rejection": {"enabled": True, "expected-statuses": [
            "400", "401", "403", "404", "405", "413", "415", "422"]},
        "unsupported_method": {"enabled": True},
        # Reads: a query the schema allows must not be refused. Writes: the check below, which
        # also allows the refusals that depend on data (STATE_RULES).
        "positive_data_acceptance": {"enabled": False},
    },
    # Reads: a query the schema allows must not be refused. Reports are left to the check
    # below (their period is a rule over two dates and the clock, STATE_RULES).
    "operations": [{"include-method": "GET", "exclude-path-regex": "^/api/v1/analytics/",
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


#: Why a write the schema allows may still be refused (400): rules over the data as it stands or
#: the clock. Each is matched against the server's own message; any other 400 to a
#: schema-valid write is a mismatch between the schema and the validation, and fails.
STATE_RULES = {
    "the object named must exist (and be yours)": r"object does not exist|^No such |not found"
                                                  r"|does not exist",
    "the address must not be suppressed, in the app or in Marketo": r"^Not sent to .*: ",
    "an unsubscribe is removed once": r"already removed",
    "a call is not in the future (the clock), nor before 2000 once its offset applies":
        r"^A call cannot be (in the future|before 2000-01-01)\.$",
    "an event is not ahead of the clock": r"to an hour ahead of the server's clock",
    "a scheduled send is ahead of the clock, within a year":
        r"^Pick a time in the future to schedule the email|^An email can be scheduled up to a "
        r"year ahead\.$",
    "the sending window's end after its start, as stored when only one is sent":
        r"the start before the end|^The sending window must open before it closes\.$",
    "a campaign's steps run in the order of their days (a rule over the list)":
        r"^Day \d+ comes before day \d+ of step \d+, the step above it",
    "the mail servers named must answer and let the seller in (fuzzing reaches this machine "
    "only)": r"^The (IMAP|SMTP) (server \S+ (could not be reached|failed)|login failed)",
    "plain text (security none) only to this machine: the host and the security together":
        r"^Plain-text connections \(security \"none\"\) are allowed only to this machine",
    "what the caller's role allows in a field (only admins share)": r"^Only admins share ",
    "what a campaign's status allows": r"archived campaign|cannot go back to draft"
                                       r"|Add a step before starting",
    "the call outcome switch on Settings": r"^Choose the call's outcome\.$"
                                           r"|^Call outcomes are switched off\.$",
    "the custom opt-out field is checked against the connected org's describe":
        r"^Connect Salesforce first: the field is checked|^Salesforce could not describe"
        r"| has no field |, not a checkbox| is read-only for the integration user",
    "merge fields and placeholders must be known ones (a rule over the text)":
        r"^Unknown merge field|^Unknown placeholder|^Malformed merge field",
    "a saved view's query is one the people list takes (a rule over the text: its parameters "
    "and their values, as the people list's form reads them)":
        r"^Unknown parameter: |^(search|owner|company|source|unsubscribed|sort): ",
    "a report's period: `from` not after `to` (today when not given), at most 366 days":
        r"^`from` is after `to`\.$|^A report covers at most \d+ days\.$",
}


def _messages(body) -> list[str]:
    if isinstance(body, str):
        return [body]
    if isinstance(body, list):
        return [message for item in body for message in _messages(item)]
    if isinstance(body, dict):
        return [message for value in body.values() for message in _messages(value)]
    return [str(body)]


def _body_is_schema_valid(case) -> bool:
    """Checked here, not taken from the case's label: the coverage phase marks a case positive
    while one property in it breaks the schema."""
    raw = case.operation.schema.raw_schema
    operation = raw["paths"][case.operation.path][case.method.lower()]
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if media is None or case.body is NOT_SET:
        return True
    validator = jsonschema.Draft4Validator({**media["schema"], "components": raw["components"]},
                                           format_checker=jsonschema.FormatChecker())
    return validator.is_valid(case.body)


def schema_valid_writes_are_accepted(ctx, response, case):
    """A schema-valid write (or report) answers 2xx, or 401/403/404/409/429, or a 400 whose
    every message is one of STATE_RULES."""
    meta = case.meta
    reads = case.method == "GET" and not case.operation.path.startswith("/api/v1/analytics/")
    if (reads or meta is None or not meta.generation.mode.is_positive
            or any(info.mode.is_negative for info in meta.components.values())
            or is_unexpected_http_status_case(case)
            or response.status_code < 400 or response.status_code in (401, 403, 404, 409, 429)
            or not _body_is_schema_valid(case)):
        return None
    if response.status_code == 400:
        unexplained = [message for message in _messages(response.json())
                       if not any(re.search(rule, message) for rule in STATE_RULES.values())]
        if not unexplained:
            return None
        raise AssertionError(f"A write the schema allows was refused: {unexplained}")
    raise AssertionError(f"A write the schema allows answered {response.status_code}")


@schema.parametrize()
@hypothesis.settings(suppress_health_check=list(hypothesis.HealthCheck), deadline=None)
def test_fuzzing_the_api_finds_no_errors(case, fuzz_tally):
    fuzz_tally[case.operation.label] += 1
    case.call_and_validate(additional_checks=[schema_valid_writes_are_accepted])
