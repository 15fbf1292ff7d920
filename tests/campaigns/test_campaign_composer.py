"""What campaigns take from the composer (issue 24): email templates selectable in email steps,
and the review queue showing each waiting email merged for its person (the campaign's name and
the sender's signature included)."""

import pytest
from factories import PersonFactory, UserFactory

from campaigns.review import review_items_for
from campaigns.services import members_add
from emails.services import template_save

pytestmark = pytest.mark.django_db


def test_email_steps_offer_the_sellers_templates(seller_client, seller, make_campaign):
    template_save(user=seller, name="Pricing follow-up", subject="Pricing for {{company}}",
                  body="Hi {{first_name}},\n\nprices & terms")
    campaign = make_campaign(seller, [], status="draft")

    page = seller_client.get(f"/campaigns/{campaign.pk}/").content.decode()

    assert "data-template-picker" in page
    assert ('data-subject="Pricing for {{company}}" data-body="Hi {{first_name}},\n\n'
            'prices &amp; terms">Pricing follow-up') in page


def test_the_review_queue_shows_the_merged_text(seller_client, seller, make_campaign):
    from campaigns.scheduler import campaign_steps_run
    from syncing.models import SyncSettings

    SyncSettings.objects.update_or_create(pk=1, defaults={"marketo_unsubscribe_check": False})
    seller.signature = "Sam, Acme Sales"
    seller.save()
    campaign = make_campaign(seller, [{
        "type": "email", "day_offset": 0, "subject": "About {{sales_campaign_name}}",
        "body": "Hello {{first_name}}", "auto_send": False}], name="Spring outreach")
    person = PersonFactory(first_name="Olivia")
    members_add(campaign, [person.pk], by=seller)
    campaign_steps_run()

    page = seller_client.get("/campaigns/review/").content.decode()
    item = review_items_for(seller).get()
    assert f'hx-post="/campaigns/review/{item.pk}/preview/"' in page

    merged = seller_client.post(f"/campaigns/review/{item.pk}/preview/", {
        "subject": "About {{sales_campaign_name}}", "body": "Hello {{first_name}}"}
    ).content.decode()
    assert "About Spring outreach" in merged
    assert "Hello Olivia" in merged and "Sam, Acme Sales" in merged


def test_an_admin_reviewing_sees_the_sellers_signature_not_their_own(
        admin_client, admin_user, seller, make_campaign):
    """The email goes out from the seller whose campaign queued it, signed by them: the
    preview an admin sees while reviewing it says so."""
    from campaigns.scheduler import campaign_steps_run
    from syncing.models import SyncSettings

    SyncSettings.objects.update_or_create(pk=1, defaults={"marketo_unsubscribe_check": False})
    seller.signature, admin_user.signature = "Sam, Acme Sales", "Ada, the admin"
    seller.save()
    admin_user.save()
    campaign = make_campaign(seller, [{
        "type": "email", "day_offset": 0, "subject": "Hi", "body": "Hello {{first_name}}",
        "auto_send": False}])
    members_add(campaign, [PersonFactory(first_name="Olivia").pk], by=seller)
    campaign_steps_run()
    item = review_items_for(seller).get()

    merged = admin_client.post(f"/campaigns/review/{item.pk}/preview/", {
        "subject": "Hi", "body": "Hello {{first_name}}"}).content.decode()

    assert "Sam, Acme Sales" in merged and "Ada, the admin" not in merged


def test_another_sellers_review_item_is_not_previewed(seller, make_campaign, client):
    from campaigns.scheduler import campaign_steps_run
    from syncing.models import SyncSettings

    SyncSettings.objects.update_or_create(pk=1, defaults={"marketo_unsubscribe_check": False})
    campaign = make_campaign(seller, [{
        "type": "email", "day_offset": 0, "subject": "Hi", "body": "Hello",
        "auto_send": False}])
    members_add(campaign, [PersonFactory().pk], by=seller)
    campaign_steps_run()
    item = review_items_for(seller).get()
    client.force_login(UserFactory())

    answer = client.post(f"/campaigns/review/{item.pk}/preview/", {"subject": "Hi",
                                                                   "body": "Hello"})

    assert answer.status_code == 404
