"""A long people count is made by a real Celery worker process and then answered exactly."""

import pytest
from django.db import connection
from factories import UserFactory
from rest_framework.authtoken.models import Token
from subprocess_env import celery_worker, worker_wait_for

from people.models import Person
from people.services import person_apply_leads
from sandbox import seed

LEADS = 300


@pytest.mark.django_db(transaction=True)
def test_a_long_count_is_made_exact_by_a_worker(client, settings, private_queue):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite counts every list in the request")
    settings.PEOPLE_LIST_CACHE_SECONDS = 300
    settings.PEOPLE_COUNT_INLINE_LIMIT = 1  # every list here is "long"
    settings.PEOPLE_COUNT_INLINE_MS = 0  # ... and handed to the worker without trying
    person_apply_leads(seed.lead(i, 1, LEADS) for i in range(1, LEADS + 1))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE people_person")
    everyone = Person.workspace.count()
    token = Token.objects.create(user=UserFactory())
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    url = "/api/v1/people/?page_size=2&search=smith"

    first = client.get(url).json()
    assert first["count_exact"] is False
    answers = []

    def answered_exactly() -> bool:
        answers.append(client.get(url).json())
        return answers[-1]["count_exact"]

    worker = celery_worker(private_queue)
    try:
        worker_wait_for(answered_exactly, "the count to be made exact", worker, seconds=120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    body = answers[-1]

    expected = sum("smith" in f"{p.first_name} {p.last_name} {p.email} {p.company}".lower()
                   for p in Person.workspace.all())
    assert (body["count"], body["count_exact"]) == (expected, True)
    assert 2 < expected < everyone
