"""What campaigns take from the composer (issue 24): email templates selectable in email steps,
and the review queue showing each waiting email merged for its person (the campaign's name and
the sender's signature included)."""

import pytest
from factories import PersonFactory

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
    assert f'hx-post="/people/{person.pk}/emails/preview/"' in page
    assert 'name="sales_campaign_name" value="Spring outreach"' in page

    merged = seller_client.post(f"/people/{person.pk}/emails/preview/", {
        "subject": "About {{sales_campaign_name}}", "body": "Hello {{first_name}}",
        "sales_campaign_name": "Spring outreach"}).content.decode()
    assert "About Spring outreach" in merged
    assert "Hello Olivia" in merged and "Sam, Acme Sales" in merged
