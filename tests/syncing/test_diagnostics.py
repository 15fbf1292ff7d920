"""The Diagnostics page (admins): queue depth and delivery rate per target, failed deliveries
with the remote error, and retrying one of them or every one of a kind."""

from datetime import timedelta

import pytest
from django.utils import timezone
from factories import PersonFactory, UserFactory

from activities.models import Call
from syncing.models import Delivery, SyncStream
from syncing.outbox.queue import deliveries_build
from syncing.outbox.streams import delivery_pause

pytestmark = pytest.mark.django_db
SALESFORCE, MARKETO = Delivery.Target.SALESFORCE, Delivery.Target.MARKETO


def call_with(salesforce: dict, marketo: dict) -> Call:
    """A call by Sam whose two deliveries have the given fields."""
    person = PersonFactory(first_name="Grace", last_name="Hopper")
    sam = UserFactory._meta.model.objects.filter(username="sam").first() or UserFactory(
        username="sam", first_name="", last_name="")
    call = Call.objects.create(person=person, logged_by=sam, outcome="Connected")
    rows = deliveries_build(kind="call", record=call, skipped={})
    for row in rows:
        for field, value in (salesforce if row.target == SALESFORCE else marketo).items():
            setattr(row, field, value)
    Delivery.objects.bulk_create(rows)
    return call


def failed(code: str, message: str, **extra) -> dict:
    now = timezone.now()
    return {"status": "failed", "last_error_code": code, "last_error_message": message,
            "attempts": 20, "first_attempt_at": now - timedelta(hours=9),
            "last_attempt_at": now} | extra


@pytest.fixture
def deliveries():
    delivered = {"status": "delivered", "delivered_at": timezone.now(), "remote_id": "x"}
    lock = call_with(failed("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access"),
                     delivered)
    field = call_with(failed("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Subject is required"),
                      {"status": "pending"})
    another_lock = call_with(failed("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access"),
                             failed("1004", "Lead not found"))
    return lock, field, another_lock


def test_the_page_lists_failed_deliveries_with_the_remote_error(admin_client, deliveries):
    page = admin_client.get("/diagnostics/").content.decode()

    assert page.count('<tr data-delivery="') == 4
    assert "<code>FIELD_CUSTOM_VALIDATION_EXCEPTION</code><br><small>Subject is required" in page
    assert "<code>1004</code><br><small>Lead not found" in page
    assert "Grace Hopper" in page and "Call (Connected) by sam" in page
    assert "<td>20</td>" in page
    # One "retry all" per target and error code, biggest first.
    assert page.index("Retry all 2") < page.index("Retry all 1")


def test_the_summary_shows_queue_depth_and_delivery_rate(admin_client, deliveries):
    delivery_pause(SALESFORCE, "The app has used its share of the org's daily API calls")

    page = admin_client.get("/diagnostics/").content.decode()

    salesforce = page[page.index('data-target="salesforce"'):page.index('data-target="marketo"')]
    marketo = page[page.index('data-target="marketo"'):]
    assert '<strong data-metric="failed">3</strong>' in salesforce
    assert "Paused until" in salesforce and "share of the org" in salesforce
    assert '<strong data-metric="pending">1</strong>' in marketo
    assert '<strong data-metric="rate">1</strong>' in marketo


def test_filter_by_kind(admin_client, deliveries):
    page = admin_client.get("/diagnostics/?target=marketo&code=1004").content.decode()

    assert page.count('<tr data-delivery="') == 1
    assert "Lead not found" in page.split("failed-list")[1]


def test_retry_one(admin_client, deliveries, django_capture_on_commit_callbacks, monkeypatch):
    enqueued = []
    monkeypatch.setattr("syncing.outbox.queue.deliveries_flush_soon",
                        lambda targets, **options: enqueued.append(sorted(targets)))
    lock, _, _ = deliveries
    delivery = lock.deliveries.get(target=SALESFORCE)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/settings/deliveries/{delivery.pk}/retry/")

    delivery.refresh_from_db()
    assert response.status_code == 302 and response.url == "/diagnostics/"
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.last_error_code == "UNABLE_TO_LOCK_ROW"  # shown until the next attempt
    assert enqueued == [["salesforce"]]
    assert Delivery.objects.filter(status="failed").count() == 3


def test_retry_every_delivery_of_one_kind(admin_client, deliveries):
    admin_client.post("/settings/deliveries/retry/",
                      {"target": "salesforce", "code": "UNABLE_TO_LOCK_ROW"})

    still_failed = Delivery.objects.filter(status="failed")
    assert sorted(still_failed.values_list("last_error_code", flat=True)) == [
        "1004", "FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    assert Delivery.objects.filter(status="pending", last_error_code="UNABLE_TO_LOCK_ROW",
                                   target=SALESFORCE).count() == 2


def test_resume_a_paused_target(admin_client, db):
    delivery_pause(SALESFORCE, "REQUEST_LIMIT_EXCEEDED")

    admin_client.post("/settings/deliveries/salesforce/resume/")

    stream = SyncStream.objects.get(name=SyncStream.Name.SALESFORCE_DELIVERIES)
    assert stream.paused_until is None and stream.last_error == ""


@pytest.mark.parametrize("path", ["/settings/deliveries/retry/",
                                  "/settings/deliveries/1/retry/",
                                  "/settings/deliveries/salesforce/resume/"])
def test_sellers_cannot_retry_or_resume(seller_client, deliveries, path):
    assert seller_client.post(path, {"target": "salesforce", "code": "1004"}).status_code == 403
    assert Delivery.objects.filter(status="failed").count() == 4


def test_an_empty_outbox(admin_client):
    page = admin_client.get("/diagnostics/").content.decode()

    assert "No failed deliveries." in page
    assert page.count('<strong data-metric="pending">0</strong>') == 2
