"""Saved views of the people list (filters and sort; a seller's own, shared ones made by
admins) and the columns each user chooses."""

import re

import pytest
from factories import AdminFactory, PersonFactory, UserFactory

from people.models import SavedView

pytestmark = pytest.mark.django_db


@pytest.fixture
def ava(client):
    user = UserFactory(username="ava", email="ava.stone@example.com")
    client.force_login(user)
    return user


def names(page: str) -> list[str]:
    return re.findall(r'<td class="col-name"><a href="/people/\d+/">([^<]+)</a>', page)


def test_a_seller_saves_the_list_as_a_view_and_opens_it(client, ava):
    PersonFactory(first_name="Zoe", last_name="Zed", company="Initech")
    PersonFactory(first_name="Amy", last_name="Able", company="Initech")
    PersonFactory(first_name="Bob", last_name="Bell", company="Globex")

    response = client.post("/people/views/", {
        "name": "Initech, Z first", "company": "Initech", "owner": "all", "sort": "-name",
        "search": ""})

    view = SavedView.objects.get()
    assert (view.owner, view.shared) == (ava, False)
    assert view.query == "owner=all&company=Initech&sort=-name"
    assert response.status_code == 302
    assert response["Location"] == "/people/?owner=all&company=Initech&sort=-name"
    page = client.get("/people/").content.decode()
    assert f'href="/people/views/{view.pk}/"' in page
    opened = client.get(f"/people/views/{view.pk}/", follow=True)
    shown = opened.content.decode()
    assert names(shown) == ["Zoe Zed", "Amy Able"]
    assert f'href="/people/views/{view.pk}/" aria-current="true"' in shown


def test_saving_under_a_used_name_replaces_that_view(client, ava):
    client.post("/people/views/", {"name": "Mine", "source": "Webinar"})
    client.post("/people/views/", {"name": "Mine", "source": "Trade show"})

    assert list(SavedView.objects.values_list("query", flat=True)) == [
        "owner=mine&source=Trade+show"]


def test_a_view_needs_a_name_and_keeps_what_was_typed_out_of_nowhere(client, ava):
    response = client.post("/people/views/", {"name": "  ", "company": "Initech"},
                           follow=True)

    assert not SavedView.objects.exists()
    page = response.content.decode()
    assert "The view was not saved: Give the view a name." in page
    # Back on the list as it was.
    assert response.redirect_chain[-1][0] == "/people/?owner=mine&company=Initech"


def test_a_seller_cannot_see_or_use_another_sellers_private_view(client, ava):
    ben = UserFactory(username="ben")
    private = SavedView.objects.create(owner=ben, name="Ben's secret list",
                                       query="owner=all&company=Initech")

    page = client.get("/people/").content.decode()
    assert "Ben&#x27;s secret list" not in page and "Ben's secret list" not in page
    assert client.get(f"/people/views/{private.pk}/").status_code == 404
    assert client.post(f"/people/views/{private.pk}/delete/").status_code == 404
    assert SavedView.objects.filter(pk=private.pk).exists()


def test_an_admin_shares_a_view_every_seller_sees_but_cannot_delete(client, ava):
    admin = AdminFactory()
    client.force_login(admin)
    client.post("/people/views/", {"name": "Hot leads", "owner": "all", "source": "Webinar",
                                   "shared": "on"})
    shared = SavedView.objects.get()
    assert shared.shared

    client.force_login(ava)
    page = client.get("/people/").content.decode()
    assert "Hot leads" in page and "shared" in page
    assert client.get(f"/people/views/{shared.pk}/")["Location"] == (
        "/people/?owner=all&source=Webinar")
    assert client.post(f"/people/views/{shared.pk}/delete/").status_code == 403
    assert SavedView.objects.filter(pk=shared.pk).exists()


