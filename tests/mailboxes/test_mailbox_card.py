"""The mailbox card on the You page: connect, the server's words on refusal (what was typed
kept), paused reason, disconnect."""

import pytest
from factories import MailboxFactory

from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db


def _form(account, **changes) -> dict:
    return {key: str(value) for key, value in account.connect_body(**changes).items()}


def test_the_card_offers_to_connect(seller_client):
    page = seller_client.get("/account/").content.decode()

    assert "Your mailbox" in page and "Connect your own mailbox" in page


def test_connecting_from_the_page(seller_client, seller, mail_account):
    response = seller_client.post("/account/mailbox/", _form(mail_account), follow=True)

    assert response.redirect_chain == [("/account/", 302)]
    page = response.content.decode()
    assert f"Mailbox {mail_account.address} connected." in page
    assert f"Connected as <strong>{mail_account.address}</strong>" in page
    assert mail_account.password not in page
    assert Mailbox.objects.get(user=seller).state == "ok"


def test_a_refused_login_shows_the_servers_words_and_keeps_what_was_typed(
        seller_client, mail_account):
    response = seller_client.post("/account/mailbox/", _form(mail_account, password="wrong"))

    assert response.status_code == 400
    page = response.content.decode()
    assert "The IMAP login failed: [AUTHENTICATIONFAILED] Authentication failed." in page
    assert f'value="{mail_account.address}"' in page
    assert not Mailbox.objects.exists()


def test_a_paused_mailbox_says_why(seller_client, seller):
    MailboxFactory(user=seller, state="paused",
                   paused_reason="The SMTP login failed: 535 5.7.8 Authentication failed")

    page = seller_client.get("/account/").content.decode()

    assert "Paused:" in page and "535 5.7.8 Authentication failed" in page


def test_disconnecting_from_the_page(seller_client, seller):
    MailboxFactory(user=seller)

    response = seller_client.post("/account/mailbox/disconnect/")

    assert response.status_code == 302
    assert not Mailbox.objects.exists()


def test_the_sent_page_says_the_mailbox_is_paused(seller_client, seller):
    MailboxFactory(user=seller, state="paused",
                   paused_reason="The SMTP login failed: 535 5.7.8 Authentication failed")

    page = seller_client.get("/emails/sent/").content.decode()

    assert "Your mailbox is paused:" in page and "535 5.7.8 Authentication failed" in page
