# ruff: noqa: F811  (fixtures imported by name from tracking_fixtures)
"""anymail's own Postmark webhooks feed the same event service: posts in Postmark's documented
payload shapes (as anymail's own tests use them) to ``/anymail/postmark/tracking/`` and
``/anymail/postmark/inbound/``, with the webhook secret as HTTP basic auth."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from tracking_fixtures import (  # noqa: F401
    clean_outbox,
    committed,
    make_email,
    person,
    sent_email,
    signals_received,
)

from emails.models import EmailEvent
from syncing.models import Delivery
from unsubscribes.models import Unsubscribe

pytestmark = pytest.mark.django_db
SECRET = "postmark:webhook-secret-5678"
TRACKING = "/anymail/postmark/tracking/"
INBOUND = "/anymail/postmark/inbound/"


@pytest.fixture(autouse=True)
def webhook_secret(settings, committed):
    settings.ANYMAIL = {**getattr(settings, "ANYMAIL", {}), "WEBHOOK_SECRET": SECRET}
    _committed[:] = [committed]


_committed = []


def post(client, path: str, payload: dict, secret: str = SECRET):
    auth = base64.b64encode(secret.encode()).decode()
    with _committed[0]():
        return client.post(path, data=json.dumps(payload), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Basic {auth}")


def bounce(email, bounce_type: str = "HardBounce") -> dict:
    return {"RecordType": "Bounce", "ID": 901542550, "Type": bounce_type, "TypeCode": 1,
            "ServerID": 23, "Name": "Hard bounce",
            "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
            "Description": "The server was unable to deliver your message (ex: unknown user, "
                           "mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not "
                       "exist.",
            "Email": email.to_email, "From": "sender@example.com",
            "BouncedAt": "2026-12-01T16:28:50.3963933-04:00", "DumpAvailable": True,
            "Inactive": True, "CanActivate": True, "Subject": email.subject,
            "Metadata": {"message_id": email.message_id}}


def test_a_hard_bounce_webhook_bounces_and_unsubscribes(client, sent_email, signals_received):
    response = post(client, TRACKING, bounce(sent_email))

    assert response.status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == "bounced"
    bounced = EmailEvent.objects.get()
    assert (bounced.kind, bounced.source) == ("bounced", "provider")
    assert bounced.at == datetime(2026, 12, 1, 20, 28, 50, 396393, tzinfo=UTC)
    assert "unable to deliver" in bounced.detail
    assert Unsubscribe.objects.get().source == "bounce"
    assert signals_received == [(sent_email.pk, "bounced")]
    assert Delivery.objects.filter(kind="email_bounce").count() == 1
    # Postmark retries a webhook: nothing is counted twice.
    assert post(client, TRACKING, bounce(sent_email)).status_code == 200
    assert EmailEvent.objects.count() == 1


def test_a_soft_bounce_does_not_unsubscribe(client, sent_email):
    assert post(client, TRACKING, bounce(sent_email, "SoftBounce")).status_code == 200
    assert EmailEvent.objects.get().detail.startswith("Soft bounce")
    assert not Unsubscribe.objects.exists()


def test_open_click_and_delivery_webhooks(client, sent_email):
    base = {"MessageID": "f4830d10-9c35-4f0c-bca3-3d9b459821f8", "Recipient": sent_email.to_email,
            "Metadata": {"message_id": sent_email.message_id}}
    delivery = base | {"RecordType": "Delivery", "ServerId": 23,
                       "DeliveredAt": "2026-12-01T13:28:10.2735393-04:00", "Details": "ok"}
    opened = base | {"RecordType": "Open", "FirstOpen": True, "Platform": "Unknown",
                     "UserAgent": "Mozilla/5.0", "ReadSeconds": 0, "Geo": {},
                     "ReceivedAt": "2026-12-01T16:21:41.2493688-04:00"}
    clicked = base | {"RecordType": "Click", "ClickLocation": "HTML", "Platform": "Desktop",
                      "OriginalLink": "https://example.com/click/me",
                      "ReceivedAt": "2026-12-01T21:21:11.9065619Z"}

    for payload in (delivery, opened, clicked):
        assert post(client, TRACKING, payload).status_code == 200

    sent_email.refresh_from_db()
    assert sent_email.status == "clicked"
    assert list(EmailEvent.objects.order_by("at").values_list("kind", "url")) == [
        ("delivered", ""), ("opened", ""), ("clicked", "https://example.com/click/me")]


def test_matching_by_our_message_id_without_metadata(client, sent_email):
    payload = {"RecordType": "Delivery", "MessageID": sent_email.message_id.strip("<>"),
               "Recipient": sent_email.to_email,
               "DeliveredAt": "2026-12-01T13:28:10Z", "Details": "ok"}
    assert post(client, TRACKING, payload).status_code == 200
    assert EmailEvent.objects.get().kind == "delivered"


def test_an_unknown_message_is_acknowledged_and_ignored(client, sent_email):
    payload = bounce(sent_email) | {"Metadata": {}}
    assert post(client, TRACKING, payload).status_code == 200
    assert not EmailEvent.objects.exists() and not Unsubscribe.objects.exists()


def inbound(email, **headers) -> dict:
    return {
        "FromFull": {"Email": email.to_email, "Name": "Olivia", "MailboxHash": ""},
        "ToFull": [{"Email": email.sender.email, "Name": "", "MailboxHash": ""}],
        "CcFull": [], "BccFull": [],
        "OriginalRecipient": email.sender.email, "ReplyTo": "",
        "Subject": f"Re: {email.subject}",
        "MessageID": "22c74902-a0c1-4511-804f2-341342852c90",
        "Date": "Tue, 1 Dec 2026 18:31:04 -0700",
        "TextBody": "Sounds good, call me.", "HtmlBody": "", "StrippedTextReply": "Sounds good",
        "Tag": "",
        "Headers": [{"Name": "Return-Path", "Value": f"<{email.to_email}>"},
                    {"Name": "MIME-Version", "Value": "1.0"},
                    {"Name": "Message-ID", "Value": "<CAEPk3R+4Zr@mail.example.org>"},
                    *({"Name": name, "Value": value} for name, value in headers.items())],
        "Attachments": [],
    }


def test_a_reply_matches_by_in_reply_to(client, make_email, signals_received):
    other, email = make_email(), make_email()
    payload = inbound(email, **{"In-Reply-To": email.message_id,
                                "References": f"{other.message_id} {email.message_id}"})

    assert post(client, INBOUND, payload).status_code == 200

    email.refresh_from_db()
    other.refresh_from_db()
    assert (email.status, other.status) == ("replied", "sent")
    reply = EmailEvent.objects.get()
    assert reply.detail == f"Reply from {email.to_email}: Re: Our pricing"
    assert reply.at == datetime(2026, 12, 2, 1, 31, 4, tzinfo=UTC)
    assert signals_received == [(email.pk, "replied")]
    assert Delivery.objects.get().kind == "email_reply"
    assert post(client, INBOUND, payload).status_code == 200  # a retry: still one reply
    assert EmailEvent.objects.count() == 1


def test_a_reply_matches_by_references_alone(client, sent_email):
    payload = inbound(sent_email, References=f"<older@example.org> {sent_email.message_id}")
    assert post(client, INBOUND, payload).status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == "replied"


def test_without_the_secret_or_with_a_wrong_one_nothing_is_applied(client, settings,
                                                                   sent_email):
    assert post(client, TRACKING, bounce(sent_email), secret="postmark:guess").status_code == 400
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    with pytest.warns(Warning):
        response = post(client, TRACKING, bounce(sent_email), secret="anything:at-all")
    assert response.status_code == 400
    assert not EmailEvent.objects.exists() and not Unsubscribe.objects.exists()


def test_matching_by_the_id_postmark_gave_the_message(client, make_email):
    email = make_email(provider_message_id="2706ee8a-737c-4285-b032-ccd317af53ed")
    payload = bounce(email) | {"Metadata": {}}

    assert post(client, TRACKING, payload).status_code == 200

    email.refresh_from_db()
    assert email.status == "bounced"