def test_a_seller_cannot_share_a_view(client, ava):
    response = client.post("/people/views/", {"name": "Everyone's", "shared": "on"},
                           follow=True)

    assert not SavedView.objects.exists()
    assert "Only admins share views." in response.content.decode()


def test_a_seller_deletes_their_own_view(client, ava):
    view = SavedView.objects.create(owner=ava, name="Old", query="owner=mine")

    assert client.post(f"/people/views/{view.pk}/delete/").status_code == 302
    assert not SavedView.objects.exists()


def test_chosen_columns_are_remembered_per_user_and_the_cached_list_follows(client, ava):
    PersonFactory(owner_email=ava.email, phone="+1 415 555 0199", title="CFO")
    before = client.get("/people/").content.decode()
    assert 'class="col-title"' in before and 'class="col-phone"' not in before

    response = client.post("/people/columns/", {"column": ["phone", "company", "bogus"],
                                                "company": "Acme Corp"})

    assert response["Location"] == "/people/?owner=mine&company=Acme+Corp"
    # The same address as before, served from the list cache: it shows the new columns.
    after = client.get("/people/").content.decode()
    assert '<th scope="col" class="col-company"' in after
    assert "+1 415 555 0199" in after
    assert 'class="col-title"' not in after and "CFO" not in after
    # Another user's list keeps the default columns.
    client.force_login(UserFactory())
    assert 'class="col-title"' in client.get("/people/?owner=all").content.decode()


def test_no_extra_column_leaves_only_the_name(client, ava):
    PersonFactory(owner_email=ava.email)
    client.post("/people/columns/", {})

    page = client.get("/people/").content.decode()
    assert re.findall(r'<th scope="col" class="col-(\w+)"', page) == ["name"]


# --------------------------------------------------------------------------- the API


@pytest.fixture
def api(ava):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(ava)
    return client


def test_the_api_saves_a_view_in_the_pages_order_and_links_it(api, ava):
    response = api.post("/api/v1/people/views/", {
        "name": "Initech", "query": "sort=-name&company=Initech&owner=all"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["query"] == "owner=all&company=Initech&sort=-name"
    assert body["url"] == "/people/?owner=all&company=Initech&sort=-name"
    assert (body["owner"], body["shared"]) == (ava.pk, False)
    listed = api.get("/api/v1/people/views/").json()
    assert [view["name"] for view in listed["results"]] == ["Initech"]


@pytest.mark.parametrize(("query", "problem"), [
    ("salary=high", "Unknown parameter: salary."),
    ("sort=salary", "sort: Select a valid choice."),
    ("owner=nobody", "owner: Choose an owner from the list."),
])
def test_the_api_refuses_a_query_the_list_would_not_take(api, query, problem):
    response = api.post("/api/v1/people/views/", {"name": "Bad", "query": query},
                        format="json")

    assert response.status_code == 400
    assert problem in " ".join(response.json()["query"])


def test_the_api_keeps_private_views_private_and_sharing_for_admins(api, ava):
    from rest_framework.test import APIClient

    ben = UserFactory(username="ben")
    private = SavedView.objects.create(owner=ben, name="Ben's", query="owner=mine")
    shared = SavedView.objects.create(owner=AdminFactory(), name="Team", query="owner=all",
                                      shared=True)

    assert [v["name"] for v in api.get("/api/v1/people/views/").json()["results"]] == ["Team"]
    assert api.get(f"/api/v1/people/views/{private.pk}/").status_code == 404
    assert api.delete(f"/api/v1/people/views/{private.pk}/").status_code == 404
    assert api.delete(f"/api/v1/people/views/{shared.pk}/").status_code == 403
    refused = api.post("/api/v1/people/views/", {"name": "Mine", "shared": True},
                       format="json")
    assert refused.status_code == 400
    assert refused.json() == {"shared": ["Only admins share views."]}

    admin = APIClient()
    admin.force_authenticate(AdminFactory())
    assert admin.delete(f"/api/v1/people/views/{private.pk}/").status_code == 204
