"""Scheduled send: an email queued with ``send_at`` waits, is not sent before its time by any
sending pass (the worker's task, ``manage.py sync``), goes out after it, and can be cancelled
only while it waits. The compose page takes the time in the seller's time zone; the API takes
an optional ``send_at``. And the seller's signature, after the body, before the footer."""

import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import timezone
from factories import AdminFactory, PersonFactory, UserFactory
from subprocess_env import celery_worker, worker_wait_for

from emails.models import SalesEmail
from emails.sending import emails_send_due
from emails.services import EmailRefused, email_cancel, queue_email
from emails.tasks import emails_send_task

pytestmark = pytest.mark.django_db(transaction=True)
HERE = Path(__file__).resolve().parent


@pytest.fixture
def seller(db):
    return UserFactory(first_name="Ava", last_name="Stone", email="ava@seller.example",
                       time_zone="Europe/Paris")


def _scheduled(person, seller, ahead=timedelta(hours=2), **kwargs):
    return queue_email(person=person, sender=seller, subject="Hello {{first_name}}",
                       body="Hi {{first_name}}", send_at=timezone.now() + ahead, **kwargs)


def test_a_scheduled_email_waits_for_its_time(mailbox, seller, no_enqueue):
    email = _scheduled(PersonFactory(first_name="Olivia"), seller)

    assert email.status == SalesEmail.Status.QUEUED
    assert email.next_attempt_at == email.send_at
    assert [e.kind for e in email.events.all()] == ["queued", "scheduled"]
    assert emails_send_due().claimed == 0
    assert emails_send_due(now=email.send_at - timedelta(seconds=1)).claimed == 0
    assert mailbox.store.messages() == []

    report = emails_send_due(now=email.send_at + timedelta(seconds=1))

    assert report.sent == 1 and len(mailbox.store.messages()) == 1
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.SENT


def test_manage_py_sync_does_not_send_it_before_its_time(mailbox, seller, no_enqueue):
    email = _scheduled(PersonFactory(), seller)
    out = io.StringIO()

    call_command("sync", stdout=out)

    assert "emails: 0 sent" in out.getvalue()
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.QUEUED and mailbox.store.messages() == []

    # Its time comes (moved into the past, as the clock would).
    SalesEmail.objects.filter(pk=email.pk).update(
        send_at=timezone.now() - timedelta(seconds=1),
        next_attempt_at=timezone.now() - timedelta(seconds=1))
    call_command("sync", stdout=out)

    email.refresh_from_db()
    assert email.status == SalesEmail.Status.SENT and len(mailbox.store.messages()) == 1


def test_the_worker_sends_it_after_its_time_not_before(mailbox, seller, private_queue):
    now_person, later_person = PersonFactory(), PersonFactory()
    later = _scheduled(later_person, seller, ahead=timedelta(seconds=6))
    now = queue_email(person=now_person, sender=seller, subject="Now", body="Now")
    worker = celery_worker(private_queue, settings_file=HERE / "email_worker_settings.py",
                           EMAIL_URL=mailbox.email_url)
    try:
        emails_send_task.delay()
        worker_wait_for(lambda: SalesEmail.objects.get(pk=now.pk).status == "sent",
                        "the first send", worker)
        # The same pass left the scheduled one alone.
        later.refresh_from_db()
        assert later.status == "queued" and timezone.now() < later.send_at
        assert len(mailbox.store.messages()) == 1

        worker_wait_for(lambda: timezone.now() > later.send_at, "its time", worker)
        emails_send_task.delay()
        worker_wait_for(lambda: SalesEmail.objects.get(pk=later.pk).status == "sent",
                        "the scheduled send", worker)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    later.refresh_from_db()
    assert later.sent_at >= later.send_at
    assert len(mailbox.store.messages()) == 2


