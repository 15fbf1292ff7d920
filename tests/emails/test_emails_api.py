"""``/api/v1/emails/``: send (queue) with every refusal reason as a 400 naming the field,
Marketo's check (blocked, held then sent), lists and who sees what."""

from datetime import timedelta

import pytest
from factories import PersonFactory, UnsubscribeFactory, UserFactory
from rest_framework.test import APIClient

from emails.models import SalesEmail
from emails.sending import emails_send_due
from sandbox import seed

pytestmark = pytest.mark.django_db(transaction=True)

LEADS = [seed.lead(i, 1, 2000) for i in range(1, 2001)]
_SHARED = {LEADS[i]["email"] for i in range(49, 2000, 50)}
UNSUBSCRIBED_IN_MARKETO = next(lead["email"] for lead in LEADS
                               if lead["email"] and "@" in lead["email"] and lead["unsubscribed"])
SUBSCRIBED = next(lead["email"] for lead in LEADS if lead["email"] and "@" in lead["email"]
                  and not lead["unsubscribed"] and lead["email"] not in _SHARED)


@pytest.fixture
def api(seller, no_enqueue):
    client = APIClient()
    client.force_authenticate(seller)
    return client


def _post(api, person, **fields):
    body = {"person": person.pk, "subject": "Hi {{first_name}}", "body": "Hello {{company}}"}
    return api.post("/api/v1/emails/", body | fields, format="json")


def test_send_queues_and_the_worker_sends(api, seller, mailbox, no_enqueue):
    person = PersonFactory(first_name="Olivia", company="Acme")

    response = _post(api, person)

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "queued" and data["subject"] == "Hi Olivia"
    assert data["body"] == "Hello Acme" and data["track"] is True
    assert data["message_id"].startswith("<") and data["sender"] == seller.username
    assert [e["kind"] for e in data["events"]] == ["queued"]
    emails_send_due()
    [message] = mailbox.store.messages()
    assert message.header("Message-ID") == data["message_id"]
    detail = api.get(f"/api/v1/emails/{data['id']}/").json()
    assert detail["status"] == "sent"
    assert [e["kind"] for e in detail["events"]] == ["queued", "sent"]


@pytest.mark.parametrize(("fields", "field", "text"), [
    ({"subject": ""}, "subject", "blank"),
    ({"body": "   "}, "body", "blank"),
    ({"subject": "Hi {{nickname}}"}, "subject", "Unknown merge field {{nickname}}"),
    ({"body": "{{first_name}} at {{company_size}} {{foo|x}}"}, "body",
     "Unknown merge fields {{company_size}}, {{foo}}"),
])
def test_missing_or_unknown_fields_are_refused(api, fields, field, text, mailbox):
    response = _post(api, PersonFactory(), **fields)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert text in response.json()[field][0]
    assert not SalesEmail.objects.exists()


def test_a_person_without_an_address_is_refused(api):
    response = _post(api, PersonFactory(email=""))
    assert response.status_code == 400
    assert response.json() == {"person": ["This person has no email address."]}
    assert not SalesEmail.objects.exists()


def test_a_suppressed_address_is_refused(api, mailbox):
    unsubscribed = PersonFactory(email="gone@customer.example")
    UnsubscribeFactory(person=unsubscribed)
    duplicate = PersonFactory(email="GONE@customer.example")  # the same address, another lead

    response = _post(api, duplicate)

    assert response.status_code == 400
    assert "Unsubscribed in the app" in response.json()["person"][0]
    assert not SalesEmail.objects.exists()
    emails_send_due()
    assert not mailbox.store.messages()


def test_an_address_unsubscribed_in_marketo_is_refused(api, marketo_check, mailbox):
    response = _post(api, PersonFactory(email=UNSUBSCRIBED_IN_MARKETO))

    assert response.status_code == 400
    assert response.json() == {"person": [
        f"Not sent to {UNSUBSCRIBED_IN_MARKETO}: The address is unsubscribed in Marketo."]}
    assert not SalesEmail.objects.exists()


def test_marketo_down_holds_then_sends_once_it_answers(api, marketo_check, mailbox):
    marketo_check.fault("http_503", path="/rest/v1/leads.json", count=50)
    person = PersonFactory(email=SUBSCRIBED)

    response = _post(api, person)

    assert response.status_code == 201
    assert response.json()["status"] == "held"
    assert "Marketo" in response.json()["hold_reason"]
    email = SalesEmail.objects.get()
    # Still down at the next check: held again, nothing sent unchecked.
    later = email.next_attempt_at + timedelta(seconds=1)
    report = emails_send_due(now=later)
    assert report.held == 1 and not mailbox.store.messages()
    email.refresh_from_db()
    assert email.status == "held"

    marketo_check.clear_faults()
    emails_send_due(now=email.next_attempt_at + timedelta(seconds=1))

    email.refresh_from_db()
    assert email.status == "sent"
    assert [m.header("Message-ID") for m in mailbox.store.messages()] == [email.message_id]
    assert [e.kind for e in email.events.all()] == ["held", "sent"]


def test_held_then_unsubscribed_in_marketo_is_never_sent(api, marketo_check, mailbox):
    marketo_check.fault("http_503", path="/rest/v1/leads.json", count=50)
    response = _post(api, PersonFactory(email=UNSUBSCRIBED_IN_MARKETO))
    assert response.json()["status"] == "held"
    marketo_check.clear_faults()
    email = SalesEmail.objects.get()

    emails_send_due(now=email.next_attempt_at + timedelta(seconds=1))

    email.refresh_from_db()
    assert email.status == "failed"
    assert email.error == "Not sent: The address is unsubscribed in Marketo."
    assert not mailbox.store.messages()


def test_track_false_is_kept(api):
    assert _post(api, PersonFactory(), track=False).json()["track"] is False


def test_lists_sellers_their_own_and_admins_everyones(api, seller, admin_client, admin_user):
    other = UserFactory()
    mine, theirs = PersonFactory(), PersonFactory()
    _post(api, mine)
    other_api = APIClient()
    other_api.force_authenticate(other)
    their_email = _post(other_api, theirs).json()

    listed = api.get("/api/v1/emails/").json()
    assert [e["person"] for e in listed["results"]] == [mine.pk]
    assert api.get(f"/api/v1/emails/{their_email['id']}/").status_code == 404
    assert api.get("/api/v1/emails/", {"person": theirs.pk}).json()["results"] == []

    admin = APIClient()
    admin.force_authenticate(admin_user)
    assert admin.get("/api/v1/emails/").json()["count"] == 2
    narrowed = admin.get("/api/v1/emails/", {"sender": other.pk}).json()["results"]
    assert [e["id"] for e in narrowed] == [their_email["id"]]
    assert admin.get(f"/api/v1/emails/{their_email['id']}/").status_code == 200
    assert admin.get("/api/v1/emails/", {"status": "queued"}).json()["count"] == 2
    assert admin.get("/api/v1/emails/", {"status": "sent"}).json()["count"] == 0
    assert admin.get("/api/v1/emails/", {"status": "nope"}).status_code == 400


def test_anonymous_is_401():
    assert APIClient().get("/api/v1/emails/").status_code == 401


def test_a_sender_without_an_address_is_refused(no_enqueue):
    nameless = UserFactory(email="")
    client = APIClient()
    client.force_authenticate(nameless)
    response = _post(client, PersonFactory())
    assert response.status_code == 400
    assert "no email address" in response.json()["non_field_errors"][0]
