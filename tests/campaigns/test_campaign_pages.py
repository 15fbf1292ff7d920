"""Campaign pages: the editor (steps added and reordered), bulk add of everyone matching the
people list's filters (not only one page) with the preview's counts, the person panel."""

import pytest
from campaign_helpers import CALL, CUSTOM, INMAIL
from factories import PersonFactory, UnsubscribeFactory

from campaigns.models import Campaign, CampaignMember

pytestmark = pytest.mark.django_db


def test_editor_adds_and_reorders_steps(seller_client, seller):
    response = seller_client.post("/campaigns/new/", {
        "name": "Spring", "window_start_hour": 9, "window_end_hour": 17,
        "window_days": ["0", "1"]})
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and campaign.window_days == "01"
    # A step goes in its day's place: day 2 before day 5, whatever order they were added in.
    for step in (CALL, CUSTOM, INMAIL, {**INMAIL, "type": "custom", "name": "Send a note"}):
        seller_client.post(f"/campaigns/{campaign.pk}/steps/", step)
    titles = lambda: [s.title for s in campaign.steps.all()]  # noqa: E731
    assert titles() == ["Intro call", "InMail follow-up", "Send a note", "Send a gift"]
    note = campaign.steps.get(name="Send a note")
    seller_client.post(f"/campaigns/{campaign.pk}/steps/{note.pk}/move/", {"action": "up"})
    assert titles() == ["Intro call", "Send a note", "InMail follow-up", "Send a gift"]
    page = seller_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "Day offsets count from the moment a person is added" in page
    assert "<script" not in page.split("</head>")[1]  # no inline script in the body
    seller_client.post(f"/campaigns/{campaign.pk}/status/", {"status": "active"})
    campaign.refresh_from_db()
    assert campaign.status == "active"


def test_bulk_add_takes_everyone_matching_the_filter(seller_client, seller, make_campaign):
    campaign = make_campaign(seller, [CALL])
    # 60 people at Acme (more than one page of 50), 5 elsewhere.
    acme = PersonFactory.create_batch(60, company="Acme Corp", owner_email=seller.email)
    PersonFactory.create_batch(5, company="Globex", owner_email=seller.email)
    already = acme[0]
    CampaignMember.objects.create(campaign=campaign, person=already, added_by=seller,
                                  added_at=campaign.created_at, anchor_at=campaign.created_at)
    UnsubscribeFactory(person=acme[1])
    list_page = seller_client.get("/people/", {"company": "acme corp"}).content.decode()
    # The list's bulk form carries its filters to the campaign page.
    assert 'formaction="/campaigns/add-people/"' in list_page
    assert '<input type="hidden" name="company" value="acme corp">' in list_page

    preview = seller_client.get("/campaigns/add-people/", {
        "company": "acme corp", "campaign": campaign.pk}).content.decode()
    assert "<strong>60</strong> people match" in preview
    assert '<strong id="will-add">58</strong>' in preview
    assert "1 skipped: already in this campaign" in preview
    assert "1 skipped: address unsubscribed" in preview

    response = seller_client.post("/campaigns/add-people/", {
        "company": "acme corp", "campaign": campaign.pk})
    assert response.status_code == 302
    assert campaign.members.filter(status="active").count() == 59
    assert not campaign.members.filter(person__company="Globex").exists()


def test_person_panel_adds_and_removes(seller_client, seller, make_campaign):
    campaign = make_campaign(seller, [CALL])
    person = PersonFactory()
    panel = seller_client.get(f"/people/{person.pk}/campaigns/").content.decode()
    assert "Not in any campaign" in panel and campaign.name in panel
    seller_client.post(f"/people/{person.pk}/campaigns/add/", {"campaign": campaign.pk})
    panel = seller_client.get(f"/people/{person.pk}/campaigns/").content.decode()
    assert "active" in panel and "Intro call" in panel
    seller_client.post(f"/campaigns/{campaign.pk}/members/{person.pk}/remove/",
                       {"next": f"/people/{person.pk}/"})
    assert CampaignMember.objects.get().end_reason == "removed"


def test_other_sellers_private_campaign_is_404(client, seller, make_campaign):
    from factories import UserFactory

    campaign = make_campaign(seller, [CALL])
    client.force_login(UserFactory())
    assert client.get(f"/campaigns/{campaign.pk}/").status_code == 404
    assert client.get("/campaigns/").status_code == 200


def test_review_queue_page_sends_the_edited_email(seller_client, seller, make_campaign):
    from campaigns.scheduler import campaign_steps_run
    from emails.models import SalesEmail
    from syncing.models import SyncSettings

    SyncSettings.objects.update_or_create(pk=1, defaults={"marketo_unsubscribe_check": False})
    campaign = make_campaign(seller, [{"type": "email", "day_offset": 0, "subject": "Hi",
                                       "body": "Hello {{first_name}}", "auto_send": False}])
    person = PersonFactory(first_name="Olivia")
    from campaigns.services import members_add

    members_add(campaign, [person.pk], by=seller)
    campaign_steps_run()
    page = seller_client.get("/campaigns/review/").content.decode()
    assert "Hello {{first_name}}" in page and person.email in page
    item = campaign.members.get().history.get()
    response = seller_client.post(f"/campaigns/review/{item.pk}/", {
        "action": "send", "subject": "Hi Olivia", "body": "Hello {{first_name}}, edited"})
    assert response.status_code == 302
    email = SalesEmail.objects.get()
    assert (email.subject, email.body) == ("Hi Olivia", "Hello Olivia, edited")
    assert "Nothing waits for review" in seller_client.get("/campaigns/review/").content.decode()


def test_manage_py_sync_runs_due_steps(seller, make_campaign):
    from io import StringIO

    from django.core.management import call_command

    from campaigns.services import members_add
    from reminders.models import ReminderTask

    campaign = make_campaign(seller, [CALL])
    members_add(campaign, [PersonFactory().pk], by=seller)
    out = StringIO()
    call_command("sync", stdout=out)
    assert "campaign steps: 1 due members" in out.getvalue()
    assert ReminderTask.objects.count() == 1
