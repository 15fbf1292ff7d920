"""The call panel a person page includes (form and activity history with delivery states) and
the dialer settings admins manage on the settings page."""

import re

import pytest
from factories import PersonFactory

from activities.models import Call, CallOutcome, CallReason, CallSettings
from activities.services import call_log, call_outcome_create, call_reason_create
from syncing.models import Delivery

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def person():
    return PersonFactory(first_name="Ada", last_name="<b>Lovelace</b>", phone="+44 20 7946 0000",
                         sfdc_contact_id="003000000000004AAA")


def panel_url(person) -> str:
    return f"/people/{person.pk}/calls/"


def test_the_panel_has_the_form_prefilled_and_an_empty_history(seller_client, person):
    call_outcome_create(name="Connected")
    call_reason_create(name="Intro")

    page = seller_client.get(panel_url(person), **HTMX).content.decode()

    assert 'id="person-calls"' in page and "<html" not in page
    assert 'value="+44 20 7946 0000"' in page
    assert '<option value="Connected">Connected</option>' in page
    assert '<option value="Intro">Intro</option>' in page
    assert "No calls logged yet." in page


def test_without_htmx_the_panel_is_a_page_of_its_own(seller_client, person):
    page = seller_client.get(panel_url(person)).content.decode()

    assert "<html" in page and "Calls with Ada &lt;b&gt;Lovelace&lt;/b&gt;" in page


def test_logging_a_call_shows_it_with_its_delivery_states(seller_client, seller, person):
    call_outcome_create(name="Connected")

    response = seller_client.post(panel_url(person), {
        "outcome": "Connected", "duration": "4:30", "phone_number": "+44 20 7946 0001",
        "called_at": "2025-06-01T10:15", "notes": "Wants a <demo>"}, **HTMX)

    page = response.content.decode()
    call = Call.objects.get()
    assert (call.logged_by, call.outcome, call.duration_seconds, call.phone_number) == (
        seller, "Connected", 270, "+44 20 7946 0001")
    assert call.called_at.isoformat() == "2025-06-01T10:15:00+00:00"
    assert "Call logged." in page
    assert "Wants a &lt;demo&gt;" in page
    # Neither system is connected here: each delivery says why it was skipped.
    assert "Salesforce is not connected." in page and "Marketo is not connected." in page


def test_a_plain_form_post_redirects_back_to_the_panel(seller_client, person):
    response = seller_client.post(panel_url(person), {"duration": "45"})

    assert response.status_code == 302 and response.url == panel_url(person)
    assert Call.objects.get().duration_seconds == 45


def test_mistakes_are_shown_on_the_form(seller_client, person):
    call_outcome_create(name="Connected")
    CallSettings(outcome_mode=CallSettings.OutcomeMode.REQUIRED).save()

    htmx = seller_client.post(panel_url(person), {"duration": "4:75"}, **HTMX)
    plain = seller_client.post(panel_url(person), {"duration": "1", "called_at": "2999-01-01T10:00",
                                                   "outcome": "Connected"})

    assert htmx.status_code == 200
    assert "Seconds must be below 60 after a colon." in htmx.content.decode()
    assert "This field is required." in htmx.content.decode()
    assert plain.status_code == 400
    assert "A call cannot be in the future." in plain.content.decode()
    assert not Call.objects.exists()


def test_outcomes_switched_off_hide_the_menu(seller_client, person):
    call_outcome_create(name="Connected")
    CallSettings(outcome_mode=CallSettings.OutcomeMode.OFF).save()

    page = seller_client.get(panel_url(person), **HTMX).content.decode()

    assert 'name="outcome"' not in page


