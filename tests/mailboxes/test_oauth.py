"""Google and Microsoft 365 sign-in against the OAuth sandbox: authorization code with PKCE,
the refresh token kept encrypted, XOAUTH2 on Dovecot (oauth2 passdb) and the submission
server, the access token refreshed before it expires, a revoked sign-in pausing the mailbox."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.db import connection
from django.utils import timezone
from factories import PersonFactory, SalesEmailFactory, UserFactory
from mail_builders import deliver, reply

from emails.models import SalesEmail
from emails.sending import emails_send_due
from emails.services import queue_email
from mailboxes.models import Mailbox, SentCopy
from mailboxes.reading import mailbox_pass
from sandbox.oauth import CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["google", "microsoft"])
def provider(request, settings, oauth_server, mail_account, no_marketo_check):
    """Sign-in set up as the admin would, with the provider's endpoints and mail servers
    pointed at the sandboxes."""
    name = request.param
    setattr(settings, f"{name.upper()}_OAUTH_CLIENT_ID", CLIENT_ID)
    setattr(settings, f"{name.upper()}_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
    settings.MAILBOX_OAUTH_OVERRIDES = {name: {
        "authorize_url": f"{oauth_server.url}/authorize",
        "token_url": f"{oauth_server.url}/token",
        "imap": ("127.0.0.1", mail_account.imap.port, "none"),
        "smtp": ("127.0.0.1", mail_account.smtp.smtp_port, "none")}}
    return name


@pytest.fixture
def signed_in(client, provider, mail_account):
    """The seller clicks "Sign in with …", consents at the provider, and comes back."""
    seller = UserFactory(email=mail_account.address, first_name="Ava", last_name="Stone")
    client.force_login(seller)
    start = client.get(f"/account/mailbox/oauth/{provider}/")
    assert start.status_code == 302
    params = parse_qs(urlparse(start["Location"]).query)
    assert params["code_challenge_method"] == ["S256"] and params["code_challenge"]
    consent = requests.get(start["Location"], allow_redirects=False, timeout=10)
    back = urlparse(consent.headers["Location"])
    done = client.get(f"{back.path}?{back.query}", follow=True)
    assert f"connected with {'Google' if provider == 'google' else 'Microsoft 365'}" in (
        done.content.decode())
    return Mailbox.objects.get(user=seller)


def test_signing_in_connects_the_mailbox_with_xoauth2(signed_in, provider, mail_account):
    mailbox = signed_in
    assert (mailbox.provider, mailbox.username, mailbox.state) == (
        provider, mail_account.address, "ok")
    assert mailbox.refresh_token and mailbox.access_token and not mailbox.password
    with connection.cursor() as cursor:
        cursor.execute("SELECT refresh_token FROM mailboxes_mailbox WHERE id = %s",
                       [mailbox.pk])
        assert mailbox.refresh_token not in cursor.fetchone()[0]  # stored encrypted
    # The provider files its own Sent copy.
    assert mailbox.sent_folder == ""

    person = PersonFactory(email="olivia@customer.example")
    queue_email(person=person, sender=mailbox.user, subject="Hi", body="Hello")
    assert emails_send_due().sent == 1
    [message] = mail_account.received()  # signed in with XOAUTH2 as the seller
    assert message.header("From") == f"Ava Stone <{mail_account.address}>"
    assert not SentCopy.objects.exists()

    sent = SalesEmailFactory(person=person, sender=mailbox.user, to_email=person.email,
                             handed_off_at=timezone.now())
    deliver(mail_account, reply(sent))
    assert mailbox_pass(mailbox.pk).replies == 1  # IMAP over XOAUTH2 too
    sent.refresh_from_db()
    assert sent.status == SalesEmail.Status.REPLIED


def test_the_access_token_is_refreshed_before_it_expires(signed_in, oauth_server):
    mailbox = signed_in
    old_token = mailbox.access_token
    requests_before = oauth_server.provider.token_requests
    Mailbox.objects.filter(pk=mailbox.pk).update(
        access_token_expires_at=timezone.now() + timedelta(minutes=2))

    report = mailbox_pass(mailbox.pk)

    assert report.error == ""
    assert oauth_server.provider.token_requests == requests_before + 1
    mailbox.refresh_from_db()
    assert mailbox.access_token != old_token
    assert mailbox.access_token_expires_at > timezone.now() + timedelta(minutes=30)
    # Fresh enough now: the next pass does not refresh again.
    Mailbox.objects.filter(pk=mailbox.pk).update(last_pass_at=None)
    mailbox_pass(mailbox.pk)
    assert oauth_server.provider.token_requests == requests_before + 1


def test_a_revoked_sign_in_pauses_the_mailbox(signed_in, oauth_server, mail_account):
    mailbox = signed_in
    oauth_server.provider.revoke(mail_account.address)
    Mailbox.objects.filter(pk=mailbox.pk).update(access_token_expires_at=timezone.now())

    report = mailbox_pass(mailbox.pk)

    assert report.paused
    mailbox.refresh_from_db()
    assert mailbox.state == "paused"
    assert mailbox.paused_reason.endswith("sign-in refused: Token has been expired or revoked.")


def test_a_callback_without_the_sessions_state_is_refused(client, provider):
    client.force_login(UserFactory())

    page = client.get("/account/mailbox/oauth/callback/?code=x&state=forged", follow=True)

    assert "The sign-in did not come from this page" in page.content.decode()
    assert not Mailbox.objects.exists()