def test_cancel_works_only_while_it_waits(mailbox, seller, no_enqueue):
    email = _scheduled(PersonFactory(), seller)

    email_cancel(email, by=seller)

    assert email.status == SalesEmail.Status.CANCELLED
    assert [e.kind for e in email.events.all()][-1] == "cancelled"
    assert emails_send_due(now=email.send_at + timedelta(minutes=1)).claimed == 0
    assert mailbox.store.messages() == []
    with pytest.raises(EmailRefused, match="Too late to cancel: the email is cancelled"):
        email_cancel(email, by=seller)

    sent = queue_email(person=PersonFactory(), sender=seller, subject="Hi", body="Hello")
    emails_send_due()
    with pytest.raises(EmailRefused, match="is sent"):
        email_cancel(sent, by=seller)

    claimed = _scheduled(PersonFactory(), seller)
    SalesEmail.objects.filter(pk=claimed.pk).update(status="sending", claim_token="x")
    with pytest.raises(EmailRefused, match="is sending"):
        email_cancel(claimed, by=seller)


def test_only_the_sender_or_an_admin_cancels(seller, no_enqueue):
    email = _scheduled(PersonFactory(), seller)
    with pytest.raises(PermissionDenied):
        email_cancel(email, by=UserFactory())


def test_a_time_in_the_past_or_too_far_ahead_is_refused(seller, no_enqueue):
    with pytest.raises(EmailRefused, match="in the future") as refused:
        _scheduled(PersonFactory(), seller, ahead=timedelta(minutes=-1))
    assert refused.value.field == "send_at"
    with pytest.raises(EmailRefused, match="up to a year ahead"):
        _scheduled(PersonFactory(), seller, ahead=timedelta(days=400))
    assert not SalesEmail.objects.exists()


def test_the_compose_page_schedules_in_the_sellers_time_zone_and_cancels(client, seller,
                                                                       no_enqueue):
    client.force_login(seller)
    person = PersonFactory(first_name="Olivia")
    day = timezone.localdate(timezone.now(), ZoneInfo("Europe/Paris")) + timedelta(days=2)

    response = client.post(f"/people/{person.pk}/emails/", {
        "subject": "Hi {{first_name}}", "body": "Hello", "track": "on",
        "send_date": day.isoformat(), "send_time": "09:30"})

    assert response.status_code == 302
    email = SalesEmail.objects.get()
    assert email.send_at == datetime.combine(day, datetime.min.time().replace(hour=9, minute=30),
                                             tzinfo=ZoneInfo("Europe/Paris"))
    page = client.get(f"/people/{person.pk}/").content.decode()
    assert "Scheduled for" in page and "09:30" in page and "Cancel this email" in page

    response = client.post(f"/emails/{email.pk}/cancel/", {"next": f"/people/{person.pk}/"},
                           follow=True)
    assert "Cancelled “Hi Olivia”" in response.content.decode()
    email.refresh_from_db()
    assert email.status == "cancelled"
    # Another seller's email is not theirs to cancel (nor to see).
    other = _scheduled(PersonFactory(), UserFactory())
    assert client.post(f"/emails/{other.pk}/cancel/").status_code == 404


def test_the_compose_page_keeps_the_text_when_the_schedule_is_wrong(client, seller, no_enqueue):
    client.force_login(seller)
    person = PersonFactory()
    yesterday = timezone.localdate() - timedelta(days=1)

    only_time = client.post(f"/people/{person.pk}/emails/", {
        "subject": "Typed subject", "body": "Typed body", "send_time": "09:30"})
    past = client.post(f"/people/{person.pk}/emails/", {
        "subject": "Typed subject", "body": "Typed body", "send_date": yesterday.isoformat(),
        "send_time": "09:30"})

    refused = past.content.decode()
    assert only_time.status_code == 400 and "Pick the day to send it" in only_time.content.decode()
    assert past.status_code == 400 and "Pick a time in the future" in refused
    assert 'value="Typed subject"' in refused and "Typed body" in refused
    assert not SalesEmail.objects.exists()


