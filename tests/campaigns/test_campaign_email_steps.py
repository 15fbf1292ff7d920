"""Email steps through sales email: an auto-send step queues the email with the campaign's
name (merged into {{sales_campaign_name}}); a review step waits in the seller's queue until
the seller edits and sends it (or skips it); replies and bounces end the membership."""

from datetime import timedelta

import pytest
from campaign_helpers import CALL
from factories import PersonFactory, UnsubscribeFactory

from campaigns import clock
from campaigns.models import CampaignMember, MemberStep
from campaigns.review import review_items_for, review_send, review_skip
from campaigns.scheduler import campaign_steps_run
from campaigns.services import members_add
from emails.models import SalesEmail
from emails.signals import email_status_changed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_marketo_check(db):
    """Marketo's unsubscribe check off (one test below asks the Marketo sandbox)."""
    from syncing.models import SyncSettings

    SyncSettings.objects.update_or_create(pk=1, defaults={"marketo_unsubscribe_check": False})

AUTO = {"type": "email", "day_offset": 0, "auto_send": True,
        "subject": "{{first_name}}, about {{sales_campaign_name}}",
        "body": "Hi {{first_name}},\n\n{{sender_name}}"}
REVIEW = {"type": "email", "day_offset": 1, "auto_send": False,
          "subject": "Following up", "body": "Hello {{first_name}}"}


def test_auto_send_queues_the_email_with_the_campaign_name(seller, make_campaign,
                                                           marketo_connected, seed_people):
    from syncing.models import SyncSettings

    SyncSettings.objects.filter(pk=1).update(marketo_unsubscribe_check=True)
    campaign = make_campaign(seller, [AUTO, dict(CALL, day_offset=3)], name="Q2 Renewals")
    person, = seed_people("contact")  # a lead the Marketo sandbox knows, not unsubscribed
    members_add(campaign, [person.pk], by=seller)

    report = campaign_steps_run()

    assert report.results == {"queued": 1}
    email = SalesEmail.objects.get()
    assert email.subject == f"{person.first_name}, about Q2 Renewals"
    assert email.sales_campaign_name == "Q2 Renewals"
    assert email.sender == seller and email.person == person
    run = MemberStep.objects.get()
    assert run.email == email and run.result == "queued"
    member = CampaignMember.objects.get()
    assert member.next_position == 1


def test_a_batch_asks_marketo_once_for_all_its_emails(seller, make_campaign,
                                                      marketo_connected, seed_people):
    """The unsubscribe check of a batch's emails is one Marketo call (300 addresses a call),
    not one per member: at 100 ms a call that was most of a step's cost."""
    from syncing.models import SyncSettings

    SyncSettings.objects.filter(pk=1).update(marketo_unsubscribe_check=True)
    campaign = make_campaign(seller, [AUTO], name="Q3 Expansion")
    people = seed_people("contact", 12)
    members_add(campaign, [person.pk for person in people], by=seller)
    marketo_connected.reset_counters()

    report = campaign_steps_run()

    queued = report.results.get("queued", 0)
    assert queued + report.results.get("held", 0) + report.results.get("refused", 0) == 12
    assert SalesEmail.objects.count() == queued + report.results.get("held", 0)
    lookups = {endpoint: n for endpoint, n in marketo_connected.counters()["by_endpoint"].items()
               if "leads.json" in endpoint}
    assert sum(lookups.values()) == 1, lookups


def test_a_batch_reads_suppression_once_and_asks_marketo_in_the_background(
        seller, make_campaign, marketo_connected, seed_people, monkeypatch):
    """A batch reads which addresses are suppressed once (it ends those members) and hands
    that to the unsubscribe check, which read it a second time; the check's Marketo call is
    made in the process's checking thread, and the outcomes are each member's as before: a
    suppressed address ends, a person with an unsubscribe of their own (at an old address)
    is refused, the others are queued or, unsubscribed in Marketo, refused."""
    import threading

    from campaigns import scheduler
    from syncing.clients.marketo import MarketoClient
    from syncing.models import SyncSettings
    from unsubscribes import selectors, send_check

    SyncSettings.objects.filter(pk=1).update(marketo_unsubscribe_check=True)
    campaign = make_campaign(seller, [AUTO], name="Q4 Check")
    people = seed_people("contact", 12)
    members_add(campaign, [person.pk for person in people], by=seller)
    suppressed, moved, *others = people
    UnsubscribeFactory(person=suppressed)
    UnsubscribeFactory(person=moved)
    moved.email = "moved-on@example.com"
    moved.save()
    reads, asked_from = [], []

    def suppression_read(emails):
        emails = list(emails)
        reads.append(emails)
        return selectors.addresses_suppressed(emails)

    def leads_by_filter(client, *args, **kwargs):
        asked_from.append(threading.current_thread().name)
        return real_leads(client, *args, **kwargs)

    real_leads = MarketoClient.leads_by_filter
    monkeypatch.setattr(scheduler, "addresses_suppressed", suppression_read)
    monkeypatch.setattr(send_check, "addresses_suppressed", suppression_read)
    monkeypatch.setattr(MarketoClient, "leads_by_filter", leads_by_filter)

    report = campaign_steps_run()

    assert len(reads) == 1 and len(reads[0]) == 12
    assert len(asked_from) == 1 and asked_from[0].startswith("marketo-unsubscribe-check")
    assert report.ended == {"unsubscribed": 1, "completed": 11}
    results = {step.member.person_id: step for step in
               MemberStep.objects.select_related("member")}
    assert suppressed.pk not in results
    assert results[moved.pk].result == "refused" and "in the app" in results[moved.pk].detail
    queued = [p for p in others if results[p.pk].result == "queued"]
    assert queued and all(results[p.pk].email_id for p in queued)
    assert all("unsubscribed in Marketo" in results[p.pk].detail
               for p in others if p not in queued)
    assert SalesEmail.objects.count() == len(queued)


