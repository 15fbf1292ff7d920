# ruff: noqa: F811  (fixtures imported by name from tracking_fixtures)
"""Provider events (``POST /api/v1/emails/events/``) and the event service behind every source:
statuses forward only, a hard bounce or complaint unsubscribes the address (source bounce), a
reply marks the email replied, the signal campaigns listen to, repeat opens logged once an
hour, and who may post."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from factories import AdminFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from tracking_fixtures import (  # noqa: F401
    clean_outbox,
    committed,
    make_email,
    person,
    sent_email,
    signals_received,
)

from emails.events import EventIn, events_apply, hits_apply
from emails.models import EmailEvent
from emails.tracking_hits import EPOCH, Hit
from syncing.models import Delivery
from unsubscribes.models import Unsubscribe

pytestmark = pytest.mark.django_db
PATH = "/api/v1/emails/events/"
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


class _Api(APIClient):
    """An admin's client whose posts commit (after-commit work runs)."""

    committed = None

    def post(self, *args, **kwargs):
        with self.committed():
            return super().post(*args, **kwargs)


@pytest.fixture
def api(committed) -> APIClient:
    client = _Api()
    client.committed = committed
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=AdminFactory())}")
    return client


def event(email, event_type: str, at: datetime = AT, **fields) -> dict:
    return {"event_type": event_type, "message_id": email.message_id,
            "recipient": email.to_email, "timestamp": at.isoformat(), **fields}


def statuses_after(api, email, *events) -> str:
    response = api.post(PATH, list(events), format="json")
    assert response.status_code == 200, response.content
    email.refresh_from_db()
    return email.status


def test_events_move_the_status_forward_only(api, sent_email):
    assert statuses_after(api, sent_email, event(sent_email, "delivered")) == "delivered"
    assert statuses_after(api, sent_email,
                          event(sent_email, "opened", AT + timedelta(minutes=1))) == "opened"
    assert statuses_after(api, sent_email, event(sent_email, "clicked", AT + timedelta(
        minutes=2), click_url="https://example.com/a")) == "clicked"
    # A late "delivered" or "opened" does not move it back.
    assert statuses_after(api, sent_email, event(sent_email, "delivered", AT - timedelta(
        minutes=5)), event(sent_email, "opened", AT + timedelta(minutes=3))) == "clicked"
    kinds = list(EmailEvent.objects.filter(email=sent_email).order_by("at")
                 .values_list("kind", "source"))
    assert kinds == [("delivered", "provider"), ("delivered", "provider"),
                     ("opened", "provider"), ("clicked", "provider"), ("opened", "provider")]
    assert EmailEvent.objects.get(kind="clicked").url == "https://example.com/a"


def test_the_answer_reports_each_event(api, sent_email):
    body = [event(sent_email, "delivered"),
            event(sent_email, "opened") | {"message_id": "<nobody@example.com>"},
            event(sent_email, "delivered")]

    response = api.post(PATH, body, format="json")

    assert response.status_code == 200
    assert response.json() == {
        "recorded": 1, "duplicates": 1, "unknown": 1,
        "results": [
            {"message_id": sent_email.message_id, "event_type": "delivered",
             "result": "recorded"},
            {"message_id": "<nobody@example.com>", "event_type": "opened",
             "result": "unknown_message_id"},
            {"message_id": sent_email.message_id, "event_type": "delivered",
             "result": "duplicate"}]}
    assert api.post(PATH, body[:1], format="json").json()["duplicates"] == 1


def test_a_message_id_without_angle_brackets_matches(api, sent_email):
    bare = sent_email.message_id.strip("<>")
    response = api.post(PATH, [event(sent_email, "delivered") | {"message_id": bare}],
                        format="json")
    assert response.json()["recorded"] == 1


def test_a_bad_body_is_a_400_with_field_errors_and_records_nothing(api, sent_email):
    body = [event(sent_email, "delivered"),
            {"event_type": "exploded", "message_id": "", "timestamp": "yesterday"}]

    response = api.post(PATH, body, format="json")

    assert response.status_code == 400
    errors = response.json()
    assert errors[0] == {} and set(errors[1]) == {"event_type", "message_id", "timestamp"}
    assert not EmailEvent.objects.exists()
    assert api.post(PATH, [], format="json").status_code == 400
    assert api.post(PATH, {"event_type": "opened"}, format="json").status_code == 400


def test_a_hard_bounce_unsubscribes_the_address(api, sent_email, signals_received):
    status = statuses_after(api, sent_email, event(
        sent_email, "bounced", description="550 5.1.1 mailbox unknown"))

    assert status == "bounced"
    unsubscribe = Unsubscribe.objects.get()
    assert (unsubscribe.person, unsubscribe.source) == (sent_email.person, "bounce")
    assert EmailEvent.objects.get().detail == "550 5.1.1 mailbox unknown"
    assert signals_received == [(sent_email.pk, "bounced")]
    # Nothing moves it on: a later open is recorded, the status stays.
    assert statuses_after(api, sent_email, event(sent_email, "opened", AT + timedelta(
        hours=1))) == "bounced"
    assert signals_received == [(sent_email.pk, "bounced")]


