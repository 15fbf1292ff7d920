"""The campaign editor and the review queue (issue 24): task steps fill their merge fields
(defect 2); a refused form comes back with what the seller typed and errors in words, beside
the field (defect 3); steps run in the order of their days, never against it (defect 7)."""

import pytest
from campaign_helpers import CALL, CUSTOM
from factories import PersonFactory
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignStep
from campaigns.scheduler import campaign_steps_run
from campaigns.services import members_add
from reminders.models import ReminderTask

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_task_steps_fill_merge_fields(seller, make_campaign):
    campaign = make_campaign(seller, [{
        "type": "call", "day_offset": 0, "name": "Call {{first_name}} at {{company}}",
        "details": "Ask {{first_name|them}} about {{sales_campaign_name}}; {{sender_name}}"}])
    person = PersonFactory(first_name="Olivia", company="Acme")
    members_add(campaign, [person.pk], by=seller)

    campaign_steps_run()

    task = ReminderTask.objects.get()
    assert task.name == "Call Olivia at Acme (Spring outreach)"
    assert task.details.startswith(f"Ask Olivia about Spring outreach; {seller.get_full_name()}")
    assert "{{" not in task.name + task.details


@pytest.mark.parametrize("day", ["-3", "100000", "soon"])
def test_a_refused_step_keeps_what_was_typed(seller_client, seller, make_campaign, day):
    campaign = make_campaign(seller, [CALL], status="draft")
    response = seller_client.post(f"/campaigns/{campaign.pk}/steps/", {
        "type": "custom", "day_offset": day, "name": "Send a gift to {{company}}",
        "details": "The blue mug"})

    html = response.content.decode()
    assert response.status_code == 400
    assert "Day must be between 0 and 365." in html
    assert 'value="Send a gift to {{company}}"' in html and "The blue mug</textarea>" in html
    assert "Check the step" not in html and "steps:" not in html
    assert campaign.steps.count() == 1


def test_a_step_refused_by_the_service_names_the_field_in_words(seller_client, seller,
                                                                  make_campaign):
    campaign = make_campaign(seller, [CALL], status="draft")
    response = seller_client.post(f"/campaigns/{campaign.pk}/steps/", {
        "type": "email", "day_offset": "2", "subject": "Hi {{nickname}}",
        "body": "Typed with care"})

    html = response.content.decode()
    assert response.status_code == 400
    assert "Unknown merge field {{nickname}}" in html and "steps:" not in html
    assert 'value="Hi {{nickname}}"' in html and "Typed with care</textarea>" in html


def test_editing_a_step_keeps_the_typed_text_on_error(seller_client, seller, make_campaign):
    campaign = make_campaign(seller, [CALL, CUSTOM], status="draft")
    step = campaign.steps.first()
    response = seller_client.post(f"/campaigns/{campaign.pk}/steps/{step.pk}/", {
        "type": "call", "day_offset": "400", "name": "Call again", "details": "New words"})

    html = response.content.decode()
    assert response.status_code == 400
    assert "Day must be between 0 and 365." in html
    assert 'value="Call again"' in html and "New words</textarea>" in html
    step.refresh_from_db()
    assert step.name == "Intro call"


def test_campaign_settings_errors_keep_the_typed_values(seller_client, seller, make_campaign):
    campaign = make_campaign(seller, [CALL])
    response = seller_client.post(f"/campaigns/{campaign.pk}/edit/", {
        "name": "Renamed by hand", "window_enabled": "on", "window_days": ["0", "2"],
        "window_start_hour": "18", "window_end_hour": "9"})

    html = response.content.decode()
    assert response.status_code == 400
    assert "The sending window must open before it closes." in html
    assert "window_end_hour:" not in html
    assert 'value="Renamed by hand"' in html and 'value="18"' in html
    campaign.refresh_from_db()
    assert campaign.name == "Spring outreach"


