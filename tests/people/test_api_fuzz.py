"""API fuzzing: schemathesis generates requests from the app's own OpenAPI schema (``/api/schema/``)
and sends them over HTTP to the live test server. No request may get a 5xx, an undocumented
status, or a body that does not match the schema."""

import pytest
import schemathesis
from django.core.cache import cache
from factories import AdminFactory, UnsubscribeFactory
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from people.models import Person
from people.services import person_apply_leads
from sandbox import seed

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# The people API and the one admin read the suite covers; small budgets keep this under a minute.
OPERATIONS = r"^/api/v1/(people/|sync/settings/)"
EXAMPLES = 40


@pytest.fixture(autouse=True)
def unthrottled(settings):
    """Fuzzing sends far more than a person would: lift the rates, keep throttling on."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "api-fuzz"}}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "people": "100000/min", "marketo_activities": "100000/min"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()


def run(operation, base_url, headers, **fixed):
    @given(case=operation.as_strategy(**fixed))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def exercise(case):
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=20)

    exercise()


def test_fuzzing_the_api_finds_no_errors(live_server, marketo_connected):
    person_apply_leads(seed.lead(i, 1, 120) for i in range(1, 121))
    person = Person.objects.order_by("pk").first()
    UnsubscribeFactory(person=person)
    token = Token.objects.create(user=AdminFactory())
    headers = {"Authorization": f"Token {token.key}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json",
                                           headers=headers)
    operations = [result.ok() for result in
                  schema.include(path_regex=OPERATIONS, method="GET").get_all_operations()]

    assert {op.path for op in operations} == {
        "/api/v1/people/", "/api/v1/people/{id}/", "/api/v1/people/{id}/marketo-activities/",
        "/api/v1/sync/settings/"}
    for operation in operations:
        run(operation, live_server.url, headers)
        if operation.path == "/api/v1/people/":
            # Malformed filters, cursors and page sizes must be 400s, never 500s.
            run(operation, live_server.url, headers, generation_mode=GenerationMode.NEGATIVE)
        if "{id}" in operation.path:
            # Random ids are mostly 404s: also fuzz a person who exists.
            run(operation, live_server.url, headers, path_parameters={"id": person.pk})
