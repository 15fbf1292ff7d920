"""The person page's unsubscribe panel: the button (confirmed; a confirmation page without
JavaScript), the history, and the admin's remove form with a reason."""

import pytest
from factories import PersonFactory, UnsubscribeFactory

from unsubscribes.models import Unsubscribe

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_button_asks_for_confirmation(seller_client):
    person = PersonFactory()

    page = seller_client.get(f"/people/{person.pk}/").content.decode()

    assert f'hx-post="/people/{person.pk}/unsubscribe/"' in page and "hx-confirm=" in page
    assert "No unsubscribes." in page


def test_without_javascript_a_confirmation_page_comes_first(seller_client):
    person = PersonFactory()

    confirm = seller_client.get(f"/people/{person.pk}/unsubscribe/")
    assert confirm.status_code == 200 and not Unsubscribe.objects.exists()
    assert 'method="post"' in confirm.content.decode()

    posted = seller_client.post(f"/people/{person.pk}/unsubscribe/")

    assert posted.status_code == 302 and posted["Location"] == f"/people/{person.pk}/"
    assert Unsubscribe.objects.get().person == person


def test_htmx_swaps_the_panel_and_the_banner(seller_client, seller):
    person = PersonFactory()

    panel = seller_client.post(f"/people/{person.pk}/unsubscribe/", **HTMX).content.decode()

    unsubscribe = Unsubscribe.objects.get()
    assert unsubscribe.source == "manual" and unsubscribe.created_by == seller
    assert 'id="unsubscribes"' in panel and "In force" in panel
    assert 'id="unsubscribe-banner" hx-swap-oob="true"' in panel and "Unsubscribed" in panel
    # A seller sees no remove form.
    assert "Remove unsubscribe" not in panel


def test_the_history_shows_removed_ones_with_who_and_why(seller_client, admin_user):
    person = PersonFactory()
    UnsubscribeFactory(person=person, source="bounce", removed_at="2026-01-02T10:00Z",
                       removed_by=admin_user, removed_reason="Mailbox fixed")
    UnsubscribeFactory(person=person, source="salesforce")

    page = seller_client.get(f"/people/{person.pk}/").content.decode()

    assert "Email bounced" in page and "Salesforce opt-out" in page
    assert f"by {admin_user}: Mailbox fixed" in page and "In force" in page


def test_an_admin_removes_it_with_a_reason(admin_client):
    unsubscribe = UnsubscribeFactory()
    page = admin_client.get(f"/people/{unsubscribe.person_id}/").content.decode()

    missing = admin_client.post(f"/unsubscribes/{unsubscribe.pk}/remove/", {"reason": " "},
                                **HTMX).content.decode()
    unsubscribe.refresh_from_db()
    assert unsubscribe.in_force and "Say why" in missing

    done = admin_client.post(f"/unsubscribes/{unsubscribe.pk}/remove/",
                             {"reason": "Wrong person"}, **HTMX).content.decode()
    unsubscribe.refresh_from_db()
    assert "Remove unsubscribe" in page
    assert not unsubscribe.in_force and unsubscribe.removed_reason == "Wrong person"
    assert "Wrong person" in done and 'hx-post="/people/' in done


def test_a_seller_cannot_remove_one(seller_client):
    unsubscribe = UnsubscribeFactory()

    response = seller_client.post(f"/unsubscribes/{unsubscribe.pk}/remove/", {"reason": "x"})

    assert response.status_code == 403
    unsubscribe.refresh_from_db()
    assert unsubscribe.in_force


def test_a_duplicate_by_email_shows_as_suppressed(seller_client):
    person = PersonFactory(email="same@example.com")
    twin = PersonFactory(email="SAME@example.com")
    UnsubscribeFactory(person=person)

    page = seller_client.get(f"/people/{twin.pk}/").content.decode()
    listing = seller_client.get("/people/?owner=all&unsubscribed=yes").content.decode()

    assert "suppressed by another person" in page and "Unsubscribed</span>" in page
    assert f'href="/people/{twin.pk}/"' in listing