def test_the_api_and_the_schema_say_the_same_day_bounds(seller):
    response = api(seller).post("/api/v1/campaigns/", {"name": "Long", "steps": [
        {"type": "call", "day_offset": 366, "name": "Much later"}]}, format="json")
    assert response.status_code == 400
    # DRF keys a nested list's errors by position.
    assert response.json()["steps"]["0"]["day_offset"] == ["Day must be between 0 and 365."]
    schema = api(seller).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    day = schema["components"]["schemas"]["Step"]["properties"]["day_offset"]
    assert (day["minimum"], day["maximum"]) == (0, 365)


def test_review_queue_refusal_keeps_the_edited_text(seller_client, seller, make_campaign):
    from syncing.models import SyncSettings

    SyncSettings.objects.update_or_create(pk=1, defaults={"marketo_unsubscribe_check": False})
    campaign = make_campaign(seller, [{"type": "email", "day_offset": 0, "subject": "Hi",
                                       "body": "Hello {{first_name}}"}])
    members_add(campaign, [PersonFactory().pk], by=seller)
    campaign_steps_run()
    item = campaign.members.get().history.get()

    response = seller_client.post(f"/campaigns/review/{item.pk}/", {
        "action": "send", "subject": "Hi again", "body": "Rewritten for {{nick}} by hand"})

    html = response.content.decode()
    assert response.status_code == 400
    assert "Rewritten for {{nick}} by hand</textarea>" in html and 'value="Hi again"' in html
    assert "Unknown merge field {{nick}}" in html and "body:" not in html
    known = html.split("known fields are")[1].split("</li>")[0]
    assert "{{sales_campaign_name}}" in known
    page = seller_client.get("/campaigns/review/").content.decode()
    assert "{{sales_campaign_name}}" in page  # the queue's list of merge fields


def test_steps_run_in_the_order_of_their_days(seller):
    response = api(seller).post("/api/v1/campaigns/", {"name": "Backwards", "steps": [
        {"type": "call", "day_offset": 7, "name": "Later call"},
        {"type": "call", "day_offset": 5, "name": "Earlier call"}]}, format="json")
    assert response.status_code == 400
    assert response.json()["steps"] == [{}, {"day_offset": [
        "Day 5 comes before day 7 of step 1, the step above it: steps run in order, so give "
        "this step day 7 or later, or move it."]}]
    assert not Campaign.objects.exists()


def test_arrows_do_not_move_a_step_across_another_day(seller_client, seller, make_campaign):
    campaign = make_campaign(seller, [CALL, CUSTOM], status="draft")
    later = campaign.steps.get(name="Send a gift")
    response = seller_client.post(f"/campaigns/{campaign.pk}/steps/{later.pk}/move/",
                                  {"action": "up"}, follow=True)
    assert "Step 2 is on day 5 and step 1 on day 0" in response.content.decode()
    assert [s.name for s in CampaignStep.objects.filter(campaign=campaign)] == [
        "Intro call", "Send a gift"]


def test_a_step_edited_to_an_earlier_day_than_the_one_above_is_refused(
        seller_client, seller, make_campaign):
    campaign = make_campaign(seller, [CALL, CUSTOM], status="draft")
    later = campaign.steps.get(name="Send a gift")
    response = seller_client.post(f"/campaigns/{campaign.pk}/steps/{later.pk}/", {
        "type": "custom", "day_offset": "-0", "name": "Send a gift"})
    assert response.status_code == 302  # day 0 after day 0 is fine
    CampaignStep.objects.filter(pk=later.pk).update(day_offset=5)
    first = campaign.steps.get(name="Intro call")
    response = seller_client.post(f"/campaigns/{campaign.pk}/steps/{first.pk}/", {
        "type": "call", "day_offset": "9", "name": "Intro call"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Step 2: Day 5 comes before day 9 of step 1" in html


def test_a_new_campaign_refused_keeps_the_typed_name(seller_client):
    response = seller_client.post("/campaigns/new/", {
        "name": "Autumn push", "window_start_hour": "12", "window_end_hour": "12"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "The sending window must open before it closes." in html
    assert 'value="Autumn push"' in html and not Campaign.objects.exists()
