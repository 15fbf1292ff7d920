"""The people page's filter choices follow the data as the lists do: a sync that brings a new
lead source shows it in the Source filter on the next page, not ten minutes later (issue 24,
defect 4)."""

import pytest
from django.core.cache import cache
from factories import UserFactory

from people.services import person_apply_leads
from sandbox import seed

pytestmark = pytest.mark.django_db

AVA = "ava.stone@example.com"


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "filter-choices"}}
    cache.clear()


def lead(marketo_id: int, source: str) -> dict:
    record = seed.lead(marketo_id, 1, 50)
    record.update({"sfdcLeadOwnerId": "005000000000001AAA", "leadOwnerEmailAddress": AVA,
                   "leadSource": source})
    return record


def source_options(client) -> str:
    page = client.get("/people/", {"owner": "all"}).content.decode()
    return page.split('id="id_source"')[1].split("</select>")[0]


def test_a_synced_source_is_a_choice_on_the_next_page(client):
    client.force_login(UserFactory(email=AVA))
    person_apply_leads([lead(1, "Webinar")])
    assert "Webinar" in source_options(client) and "Trade show" not in source_options(client)

    person_apply_leads([lead(2, "Trade show")])

    assert "Trade show" in source_options(client)
