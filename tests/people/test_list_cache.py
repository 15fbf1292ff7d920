"""The people list cache (people/list_cache.py): a repeated list is served without reading the
database, and every kind of write to people or unsubscribes is visible on the next request."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import PersonFactory, UnsubscribeFactory, UserFactory
from rest_framework.authtoken.models import Token

from people.services import person_apply_leads, person_remove_deleted
from sandbox import seed

pytestmark = pytest.mark.django_db

AVA = "ava.stone@example.com"


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "list-cache"}}
    settings.PEOPLE_LIST_CACHE_SECONDS = 300
    cache.clear()


@pytest.fixture
def ava():
    return UserFactory(email=AVA)


@pytest.fixture
def api(client, ava):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=ava).key}"
    return client


def titles(api, **params) -> dict[int, str]:
    response = api.get("/api/v1/people/", params)
    assert response.status_code == 200, response.content
    return {person["marketo_id"]: person["title"] for person in response.json()["results"]}


def people_queries(response_of) -> int:
    """How many queries a request made of the people table."""
    with CaptureQueriesContext(connection) as queries:
        response_of()
    return sum("people_person" in query["sql"] for query in queries.captured_queries)


def lead(marketo_id: int, **fields) -> dict:
    """A seed lead that qualifies (has an owner), with ``fields`` changed."""
    record = seed.lead(marketo_id, 1, 50)
    record.update({"sfdcLeadOwnerId": "005000000000001AAA", "leadOwnerEmailAddress": AVA,
                   **fields})
    return record


def test_a_repeated_list_does_not_read_people_again(api):
    PersonFactory.create_batch(3, owner_email=AVA)

    assert people_queries(lambda: api.get("/api/v1/people/")) > 0
    assert people_queries(lambda: api.get("/api/v1/people/")) == 0
    assert people_queries(lambda: api.get("/api/v1/people/?search=x")) > 0


def test_the_page_results_are_cached_too(client, ava):
    PersonFactory(owner_email=AVA, last_name="Cached")
    client.force_login(ava)

    assert people_queries(lambda: client.get("/people/")) > 0
    assert people_queries(lambda: client.get("/people/")) == 0
    assert people_queries(lambda: client.get("/people/", HTTP_HX_REQUEST="true")) == 0
    assert "Cached" in client.get("/people/", HTTP_HX_REQUEST="true").content.decode()
    # Served from the cache, the results are still markup in the page, not escaped text.
    assert '<table class="striped people-table">' in client.get("/people/").content.decode()


def test_a_sync_write_shows_on_the_next_request(api):
    person_apply_leads([lead(1, title="Before"), lead(2, title="Before")])
    assert titles(api) == {1: "Before", 2: "Before"}

    person_apply_leads([lead(1, title="After")])
    assert titles(api) == {1: "After", 2: "Before"}

    person_remove_deleted([2])
    assert titles(api) == {1: "After"}


def test_a_person_leaving_the_workspace_shows_on_the_next_request(api):
    person_apply_leads([lead(1), lead(2)])
    assert set(titles(api)) == {1, 2}

    person_apply_leads([lead(2, sfdcLeadOwnerId=None, leadOwnerEmailAddress=None)])
    assert set(titles(api)) == {1}


def test_orm_saves_and_unsubscribes_show_on_the_next_request(api):
    person = PersonFactory(owner_email=AVA, title="Old")
    assert titles(api) == {person.marketo_id: "Old"}
    assert api.get("/api/v1/people/?unsubscribed=true").json()["results"] == []

    person.title = "New"
    person.save()
    assert titles(api) == {person.marketo_id: "New"}

    UnsubscribeFactory(person=person)
    assert set(titles(api, unsubscribed="true")) == {person.marketo_id}


def test_each_user_has_lists_of_their_own(client, ava):
    ben = UserFactory(email="ben.okafor@example.com")
    PersonFactory(owner_email=AVA, last_name="Avasperson")
    PersonFactory(owner_email=ben.email, last_name="Bensperson")

    client.force_login(ava)
    assert "Avasperson" in client.get("/people/").content.decode()
    client.force_login(ben)
    page = client.get("/people/").content.decode()
    assert "Bensperson" in page and "Avasperson" not in page


def test_invalid_parameters_are_answered_and_not_cached(api):
    PersonFactory(owner_email=AVA)

    for _ in range(2):
        response = api.get("/api/v1/people/?ordering=shoe-size")
        assert response.status_code == 400
        assert "ordering" in response.json()


def test_turned_off_every_request_reads_people(api, settings):
    settings.PEOPLE_LIST_CACHE_SECONDS = 0
    PersonFactory(owner_email=AVA)

    assert people_queries(lambda: api.get("/api/v1/people/")) > 0
    assert people_queries(lambda: api.get("/api/v1/people/")) > 0


def test_lists_still_answer_when_the_cache_server_is_down(client, ava, settings):
    person = PersonFactory(owner_email=AVA, last_name="Stillhere")
    client.force_login(ava)
    # Nothing listens on port 9 (discard): every cache call fails to connect.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0"}}

    response = client.get("/people/")

    assert response.status_code == 200
    assert "Stillhere" in response.content.decode()
    person.title = "Written while the cache is down"
    person.save()  # the version cannot move; the write still succeeds


def test_a_new_seller_is_in_the_owner_filter_at_once(client, ava):
    client.force_login(ava)
    assert "Ben Okafor" not in client.get("/people/").content.decode()

    UserFactory(first_name="Ben", last_name="Okafor", email="ben.okafor@example.com")

    assert "Ben Okafor (ben.okafor@example.com)" in client.get("/people/").content.decode()
