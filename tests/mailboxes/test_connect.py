"""Connecting a seller's mailbox (API and You page): both logins tried first against the real
servers (Dovecot, an SMTP submission server requiring AUTH), the server's words on refusal,
the plain-text rule, secrets never returned."""

import pytest
from factories import MailboxFactory, UserFactory
from rest_framework.test import APIClient

from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(seller):
    client = APIClient()
    client.force_authenticate(seller)
    return client


def test_connect_tests_both_logins_and_finds_the_sent_folder(api, seller, mail_account):
    response = api.post("/api/v1/mailboxes/", mail_account.connect_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "ok" and body["user"] == seller.pk
    assert body["sent_folder"] == "Sent"  # flagged \Sent in Dovecot's config
    assert body["address"] == mail_account.address
    assert "password" not in body and mail_account.password not in response.content.decode()
    mailbox = Mailbox.objects.get(user=seller)
    assert mailbox.password == mail_account.password


def test_a_refused_imap_login_is_named_with_the_servers_words(api, seller, mail_account):
    response = api.post("/api/v1/mailboxes/", mail_account.connect_body(password="wrong"),
                        format="json")

    assert response.status_code == 400
    assert response.json() == {"password": [
        "The IMAP login failed: [AUTHENTICATIONFAILED] Authentication failed."]}
    assert not Mailbox.objects.exists()


def test_a_refused_smtp_login_is_named_with_the_servers_words(api, mail_account):
    mail_account.smtp.smtp.accounts[mail_account.address] = "another"

    response = api.post("/api/v1/mailboxes/", mail_account.connect_body(), format="json")

    assert response.status_code == 400
    assert response.json() == {"password": [
        "The SMTP login failed: 535 5.7.8 Authentication credentials invalid"]}


def test_an_unreachable_server_is_named(api, mail_account):
    body = mail_account.connect_body(smtp_port=1)  # nothing listens on port 1 of this machine

    response = api.post("/api/v1/mailboxes/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["smtp_host"], response.json()
    assert response.json()["smtp_host"][0].startswith(
        "The SMTP server 127.0.0.1:1 could not be reached:")


def test_plain_text_is_refused_for_another_host_unless_allowed(api, settings):
    body = {"imap_host": "imap.example.com", "imap_port": 143, "imap_security": "none",
            "smtp_host": "smtp.example.com", "smtp_port": 587, "smtp_security": "starttls",
            "username": "ava@example.com", "password": "x"}

    response = api.post("/api/v1/mailboxes/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["imap_security"]
    assert "MAILBOX_ALLOW_INSECURE=true" in response.json()["imap_security"][0]

    settings.MAILBOX_ALLOW_INSECURE = True
    response = api.post("/api/v1/mailboxes/", body, format="json")
    # Allowed now: the login is tried (and the made-up host cannot be reached).
    assert list(response.json()) == ["imap_host"]


def test_reconnecting_resumes_a_paused_mailbox_and_keeps_the_reading_place(
        api, seller, mail_account):
    api.post("/api/v1/mailboxes/", mail_account.connect_body(), format="json")
    Mailbox.objects.filter(user=seller).update(state="paused", paused_reason="login failed",
                                               uidvalidity=7, last_uid=42)

    response = api.post("/api/v1/mailboxes/", mail_account.connect_body(), format="json")

    assert response.status_code == 201
    mailbox = Mailbox.objects.get(user=seller)
    assert (mailbox.state, mailbox.paused_reason) == ("ok", "")
    assert (mailbox.uidvalidity, mailbox.last_uid) == (7, 42)
    assert Mailbox.objects.count() == 1


def test_patch_reconnects_with_the_saved_password(api, seller, mail_account):
    created = api.post("/api/v1/mailboxes/", mail_account.connect_body(), format="json").json()

    response = api.patch(f"/api/v1/mailboxes/{created['id']}/",
                         {"imap_port": mail_account.imap.port}, format="json")
    assert response.status_code == 200, response.content

    response = api.patch(f"/api/v1/mailboxes/{created['id']}/", {"password": "nope"},
                         format="json")
    assert response.status_code == 400
    assert Mailbox.objects.get(user=seller).password == mail_account.password


def test_sellers_see_their_own_admins_everyones(api, seller, admin_user):
    own = MailboxFactory(user=seller)
    other = MailboxFactory()

    assert [m["id"] for m in api.get("/api/v1/mailboxes/").json()["results"]] == [own.pk]
    assert api.get(f"/api/v1/mailboxes/{other.pk}/").status_code == 404
    admin = APIClient()
    admin.force_authenticate(admin_user)
    assert {m["id"] for m in admin.get("/api/v1/mailboxes/").json()["results"]} == {
        own.pk, other.pk}
    assert [m["id"] for m in admin.get(f"/api/v1/mailboxes/?user={other.user_id}").json()[
        "results"]] == [other.pk]


def test_disconnect_forgets_the_mailbox(api, seller):
    mailbox = MailboxFactory(user=seller)

    assert api.delete(f"/api/v1/mailboxes/{mailbox.pk}/").status_code == 204
    assert not Mailbox.objects.exists()
    assert api.delete(f"/api/v1/mailboxes/{MailboxFactory(user=UserFactory()).pk}/"
                      ).status_code == 404


@pytest.mark.parametrize("host", [".f0C6", "a..b", "-imap.example.com", "[1.2.3]"])
def test_a_host_that_is_no_host_is_a_field_error(api, host):
    body = {"imap_host": host, "imap_port": 993, "imap_security": "tls",
            "smtp_host": "smtp.example.com", "smtp_port": 465, "smtp_security": "tls",
            "username": "ava@example.com", "password": "x"}

    response = api.post("/api/v1/mailboxes/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["imap_host"]
