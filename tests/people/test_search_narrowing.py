"""A long search reads fewer trigram lists on a large table (issue #27): the pattern the index
answers is narrowed, the whole term is checked on the rows it finds, and what a search returns
never changes."""

import random
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import PersonFactory, UserFactory
from rest_framework.authtoken.models import Token

from people import search_narrowing
from people.models import Person
from people.search_narrowing import PeopleSample, _fragments, choose_pattern

FIRST = ["Olivia", "Oliver", "Olive", "Liam", "Noah", "Emma", "Ava", "Sophia", "Isabella", "Mia",
         "Lucas", "Mason", "Ethan", "Logan", "Livia", "Vivian", "Harper", "Evelyn", "Abigail",
         "Ella", "Scarlett", "Grace", "Chloe", "Victoria", "Riley", "Aria", "Lily", "Aubrey",
         "Zoey", "Penelope", "Layla", "Nora", "Camila", "Hannah", "Addison", "Eleanor",
         "Stella", "Natalie", "Zoë", "Leah"]
LAST = ["Smith", "Smithers", "Goldsmith", "Schmidt", "Mitchell", "Johnson", "Williams", "Brown",
        "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez",
        "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis",
        "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Ørsted"]


def documents() -> list[str]:
    return [f"{first} {last} {first}.{last}@example.com Acme Corp".lower()
            for first in FIRST for last in LAST]


def like(pattern: str, document: str) -> bool:
    """ILIKE of a pattern without escapes, as PostgreSQL reads it."""
    parts = [re.escape(part) for part in pattern.split("%")]
    return re.fullmatch(".*".join(parts), document, re.IGNORECASE | re.DOTALL) is not None


def test_a_full_name_reads_two_rare_trigrams_instead_of_all():
    """'oli', 'liv', 'via' and 'ith' are common among these people; 'ivi' and 'smi' together
    leave few candidates, so the index reads those two."""
    pattern = choose_pattern("olivia smith", PeopleSample(documents(), people=10_000_000))

    assert pattern is not None
    trigrams = sum(len(fragment) - 2 for fragment in pattern.strip("%").split("%"))
    assert trigrams < 8  # the term's own: oli liv ivi via smi mit ith, and padded ones
    assert like(pattern, "olivia smith")


def test_a_common_word_keeps_its_own_pattern():
    """Every person shares each trigram of 'example': the cost is in the rows, so narrowing
    would only check each of them twice."""
    assert choose_pattern("example", PeopleSample(documents(), people=10_000_000)) is None


def test_a_rare_word_gives_a_shorter_pattern_still_implied_by_it():
    pattern = choose_pattern("Schmidt", PeopleSample(documents(), people=10_000_000))

    assert pattern is None or like(pattern, "Schmidt")


@pytest.mark.parametrize("seed", range(20))
def test_every_document_holding_the_term_matches_the_narrowed_pattern(seed):
    """The narrowed pattern is implied by the term, whatever the sample says: fragments in the
    term's order that do not overlap, in the term's own letters (case folded by ILIKE)."""
    chance = random.Random(seed)
    sample = PeopleSample([
        "".join(chance.choice("abcdeolivsmth .@") for _ in range(chance.randint(5, 40)))
        for _ in range(500)], people=10_000_000)
    term = "".join(chance.choice("abcdeolivsmth .-_%ÄÖü") for _ in range(chance.randint(3, 24)))
    pattern = choose_pattern(term, sample)
    if pattern is None:
        return
    for holder in (term, f"x{term}y", f"{term.upper()} tail", f"head {term.lower()}"):
        assert like(pattern, holder), (term, pattern, holder)


def test_trigrams_sharing_letters_join_into_one_fragment():
    """'%oli%ivi%' would not match "olivia" ('oli' ends after 'ivi' starts)."""
    assert _fragments(["olivia"], {(0, 0), (0, 2)}) == ["olivi"]
    assert _fragments(["olivia"], {(0, 0), (0, 3)}) == ["oli", "via"]
    assert _fragments(["olivia", "smith"], {(1, 0), (0, 1)}) == ["liv", "smi"]


# ------------------------------------------------------------------- through PostgreSQL


