"""The people list and the person page (SPEC section 2): search, filters, sorting, keyset pages,
empty states, Salesforce links, escaping of untrusted Marketo data, and read-only access."""

import re

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from factories import PersonFactory, UnsubscribeFactory, UserFactory
from seed_expectations import qualifying_leads

from people import selectors
from people.models import Person
from people.selectors import PersonCriteria, person_list
from people.services import person_apply_leads
from sandbox import seed
from syncing.models import SalesforceConnection

pytestmark = pytest.mark.django_db

LEADS = 400
AVA = "ava.stone@example.com"
BEN = "ben.okafor@example.com"


@pytest.fixture(autouse=True)
def private_cache(settings):
    """A cache of this module's own, empty for each test (throttles and lists use it), and a
    fast password hasher for the users the tests make."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "people-pages"}}
    cache.clear()


@pytest.fixture
def people():
    """400 seed leads stored exactly as the Marketo sync stores them; by Marketo id."""
    person_apply_leads(seed.lead(i, 1, LEADS) for i in range(1, LEADS + 1))
    return qualifying_leads(LEADS)


@pytest.fixture
def ava(client):
    """A seller whose email is the sales owner of some seed leads."""
    user = UserFactory(email="Ava.Stone@example.com", first_name="Ava", last_name="Stone")
    client.force_login(user)
    return client


def listed(response) -> list[Person]:
    """The people in a list page, in the order shown."""
    assert response.status_code == 200
    ids = [int(pk) for pk in re.findall(r'href="/people/(\d+)/"', response.content.decode())]
    by_pk = Person.objects.in_bulk(ids)
    return [by_pk[pk] for pk in ids]


def link(page: str, text: str) -> str | None:
    """The address of the link labelled ``text`` in ``page``."""
    match = re.search(rf'<a [^>]*href="([^"]+)"[^>]*>{re.escape(text)}', page)
    return match.group(1).replace("&amp;", "&") if match else None


def walk(client, url) -> list[Person]:
    """Every person of a list, following the Next links from ``url``."""
    seen = []
    while url:
        response = client.get(url)
        seen += listed(response)
        url = link(response.content.decode(), "Next ›")
    return seen


def test_a_seller_sees_their_own_people_by_default(ava, people):
    shown = walk(ava, "/people/")

    mine = {i for i, lead in people.items() if lead["leadOwnerEmailAddress"] == AVA}
    assert {person.marketo_id for person in shown} == mine
    assert len(shown) == len(mine) > 0


def test_everyone_and_a_given_seller(ava, people):
    UserFactory(email=BEN, first_name="Ben", last_name="Okafor")

    everyone = walk(ava, "/people/?owner=all")
    bens = walk(ava, f"/people/?owner={BEN}")

    assert {p.marketo_id for p in everyone} == set(people)
    assert {p.marketo_id for p in bens} == {
        i for i, lead in people.items() if lead["leadOwnerEmailAddress"] == BEN}
    assert f'<option value="{BEN}" selected>' in ava.get(f"/people/?owner={BEN}").content.decode()


def test_an_admin_sees_everyone_by_default(admin_client, people):
    assert {p.marketo_id for p in walk(admin_client, "/people/")} == set(people)


@pytest.mark.parametrize("term", ["globex", "SMITH", "olivia", "@example.org", "&"])
def test_search_looks_in_name_email_and_company(ava, people, term):
    expected = {i for i, lead in people.items() if term.lower() in " ".join(
        str(lead[key] or "") for key in ("firstName", "lastName", "email", "company")).lower()}

    shown = walk(ava, f"/people/?owner=all&search={term.replace('&', '%26')}")

    assert expected, "the seed should hold matches for this term"
    assert {p.marketo_id for p in shown} == expected


def test_search_matches_a_full_name(ava, people):
    lead = next(lead for lead in people.values()
                if lead["lastName"] and "<" not in lead["firstName"])

    shown = walk(ava, f"/people/?owner=all&search={lead['firstName']} {lead['lastName']}")

    assert lead["id"] in {p.marketo_id for p in shown}
    assert all(p.first_name == lead["firstName"] and p.last_name == lead["lastName"]
               for p in shown)


def test_search_treats_wildcards_as_text(ava, people):
    assert listed(ava.get("/people/?owner=all&search=%25")) == []
    assert listed(ava.get("/people/?owner=all&search=_")) == []


def test_filters_company_and_source(ava, people):
    shown = walk(ava, "/people/?owner=all&company=acme corp&source=Webinar")

    assert {p.marketo_id for p in shown} == {
        i for i, lead in people.items()
        if lead["company"] == "Acme Corp" and lead["leadSource"] == "Webinar"}


def test_filter_unsubscribed(ava, people):
    unsubscribed = Person.objects.order_by("pk")[:3]
    for person in unsubscribed:
        UnsubscribeFactory(person=person)
    UnsubscribeFactory(person=Person.objects.order_by("pk")[5], removed_at="2026-01-01T00:00Z")

    yes = walk(ava, "/people/?owner=all&unsubscribed=yes")
    no = walk(ava, "/people/?owner=all&unsubscribed=no")

    assert {p.pk for p in yes} == {p.pk for p in unsubscribed}
    assert len(no) == len(people) - 3
    assert "Unsubscribed</span>" in ava.get("/people/?owner=all&unsubscribed=yes").content.decode()


@pytest.mark.parametrize("sort,key", [
    ("name", lambda p: (p.last_name, p.first_name, p.pk)),
    ("-company", lambda p: (p.company, p.pk)),
    ("-updated", lambda p: (p.marketo_updated_at, p.pk)),
])
def test_sorting_and_paging_show_everyone_once_in_order(ava, people, sort, key):
    shown = walk(ava, f"/people/?owner=all&sort={sort}")

    assert len(shown) == len(people)
    assert shown == sorted(Person.objects.all(), key=key, reverse=sort.startswith("-"))


def test_last_page_and_previous_links(ava, people):
    first = ava.get("/people/?owner=all&sort=email").content.decode()
    last = ava.get(link(first, "Last »")).content.decode()
    everyone = sorted(Person.objects.all(), key=lambda p: (p.email, p.pk))

    shown = [int(pk) for pk in re.findall(r'href="/people/(\d+)/"', last)]
    assert shown == [p.pk for p in everyone[-len(shown):]]
    assert link(last, "Next ›") is None
    before = [p.pk for p in listed(ava.get(link(last, "‹ Previous")))]
    assert before == [p.pk for p in everyone[-len(shown) - 50:-len(shown)]]
    assert link(first, "‹ Previous") is None


def test_first_page_has_no_previous_link_and_counts_people(ava, people):
    page = ava.get("/people/?owner=all").content.decode()

    assert link(page, "‹ Previous") is None
    assert f"{len(people)} people." in page


def test_htmx_requests_get_only_the_results(ava, people):
    response = ava.get("/people/?owner=all&search=smith", headers={"HX-Request": "true"})

    body = response.content.decode()
    assert "<html" not in body
    assert "<table" in body
    assert "HX-Request" in response["Vary"]


def test_an_out_of_date_page_link_shows_the_first_page(ava, people):
    page = ava.get("/people/?owner=all&cursor=not-a-cursor").content.decode()

    assert "That page link was out of date" in page
    assert [p.pk for p in listed(ava.get("/people/?owner=all"))] == [
        int(pk) for pk in re.findall(r'href="/people/(\d+)/"', page)]


def test_empty_workspace_says_people_come_from_marketo(ava):
    assert "No people yet." in ava.get("/people/").content.decode()


def test_a_seller_without_people_is_told_why(client, people):
    client.force_login(UserFactory(email="new.seller@example.com"))

    page = client.get("/people/").content.decode()

    assert "You have no people yet." in page
    assert "new.seller@example.com" in page


def test_a_search_without_matches_says_so(ava, people):
    page = ava.get("/people/?search=zzzzzz").content.decode()

    assert "No people match your search." in page
    assert "search everyone" in page


def test_html_looking_names_render_as_text_on_both_pages(ava):
    person = PersonFactory(first_name="<script>alert('x')</script>", last_name="<b>Bold</b>",
                           company="AT&T <Labs>", title="<img src=x onerror=alert(1)>",
                           linkedin_url="javascript:alert(1)", owner_email=AVA)

    listing = ava.get("/people/").content.decode()
    detail = ava.get(f"/people/{person.pk}/").content.decode()

    for page in (listing, detail):
        assert "<script>alert" not in page
        assert "<b>Bold</b>" not in page
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
        assert "AT&amp;T &lt;Labs&gt;" in page
    assert "<img src=x" not in detail
    assert 'href="javascript:' not in detail


def test_person_page_shows_every_field_the_owner_and_salesforce_links(ava, people):
    SalesforceConnection(url="https://acme.my.salesforce.com", client_id="id",
                         client_secret="secret").save()
    lead = next(lead for lead in people.values() if lead["sfdcOpptyId"] and lead["title"]
                and lead["phone"] and lead["linkedInProfileURL"] and "<" not in lead["firstName"])
    person = Person.objects.get(marketo_id=lead["id"])

    page = ava.get(f"/people/{person.pk}/").content.decode()

    for key in ("firstName", "lastName", "email", "company", "title", "phone", "leadSource",
                "sfdcContactId", "sfdcAccountId", "sfdcOpptyId", "leadOwnerEmailAddress"):
        assert str(lead[key]).replace("'", "&#x27;").replace("&", "&amp;") in page, key
    assert f'href="{lead["linkedInProfileURL"]}"' in page
    assert f"<dd>{lead['id']}</dd>" in page
    assert f"{lead['leadOwnerFirstName']} {lead['leadOwnerLastName']}" in page
    for sobject, key in (("Contact", "sfdcContactId"), ("Account", "sfdcAccountId"),
                         ("Opportunity", "sfdcOpptyId")):
        assert (f'href="https://acme.my.salesforce.com/lightning/r/{sobject}/{lead[key]}/view"'
                in page)


def test_person_page_without_salesforce_shows_ids_without_links(ava):
    person = PersonFactory(sfdc_lead_id="00Q000000000042AAA")

    page = ava.get(f"/people/{person.pk}/").content.decode()

    assert "00Q000000000042AAA" in page
    assert "/lightning/r/" not in page


def test_person_page_loads_the_marketo_panel_lazily_and_has_history_sections(ava):
    person = PersonFactory()
    UnsubscribeFactory(person=person, source="bounce")

    page = ava.get(f"/people/{person.pk}/").content.decode()

    assert f'hx-get="/people/{person.pk}/marketo-activities/"' in page
    assert 'hx-trigger="load"' in page
    # The actions load their forms when opened.
    assert f'hx-get="/people/{person.pk}/calls/?part=form"' in page
    assert f'hx-get="/people/{person.pk}/tasks/?part=form"' in page
    assert f'hx-get="/people/{person.pk}/emails/?part=compose"' in page
    assert "Email bounced" in page


def test_people_outside_the_workspace_are_not_found(ava):
    person = PersonFactory(in_workspace=False, removed_reason="owner_cleared")

    assert ava.get(f"/people/{person.pk}/").status_code == 404
    assert ava.get(f"/people/{person.pk}/marketo-activities/").status_code == 404
    assert person.pk not in {p.pk for p in listed(ava.get("/people/?owner=all"))}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_people_pages_are_read_only(ava, method):
    person = PersonFactory()

    for path in ("/people/", f"/people/{person.pk}/"):
        assert getattr(ava, method)(path).status_code == 405


def test_pages_need_a_login(client):
    person = PersonFactory()

    for path in ("/people/", f"/people/{person.pk}/", f"/people/{person.pk}/marketo-activities/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_sellers_never_reach_admin_pages(ava):
    assert ava.get("/settings/").status_code == 403
    assert ava.get("/api/v1/sync/settings/").status_code == 403
    assert "Settings</a>" not in ava.get("/people/").content.decode()


def test_search_form_posts_nothing_and_logout_form_has_csrf(ava):
    page = ava.get("/people/").content.decode()

    assert re.search(r'<form method="get" action="/people/"', page)
    assert 'name="csrfmiddlewaretoken"' in page


postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'",
                                   reason="PostgreSQL's indexes and planner")


@postgres_only
@pytest.mark.parametrize("criteria,index", [
    (PersonCriteria(search="olivia.smith12"), "person_search_trgm"),
    (PersonCriteria(company="Globex"), "person_company_filter"),
    (PersonCriteria(owner_email=AVA), "person_owner_name"),
    (PersonCriteria(email="Noah.Brown1@example.net"), "person_email_upper"),
])
def test_list_queries_can_use_their_indexes(people, criteria, index):
    """The indexes of people/migrations/0002 match the selectors' SQL exactly (a mismatch would
    silently mean full scans at a million people): with every other index dropped (inside the
    test's transaction) and sequential scans discouraged, the query uses the index."""
    sql, params = person_list(criteria).order_by("last_name", "first_name", "pk")[:51] \
        .query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'people_person' "
                       "AND indexname <> %s AND indexname NOT LIKE '%%_key' "
                       "AND indexname NOT LIKE '%%_pkey'", [index])
        for (other,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{other}"')
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)

    # Used with a condition on it, not just read whole because its predicate matches.
    assert re.search(rf"{index}[^\n]*\n\s+Index Cond", plan), plan


@postgres_only
def test_large_lists_show_the_planners_estimate(ava, people, monkeypatch):
    monkeypatch.setattr(selectors, "_planner_estimate", lambda query: 31_660)

    assert "About 32,000 people." in ava.get("/people/?owner=all").content.decode()


def test_a_live_search_costs_a_handful_of_queries(ava, people, django_assert_max_num_queries):
    second_page = link(ava.get("/people/?owner=all&search=example").content.decode(), "Next ›")

    # Session, user, the planner's estimates of the matches and of the people without the
    # search (whether its window is worth walking; PostgreSQL), the search window's edge, the
    # page, a one-row look back and the count: no seller or source lists.
    with django_assert_max_num_queries(8):
        response = ava.get(second_page, headers={"HX-Request": "true"})

    assert len(listed(response)) == 50


def test_unknown_filter_values_fall_back_to_defaults(ava, people):
    page = ava.get("/people/?owner=nobody&unsubscribed=maybe&sort=salary").content.decode()

    assert '<option value="mine" selected>' in page
    assert [p.pk for p in listed(ava.get("/people/"))] == [
        int(pk) for pk in re.findall(r'href="/people/(\d+)/"', page)]