def test_the_api_takes_an_optional_send_at(client, seller, no_enqueue):
    client.force_login(seller)
    person = PersonFactory()
    at = (timezone.now() + timedelta(days=1)).replace(microsecond=0)

    created = client.post("/api/v1/emails/", {"person": person.pk, "subject": "Hi",
                                              "body": "Hello", "send_at": at.isoformat()},
                          content_type="application/json")
    now = client.post("/api/v1/emails/", {"person": person.pk, "subject": "Hi",
                                          "body": "Hello", "send_at": None},
                      content_type="application/json")
    past = client.post("/api/v1/emails/", {"person": person.pk, "subject": "Hi", "body": "Hello",
                                           "send_at": "2020-01-01T09:00:00Z"},
                       content_type="application/json")

    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "queued"
    assert datetime.fromisoformat(created.json()["send_at"]) == at
    assert created.json()["next_attempt_at"] == created.json()["send_at"]
    assert now.status_code == 201 and now.json()["send_at"] is None
    assert past.status_code == 400 and list(past.json()) == ["send_at"]


def test_the_api_cancels_a_waiting_email_and_says_when_it_is_too_late(client, seller, mailbox,
                                                                       no_enqueue):
    client.force_login(seller)
    email = _scheduled(PersonFactory(), seller)

    cancelled = client.post(f"/api/v1/emails/{email.pk}/cancel/")

    assert cancelled.status_code == 200, cancelled.json()
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["events"][-1]["kind"] == "cancelled"
    assert emails_send_due(now=email.send_at + timedelta(minutes=1)).claimed == 0
    again = client.post(f"/api/v1/emails/{email.pk}/cancel/")
    assert again.status_code == 409
    assert again.json() == {"detail": "Too late to cancel: the email is cancelled."}

    sent = queue_email(person=PersonFactory(), sender=seller, subject="Hi", body="Hello")
    emails_send_due()
    late = client.post(f"/api/v1/emails/{sent.pk}/cancel/")
    assert late.status_code == 409 and "is sent" in late.json()["detail"]
    assert len(mailbox.store.messages()) == 1


def test_the_api_cancels_only_the_sellers_own_emails_and_an_admin_anyones(client, seller,
                                                                          no_enqueue):
    email = _scheduled(PersonFactory(), seller)
    client.force_login(UserFactory())
    assert client.post(f"/api/v1/emails/{email.pk}/cancel/").status_code == 404
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.QUEUED

    client.force_login(AdminFactory())
    assert client.post(f"/api/v1/emails/{email.pk}/cancel/").status_code == 200
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.CANCELLED


def test_the_signature_goes_after_the_body_and_before_the_footer(mailbox, seller, no_enqueue):
    seller.signature = "Ava Stone\nAcme Sales · +1 415 555 0100"
    seller.save()
    email = queue_email(person=PersonFactory(first_name="Olivia"), sender=seller,
                        subject="Hi", body="Hi {{first_name}},\n\nThanks.")

    assert email.body == "Hi Olivia,\n\nThanks.\n\nAva Stone\nAcme Sales · +1 415 555 0100"
    emails_send_due()
    [message] = mailbox.store.messages()
    text, html = message.part("text/plain"), message.part("text/html")
    assert text.index("Thanks.") < text.index("Acme Sales") < text.index("Unsubscribe from")
    assert html.index("Acme Sales") < html.index("Unsubscribe from")


def test_the_preview_shows_the_signature(client, seller):
    seller.signature = "Ava, Acme Sales"
    seller.save()
    client.force_login(seller)
    person = PersonFactory(first_name="Olivia")

    preview = client.post(f"/people/{person.pk}/emails/preview/",
                          {"subject": "Hi", "body": "Hello {{first_name}}"}).content.decode()

    assert "Hello Olivia" in preview and "Ava, Acme Sales" in preview
