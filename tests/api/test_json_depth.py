"""JSON nested deeper than the API could ever need is a 400 in DRF's shape at any depth —
found before parsing, never a ``RecursionError`` — while brackets inside strings and ordinary
bodies are left alone."""

import pytest
from factories import AdminFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from salesactions.parsers import MAX_JSON_DEPTH, json_depth_exceeds

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/v1/calls/", "/api/v1/tasks/", "/api/v1/emails/events/",
             "/api/v1/campaigns/", "/api/v1/unsubscribes/", "/api/v1/emails/"]


def nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


@pytest.fixture
def admin_api():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=AdminFactory()).key}")
    return client


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 950, 5_000, 1_000_000])
def test_any_depth_beyond_the_bound_is_a_400_in_drfs_shape(admin_api, endpoint, depth):
    body = b'{"person": ' + nested(depth) + b"}"
    response = admin_api.post(endpoint, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."}


def test_objects_nested_deep_are_refused_the_same_way(admin_api):
    body = ('{"a":' * 2_000 + "1" + "}" * 2_000).encode()
    response = admin_api.post("/api/v1/calls/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]


def test_a_body_at_the_bound_reaches_validation(admin_api):
    body = b'{"person": ' + nested(MAX_JSON_DEPTH - 1) + b"}"
    response = admin_api.post("/api/v1/calls/", body, content_type="application/json")
    assert response.status_code == 400
    assert "person" in response.json()


def test_brackets_inside_strings_do_not_count():
    notes = '"' + "[{" * 5_000 + '\\" still a string ' + "}]" * 5_000 + '"'
    assert not json_depth_exceeds(('{"notes": ' + notes + "}").encode())


def test_unpaired_brackets_are_left_to_the_parser(admin_api):
    assert not json_depth_exceeds(b"[}" * 40)
    response = admin_api.post("/api/v1/calls/", b"[}" * 40,
                              content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


@pytest.mark.parametrize("body, deep", [
    (b"[" * 33 + b"]" * 33, True), (b"[" * 32 + b"]" * 32, False),
    (b"[" + b"[]," * 100_000 + b"[]]", False), (b'{"a": [{"b": [1, 2]}, {"c": {}}]}', False),
])
def test_the_depth_is_counted_exactly(body, deep):
    assert json_depth_exceeds(body) is deep
