"""API fuzzing of ``tasks/``: schemathesis generates requests from the OpenAPI schema, valid
and invalid, for every method; none may get a 5xx, an undocumented status or a body that does
not match the schema."""

import pytest
import schemathesis
from factories import PersonFactory, ReminderTaskFactory, UserFactory
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = 30


def run(operation, base_url, headers, **fixed):
    @given(case=operation.as_strategy(**fixed))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def exercise(case):
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=20)

    exercise()


def test_fuzzing_the_tasks_api_finds_no_errors(live_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    seller = UserFactory()
    PersonFactory.create_batch(3)
    task = ReminderTaskFactory(assignee=seller)
    token = Token.objects.create(user=seller)
    headers = {"Authorization": f"Token {token.key}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json",
                                           headers=headers)
    operations = [result.ok() for result in
                  schema.include(path_regex=r"^/api/v1/tasks/").get_all_operations()]

    assert {(op.method.upper(), op.path) for op in operations} == {
        ("GET", "/api/v1/tasks/"), ("POST", "/api/v1/tasks/"), ("GET", "/api/v1/tasks/{id}/"),
        ("PATCH", "/api/v1/tasks/{id}/"), ("DELETE", "/api/v1/tasks/{id}/")}
    for operation in sorted(operations, key=lambda op: op.method == "DELETE"):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(operation, live_server.url, headers, generation_mode=mode)
            if "{id}" in operation.path and (mode == GenerationMode.POSITIVE
                                             or operation.method.upper() == "PATCH"):
                # Random ids are mostly 404s: also one that exists (a bad body for PATCH).
                run(operation, live_server.url, headers, generation_mode=mode,
                    path_parameters={"id": task.pk})