def test_history_shows_pending_delivered_skipped_and_failed(seller_client, seller, person):
    call = call_log(logged_by=seller, person=person, notes="first")
    salesforce, marketo = (call.deliveries.get(target=t) for t in ("salesforce", "marketo"))
    salesforce.status = Delivery.Status.FAILED
    salesforce.last_error_code = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    salesforce.last_error_message = "Subject is required by a validation rule"
    salesforce.save()
    marketo.status = Delivery.Status.PENDING
    marketo.save()
    url = f"/people/{person.pk}/calls/history/"

    pending = seller_client.get(url).content.decode()
    marketo.status, marketo.remote_id = Delivery.Status.DELIVERED, "4242"
    marketo.save()
    settled = seller_client.get(url).content.decode()

    assert "Failed</span> <small>FIELD_CUSTOM_VALIDATION_EXCEPTION: Subject is required" in pending
    assert 'data-target="marketo" data-status="pending"' in pending
    assert 'hx-trigger="every 2s"' in pending  # polls while a delivery is under way
    assert 'data-target="marketo" data-status="delivered"' in settled
    assert 'hx-trigger' not in settled


def test_people_outside_the_workspace_have_no_panel(seller_client):
    gone = PersonFactory(in_workspace=False, removed_reason="deleted")

    assert seller_client.get(panel_url(gone)).status_code == 404
    assert seller_client.post(panel_url(gone), {}).status_code == 404


# --------------------------------------------------------------------------- dialer settings


def test_admin_manages_outcomes_reasons_and_the_mode(admin_client):
    admin_client.post("/settings/calls/outcomes/", {"name": "Connected",
                                                    "call_status": "completed"})
    admin_client.post("/settings/calls/outcomes/", {"name": "No answer",
                                                    "call_status": "no_answer"})
    admin_client.post("/settings/calls/reasons/", {"name": "Renewal"})
    admin_client.post("/settings/calls/", {"outcome_mode": "required"})

    page = admin_client.get("/settings/").content.decode()

    assert list(CallOutcome.objects.values_list("name", "call_status")) == [
        ("Connected", "completed"), ("No answer", "no_answer")]
    assert list(CallReason.objects.values_list("name", flat=True)) == ["Renewal"]
    assert CallSettings.load().outcome_mode == "required"
    assert "No answer <small>· counts as no answer</small>" in page

    admin_client.post(f"/settings/calls/outcomes/{CallOutcome.objects.get(name='Connected').pk}"
                      "/remove/")
    assert list(CallOutcome.objects.values_list("name", flat=True)) == ["No answer"]


def test_at_most_15_outcomes_and_no_duplicates(admin_client):
    for n in range(15):
        call_outcome_create(name=f"Outcome {n}")

    extra = admin_client.post("/settings/calls/outcomes/", {"name": "One more",
                                                            "call_status": "completed"},
                              follow=True)
    admin_client.post("/settings/calls/reasons/", {"name": "Intro"})
    twice = admin_client.post("/settings/calls/reasons/", {"name": "intro"}, follow=True)

    assert CallOutcome.objects.count() == 15
    assert "At most 15 call outcomes; remove one first." in extra.content.decode()
    assert CallReason.objects.count() == 1
    assert "&#x27;intro&#x27; is already there." in twice.content.decode()


@pytest.mark.parametrize("path", ["/settings/calls/", "/settings/calls/outcomes/",
                                  "/settings/calls/reasons/"])
def test_sellers_cannot_change_dialer_settings(seller_client, path):
    assert seller_client.post(path, {"name": "x", "outcome_mode": "off"}).status_code == 403
    assert not CallOutcome.objects.exists() and not CallReason.objects.exists()


def test_a_note_longer_than_salesforce_takes_is_refused_and_kept_in_the_form(seller_client,
                                                                              person):
    from activities.models import MAX_CALL_NOTES

    typed = "Talked budgets. " * (MAX_CALL_NOTES // 16 + 1)
    response = seller_client.post(panel_url(person), {"duration": "1:00", "notes": typed}, **HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(r"Description holds\); this note has 3\d{4}\.", page)
    assert typed.strip()[:200] in page  # what the seller typed is still there to shorten
    assert not Call.objects.exists()