pytestmark_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's")


@pytest.fixture
def narrowing_on_small_tables(monkeypatch):
    """Narrowing from the first person (it starts at 200,000), with a fresh sample."""
    monkeypatch.setattr(search_narrowing, "NARROW_FROM_PEOPLE", 0)
    search_narrowing.forget_sample()
    yield
    search_narrowing.forget_sample()


@pytest.fixture
def many_names(db):
    Person.objects.bulk_create(
        PersonFactory.build(first_name=first, last_name=last,
                            email=f"{first}.{last}{n}@example.com".lower(),
                            marketo_id=700_000 + n)
        for n, (first, last) in enumerate((first, last) for first in FIRST for last in LAST))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE people_person")


@pytest.fixture
def api(client):
    token = Token.objects.create(user=UserFactory())
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    return client


def expected_ids(term: str) -> set[int]:
    return {p.pk for p in Person.workspace.all()
            if term.lower() in f"{p.first_name} {p.last_name} {p.email} {p.company}".lower()}


@pytestmark_postgresql
@pytest.mark.django_db
@pytest.mark.parametrize("term", ["olivia smith", "OLIVIA SMITH", "zoë ørsted", "ZOË Ørsted",
                                  "livia.goldsmith", "vivian mitchell", "a sm", "olivia  smith"])
def test_a_narrowed_search_finds_exactly_what_the_term_finds(api, many_names, monkeypatch,
                                                             narrowing_on_small_tables, term):
    """Read through the trigram index (the window skipped), page by page, and counted: the same
    people as the term itself, with the narrowed pattern in the SQL whenever one was chosen."""
    from people import selectors

    monkeypatch.setattr(selectors, "_window_futile", lambda *args: True)
    narrowed = search_narrowing.narrowed_pattern(term)

    found, url = [], f"/api/v1/people/?search={term}&page_size=7"
    with CaptureQueriesContext(connection) as queries:
        while url:
            page = api.get(url).json()
            found += [person["id"] for person in page["results"]]
            url = page["next"]

    assert sorted(found) == sorted(expected_ids(term))
    assert len(found) == len(set(found))
    assert page["count"] == len(found) and page["count_exact"]
    if narrowed:
        assert any(narrowed in query["sql"] for query in queries.captured_queries)


@pytestmark_postgresql
@pytest.mark.django_db
def test_a_full_name_is_narrowed_from_a_sample_of_the_table(many_names,
                                                            narrowing_on_small_tables):
    """The sample is read from the table itself (TABLESAMPLE); a full name among these 1,600
    people reads fewer trigrams than its own eight."""
    pattern = search_narrowing.narrowed_pattern("olivia smith")

    assert pattern is not None
    assert sum(len(fragment) - 2 for fragment in pattern.strip("%").split("%")) < 7


@pytestmark_postgresql
@pytest.mark.django_db
def test_below_the_threshold_no_person_is_sampled(many_names):
    """1,600 people (PostgreSQL's own count of them, reltuples): the term is its own pattern,
    and the sample read no document."""
    search_narrowing.forget_sample()
    try:
        assert search_narrowing.narrowed_pattern("olivia smith") is None
        assert search_narrowing._sample.people == 1600
        assert search_narrowing._sample.documents == []
    finally:
        search_narrowing.forget_sample()


@pytestmark_postgresql
@pytest.mark.django_db
def test_a_failed_sample_leaves_search_working_in_its_transaction(many_names, monkeypatch,
                                                                 narrowing_on_small_tables,
                                                                 caplog):
    """The sample is an optimisation: when reading it fails, the term is its own pattern and the
    transaction the search runs in goes on."""
    from django.db import transaction

    from people.selectors import PersonCriteria, person_page

    monkeypatch.setattr(search_narrowing, "_DOCUMENT", "no_such_column")
    with transaction.atomic():
        page = person_page(PersonCriteria(search="olivia smith"), size=200)
        assert Person.objects.count() == len(FIRST) * len(LAST)  # the transaction still works

    assert sorted(p.pk for p in page.people) == sorted(expected_ids("olivia smith"))
    assert "people search sample failed" in caplog.text
