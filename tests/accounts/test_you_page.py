"""The You page: name, email signature, password change and time zone, one card each; a refused
form keeps what was typed."""

import pytest
from django.http import HttpRequest

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def test_the_page_has_a_card_per_setting(seller_client):
    page = seller_client.get("/account/").content.decode()

    for card in ("name-card", "signature-card", "password-card", "time-zone-card"):
        assert f'id="{card}"' in page
    for action in ("/account/name/", "/account/signature/", "/account/password/", "/account/"):
        assert f'action="{action}"' in page


def test_name_is_saved(seller_client, seller):
    response = seller_client.post("/account/name/", {"first_name": " Ava ", "last_name": "Stone"})

    assert response.status_code == 302 and response["Location"] == "/account/"
    seller.refresh_from_db()
    assert (seller.first_name, seller.last_name) == ("Ava", "Stone")
    assert "Name saved." in seller_client.get("/account/").content.decode()


def test_signature_is_saved_and_shown_and_can_be_removed(seller_client, seller):
    seller_client.post("/account/signature/", {"signature": "Ava Stone  \r\nAcme Sales\r\n"})

    seller.refresh_from_db()
    assert seller.signature == "Ava Stone\nAcme Sales"
    assert "Ava Stone\nAcme Sales</textarea>" in seller_client.get("/account/").content.decode()

    seller_client.post("/account/signature/", {"signature": ""})
    seller.refresh_from_db()
    assert seller.signature == ""


def test_a_signature_too_long_is_refused_with_the_text_kept(seller_client, seller):
    typed = "x" * 2001

    response = seller_client.post("/account/signature/", {"signature": typed})

    assert response.status_code == 400
    assert typed in response.content.decode() and "at most 2000" in response.content.decode()
    seller.refresh_from_db()
    assert seller.signature == ""


def test_password_change_keeps_the_session_and_the_new_password_works(client, seller):
    client.force_login(seller)

    response = client.post("/account/password/", {
        "old_password": PASSWORD, "new_password1": "a-much-longer-pass-2026",
        "new_password2": "a-much-longer-pass-2026"})

    assert response.status_code == 302
    assert client.get("/account/").status_code == 200  # still signed in
    client.logout()
    assert client.login(request=HttpRequest(), username=seller.username,
                        password="a-much-longer-pass-2026")


def test_a_wrong_old_password_or_a_mismatch_is_refused(seller_client, seller):
    wrong = seller_client.post("/account/password/", {
        "old_password": "nope", "new_password1": "a-much-longer-pass-2026",
        "new_password2": "a-much-longer-pass-2026"})
    mismatch = seller_client.post("/account/password/", {
        "old_password": PASSWORD, "new_password1": "a-much-longer-pass-2026",
        "new_password2": "another-long-pass-2026"})

    assert wrong.status_code == 400 and "old password was entered incorrectly" in \
        wrong.content.decode()
    assert mismatch.status_code == 400 and "didn’t match" in mismatch.content.decode()
    assert User.objects.get(pk=seller.pk).check_password(PASSWORD)


def test_time_zone_is_still_saved_from_its_card(seller_client, seller):
    response = seller_client.post("/account/", {"time_zone": "Asia/Tokyo"})

    assert response.status_code == 302
    seller.refresh_from_db()
    assert seller.time_zone == "Asia/Tokyo"
