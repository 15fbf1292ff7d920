# ruff: noqa: F811  (fixtures imported by name from tracking_fixtures)
"""The unsubscribe link in every sales email: a confirmation page without a login (which
address, one button), the button, and RFC 8058 one-click (a POST with
``List-Unsubscribe=One-Click``: unsubscribed at once, 200, no redirect, no CSRF token)."""

from __future__ import annotations

import pytest
from django.test import Client
from tracking_fixtures import (  # noqa: F401
    clean_outbox,
    committed,
    make_email,
    person,
    sent_email,
    signals_received,
)

from emails.models import EmailEvent
from emails.tokens import email_token
from syncing.models import Delivery
from unsubscribes.models import Unsubscribe

pytestmark = pytest.mark.django_db


def unsubscribe_path(email) -> str:
    return f"/e/u/{email_token(email.pk, 'unsubscribe')}/"


def test_the_page_shows_the_address_and_one_button_without_a_login(client, sent_email):
    response = client.get(unsubscribe_path(sent_email))

    assert response.status_code == 200
    html = response.content.decode()
    assert sent_email.to_email in html
    assert html.count("<button") == 1 and 'method="post"' in html
    assert "<script" not in html
    assert not Unsubscribe.objects.exists(), "showing the page unsubscribes nobody"


def test_the_button_unsubscribes_the_address(sent_email, signals_received, committed):
    browser = Client(enforce_csrf_checks=True)  # a recipient: no session, no CSRF cookie

    with committed():
        response = browser.post(unsubscribe_path(sent_email))

    assert response.status_code == 200 and "Location" not in response
    assert "You are unsubscribed" in response.content.decode()
    unsubscribe = Unsubscribe.objects.get()
    assert (unsubscribe.person, unsubscribe.email, unsubscribe.source) == (
        sent_email.person, sent_email.person.email, "link")
    assert unsubscribe.deliveries.get().target == Delivery.Target.SALESFORCE
    assert EmailEvent.objects.get(email=sent_email).kind == "unsubscribed"
    assert signals_received == [(sent_email.pk, "unsubscribed")]
    assert "You are unsubscribed" in browser.get(unsubscribe_path(sent_email)).content.decode()


def test_one_click_unsubscribes_at_once(sent_email):
    provider = Client(enforce_csrf_checks=True)

    response = provider.post(unsubscribe_path(sent_email),
                             data="List-Unsubscribe=One-Click",
                             content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200 and "Location" not in response
    assert Unsubscribe.objects.get().source == "link"


def test_one_click_as_multipart_and_twice_keeps_one_unsubscribe(sent_email):
    provider = Client(enforce_csrf_checks=True)

    for _ in range(2):
        response = provider.post(unsubscribe_path(sent_email),
                                 {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    assert Unsubscribe.objects.count() == 1
    assert EmailEvent.objects.filter(kind="unsubscribed").count() == 1


def test_a_bad_token_unsubscribes_nobody(client, sent_email):
    token = email_token(sent_email.pk, "unsubscribe")
    for path in (f"/e/u/{token[:-2]}xx/", f"/e/u/{sent_email.pk}/",
                 f"/e/u/{email_token(sent_email.pk, 'open')}/"):
        for response in (client.get(path),
                         client.post(path, data="List-Unsubscribe=One-Click",
                                     content_type="application/x-www-form-urlencoded")):
            assert response.status_code == 404 and "Location" not in response, path
    assert not Unsubscribe.objects.exists()


def test_other_pages_still_need_csrf(seller):
    """Only the unsubscribe link is exempt: a logged-in form elsewhere still checks it."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(seller)

    assert browser.post("/logout/").status_code == 403