def test_unknown_merge_fields_are_refused_when_the_step_is_saved(seller, make_campaign):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        make_campaign(seller, [dict(AUTO, body="Hi {{nickname}}")])
    assert "{{nickname}}" in refused.value.detail["steps"][0]["body"][0]


def test_review_step_waits_then_sends_with_the_sellers_edits(seller, make_campaign):
    campaign = make_campaign(seller, [REVIEW, dict(CALL, day_offset=2)])
    person = PersonFactory(first_name="Olivia")
    members_add(campaign, [person.pk], by=seller)
    clock.advance(timedelta(days=1))

    assert campaign_steps_run().results == {"review": 1}
    assert not SalesEmail.objects.exists()
    member = CampaignMember.objects.get()
    assert member.status == "review" and member.next_step_due_at is None
    clock.advance(timedelta(days=3))
    assert campaign_steps_run().claimed == 0  # the member waits for the review
    item, = review_items_for(seller)

    review_send(item, by=seller, subject="Following up, Olivia", body="Hello {{first_name}}!")

    email = SalesEmail.objects.get()
    assert (email.subject, email.body) == ("Following up, Olivia", "Hello Olivia!")
    item.refresh_from_db()
    assert item.result == "queued" and item.email == email
    member.refresh_from_db()
    # The call step (day 2) is already past: due at once.
    assert member.status == "active" and member.next_step_due_at == clock.now()
    assert campaign_steps_run().results == {"task": 1}


def test_review_skip_moves_on(seller, make_campaign):
    campaign = make_campaign(seller, [dict(REVIEW, day_offset=0)])
    members_add(campaign, [PersonFactory().pk], by=seller)
    campaign_steps_run()
    item, = review_items_for(seller)
    review_skip(item, by=seller)
    member = CampaignMember.objects.get()
    assert member.end_reason == "completed" and not SalesEmail.objects.exists()


def test_another_sellers_review_item_is_not_theirs(seller, make_campaign):
    from factories import UserFactory

    campaign = make_campaign(seller, [dict(REVIEW, day_offset=0)])
    members_add(campaign, [PersonFactory().pk], by=seller)
    campaign_steps_run()
    assert list(review_items_for(UserFactory())) == []


def test_a_suppressed_address_ends_instead_of_sending(seller, make_campaign):
    campaign = make_campaign(seller, [dict(AUTO, day_offset=1)])
    person = PersonFactory()
    members_add(campaign, [person.pk], by=seller)
    UnsubscribeFactory(person=person)
    clock.advance(timedelta(days=1))
    assert campaign_steps_run().ended == {"unsubscribed": 1}
    assert not SalesEmail.objects.exists()


@pytest.mark.parametrize("status,reason", [("replied", "replied"), ("bounced", "bounced")])
def test_reply_and_bounce_end_the_membership(seller, make_campaign, status, reason):
    campaign = make_campaign(seller, [AUTO, dict(CALL, day_offset=3)])
    members_add(campaign, [PersonFactory().pk], by=seller)
    campaign_steps_run()
    email = SalesEmail.objects.get()

    email_status_changed.send(sender=SalesEmail, email=email, status=status)

    member = CampaignMember.objects.get()
    assert member.status == "ended" and member.end_reason == reason
    clock.advance(timedelta(days=5))
    assert campaign_steps_run().claimed == 0
    # The history stays: which step ran, when, with what result.
    run, = member.history.all()
    assert (run.title, run.result, run.email) == (AUTO["subject"], "queued", email)


def test_results_per_step_count_email_events_and_endings(seller_client, seller, make_campaign):
    from django.utils import timezone

    from campaigns.selectors import campaign_step_results
    from emails.models import EmailEvent
    from unsubscribes.services import unsubscribe_record

    campaign = make_campaign(seller, [AUTO, dict(CALL, day_offset=3)], name="Q2 Renewals")
    people = PersonFactory.create_batch(3)
    members_add(campaign, [p.pk for p in people], by=seller)
    campaign_steps_run()
    emails = list(SalesEmail.objects.order_by("pk"))
    now = timezone.now()
    for email, kinds in zip(emails, (["sent", "opened", "clicked"], ["sent", "opened"],
                                     ["sent", "bounced"]), strict=True):
        for kind in kinds:
            EmailEvent.objects.create(email=email, kind=kind, at=now)
    email_status_changed.send(sender=SalesEmail, email=emails[2], status="bounced")
    # An unsubscribe ends the second one (the scheduler's check, at its next step).
    unsubscribe_record(people[1], "manual", by=seller)
    clock.advance(timedelta(days=3))
    campaign_steps_run()

    email_step, call_step = campaign_step_results(campaign)
    assert (email_step.get("queued"), email_step.get("sent"), email_step.get("opened"),
            email_step.get("clicked"), email_step.get("bounced")) == (3, 3, 2, 1, 1)
    assert email_step.get("ended_unsubscribed") == 1
    assert email_step.get("ended_bounced") == 1
    assert call_step.get("task") == 1
    # Rates over the delivered emails (3 sent − 1 bounced), the bounce rate over sent.
    assert email_step.rates == {"opened": "100%", "clicked": "50%", "replied": "0%",
                                "bounced": "33%"}
    detail = seller_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert '1 <small class="step-rate">50%</small>' in detail
    page = seller_client.get("/campaigns/").content.decode()
    assert "sent 3 · opened 2 · clicked 1 · replied 0 · bounced 1 · unsubscribed 1" in page