def test_a_complaint_unsubscribes_the_address(api, sent_email, signals_received):
    assert statuses_after(api, sent_email, event(sent_email, "complained")) == "sent"
    assert Unsubscribe.objects.get().source == "bounce"
    assert signals_received == [(sent_email.pk, "complained")]


def test_a_reply_marks_the_email_replied(api, sent_email, signals_received):
    assert statuses_after(api, sent_email, event(sent_email, "inbound")) == "replied"
    assert signals_received == [(sent_email.pk, "replied")]
    assert not Unsubscribe.objects.exists()
    assert statuses_after(api, sent_email, event(sent_email, "bounced", AT + timedelta(
        minutes=1))) == "replied"
    assert signals_received == [(sent_email.pk, "replied")]


def test_signals_wait_for_the_commit(sent_email, signals_received,
                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        events_apply([EventIn(email=sent_email, kind="replied", at=AT, source="provider")])
    assert signals_received == [] and len(callbacks) >= 1
    for callback in callbacks:
        callback()
    assert signals_received == [(sent_email.pk, "replied")]


def _us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def test_repeat_opens_are_recorded_and_logged_once_an_hour(sent_email):
    opens = [AT, AT + timedelta(minutes=10), AT + timedelta(minutes=59),
             AT + timedelta(minutes=61), AT + timedelta(minutes=90)]

    hits_apply([Hit("opened", sent_email.pk, _us(opens[0]))])
    hits_apply([Hit("opened", sent_email.pk, _us(moment)) for moment in opens[1:]])

    logged = Delivery.objects.filter(kind="email_open")
    assert EmailEvent.objects.filter(kind="opened").count() == 5
    assert sorted(EmailEvent.objects.get(pk=d.record_id).at for d in logged) == [
        opens[0], opens[3]]
    assert {d.target for d in logged} == {Delivery.Target.MARKETO}


def test_clicks_replies_and_bounces_are_each_logged(api, sent_email):
    api.post(PATH, [event(sent_email, "clicked", click_url="https://example.com/a"),
                    event(sent_email, "clicked", AT + timedelta(seconds=1),
                          click_url="https://example.com/a"),
                    event(sent_email, "inbound"), event(sent_email, "bounced"),
                    event(sent_email, "delivered"), event(sent_email, "complained")],
             format="json")

    kinds = sorted(Delivery.objects.values_list("kind", flat=True))
    assert kinds == ["email_bounce", "email_click", "email_click", "email_reply",
                     "unsubscribe"]


# --------------------------------------------------------------------------- who may post


def test_sellers_get_403_and_anonymous_401(seller, sent_email):
    client = APIClient()
    assert client.post(PATH, [event(sent_email, "opened")], format="json").status_code == 401
    client.force_authenticate(seller)
    assert client.post(PATH, [event(sent_email, "opened")], format="json").status_code == 403
    assert not EmailEvent.objects.exists()


def test_the_provider_token_may_post(settings, sent_email):
    settings.EMAIL_EVENTS_TOKEN = "provider-secret-1234"
    provider = APIClient()

    provider.credentials(HTTP_X_EMAIL_EVENTS_TOKEN="provider-secret-1234")
    assert provider.post(PATH, [event(sent_email, "delivered")], format="json").status_code == 200

    provider.credentials(HTTP_X_EMAIL_EVENTS_TOKEN="guessed")
    assert provider.post(PATH, [event(sent_email, "opened")], format="json").status_code == 401
    settings.EMAIL_EVENTS_TOKEN = ""
    provider.credentials(HTTP_X_EMAIL_EVENTS_TOKEN="")
    assert provider.post(PATH, [event(sent_email, "opened")], format="json").status_code == 401
    assert list(EmailEvent.objects.values_list("kind", flat=True)) == ["delivered"]


def test_a_wrong_events_token_is_refused_even_beside_an_admins_token(settings, api,
                                                                      sent_email):
    settings.EMAIL_EVENTS_TOKEN = "provider-secret-1234"
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get().key}",
                    HTTP_X_EMAIL_EVENTS_TOKEN="guessed")

    assert api.post(PATH, [event(sent_email, "opened")], format="json").status_code == 401


def test_an_event_landing_between_hand_off_and_the_sent_write_is_kept(make_email):
    """The ESP may report delivery before the sending pass records "sent": the later write
    must not move the email back."""
    from emails.sending import _record_outcomes, _skip_rules

    handed_off = timezone.now()
    email = make_email(status="sending", handed_off_at=handed_off, claim_token="t")
    events_apply([EventIn(email=email, kind=EmailEvent.Kind.DELIVERED, at=AT,
                          source=EmailEvent.Source.PROVIDER)])
    email.refresh_from_db()
    assert email.status == "delivered"
    _record_outcomes("t", [email], [], [], timezone.now(), _skip_rules())
    email.refresh_from_db()
    assert email.status == "delivered"
    assert email.sent_at == handed_off and email.attempts == 1 and email.claim_token == ""
