"""The person page's one activity timeline: every kind, newest first, filterable, overdue
tasks marked, each kind as its own page shows it to the user, and a bounded number of queries
however long the person's history."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from factories import (
    CallFactory,
    DeliveryFactory,
    PersonFactory,
    ReminderTaskFactory,
    SalesEmailFactory,
    UnsubscribeFactory,
    UserFactory,
)

from campaigns.models import Campaign, CampaignMember, MemberStep
from emails.models import EmailEvent
from people.timeline import KINDS, person_timeline

pytestmark = pytest.mark.django_db


def _history(person, seller, *, each: int = 1, start=None):
    """``each`` of every kind for ``person``, an hour apart, newest last."""
    now = start or timezone.now()
    campaign = Campaign.objects.create(name="Q2 outreach", owner=seller)
    for n in range(each):
        at = now - timedelta(hours=10 * (each - n))
        call = CallFactory(person=person, logged_by=seller, called_at=at, outcome="Connected")
        DeliveryFactory(record=call)
        email = SalesEmailFactory(person=person, sender=seller, subject=f"Pricing {n}",
                                  sent_at=at + timedelta(hours=1))
        EmailEvent.objects.create(email=email, kind="opened", at=at + timedelta(hours=2))
        done = ReminderTaskFactory(person=person, assignee=seller, name=f"Done {n}",
                                   status="complete")
        done.completed_at = at + timedelta(hours=3)
        done.save()
        member = CampaignMember.objects.create(
            campaign=campaign if n == 0 else Campaign.objects.create(name=f"C{n}", owner=seller),
            person=person, added_by=seller, added_at=at + timedelta(hours=4),
            anchor_at=at + timedelta(hours=4))
        MemberStep.objects.create(member=member, position=0, type="call", title="Intro call",
                                  due_at=at + timedelta(hours=5), ran_at=at + timedelta(hours=5),
                                  result="task")
    unsubscribe = UnsubscribeFactory(person=person, source="bounce")
    return unsubscribe


def test_every_kind_is_on_one_timeline_newest_first(seller):
    person = PersonFactory()
    _history(person, seller)

    timeline = person_timeline(person, seller)

    kinds = [entry.kind for entry in timeline.entries]
    assert set(kinds) == {"call", "email", "task", "campaign", "unsubscribe"}
    moments = [entry.at for entry in timeline.entries]
    assert moments == sorted(moments, reverse=True)
    # The unsubscribe was recorded last (now); the call first (ten hours ago).
    assert kinds[0] == "unsubscribe" and kinds[-1] == "call"
    assert timeline.shows_marketo


def test_the_filter_keeps_one_kind_and_marketo_is_its_own(seller):
    person = PersonFactory()
    _history(person, seller)

    for kind in ("call", "email", "task", "campaign", "unsubscribe"):
        timeline = person_timeline(person, seller, kind=kind)
        assert {entry.kind for entry in timeline.entries} == {kind}
        assert not timeline.shows_marketo
    marketo = person_timeline(person, seller, kind="marketo")
    assert marketo.entries == [] and marketo.shows_marketo
    assert person_timeline(person, seller, kind="nonsense").kind == ""


def test_open_tasks_come_first_and_overdue_ones_are_marked(seller):
    person = PersonFactory()
    today = timezone.localdate()
    late = ReminderTaskFactory(person=person, assignee=seller, name="Chase the contract",
                               due_date=today - timedelta(days=3))
    soon = ReminderTaskFactory(person=person, assignee=seller, name="Send the deck",
                               due_date=today + timedelta(days=1))

    timeline = person_timeline(person, seller)

    assert timeline.open_tasks == [late, soon]
    assert [task.overdue for task in timeline.open_tasks] == [True, False]


def test_a_seller_sees_their_own_emails_and_tasks_on_the_timeline(seller):
    person = PersonFactory()
    other = UserFactory()
    SalesEmailFactory(person=person, sender=other, subject="Not yours")
    ReminderTaskFactory(person=person, assignee=other, name="Not yours either")
    SalesEmailFactory(person=person, sender=seller, subject="Yours")

    timeline = person_timeline(person, seller)

    assert [entry.title for entry in timeline.entries] == ["Yours"]
    assert timeline.open_tasks == []


def _queries(person, user) -> int:
    with CaptureQueriesContext(connection) as captured:
        person_timeline(person, user)
    return len(captured.captured_queries)


def test_the_timeline_takes_the_same_few_queries_however_long_the_history(seller):
    short, long = PersonFactory(), PersonFactory()
    _history(short, seller, each=1)
    _history(long, seller, each=12)

    few, many = _queries(short, seller), _queries(long, seller)

    assert few == many
    assert many <= 9  # calls (+ deliveries), emails (+ events), tasks, 2 campaign, unsubscribes


def test_the_timeline_page_takes_the_same_queries_however_long_the_history(seller_client,
                                                                          seller):
    short, long = PersonFactory(), PersonFactory()
    _history(short, seller, each=1)
    _history(long, seller, each=12)

    def counted(person) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert seller_client.get(f"/people/{person.pk}/timeline/").status_code == 200
        return len(captured.captured_queries)

    counted(short)  # the session and the user, read once per request, are warm after this
    assert counted(short) == counted(long)


def test_the_person_page_shows_actions_above_the_timeline_and_filters_by_kind(seller_client,
                                                                             seller):
    person = PersonFactory()
    _history(person, seller)
    ReminderTaskFactory(person=person, assignee=seller, name="Chase the contract",
                        due_date=timezone.localdate() - timedelta(days=2))

    page = seller_client.get(f"/people/{person.pk}/").content.decode()

    actions = page.index('id="person-actions"')
    assert actions < page.index('id="timeline"')
    for label in ("Log a call", "Add a task", "Write an email"):
        assert label in page[actions:page.index('id="timeline"')]
    assert f'hx-get="/people/{person.pk}/calls/?part=form"' in page
    assert 'class="timeline-entry overdue"' in page and "Overdue" in page
    for key, label in KINDS.items():
        assert f'?kind={key}' in page and str(label) in page
    assert f'hx-get="/people/{person.pk}/marketo-activities/"' in page

    calls_only = seller_client.get(f"/people/{person.pk}/timeline/?kind=call").content.decode()
    assert 'data-kind="call"' in calls_only and 'data-kind="email"' not in calls_only
    assert "marketo-activities" not in calls_only


def test_timeline_polls_only_while_something_is_on_its_way(seller_client, seller):
    person = PersonFactory()
    SalesEmailFactory(person=person, sender=seller, status="sent")
    url = f"/people/{person.pk}/timeline/?part=entries"
    assert "every 3s" not in seller_client.get(url).content.decode()

    SalesEmailFactory(person=person, sender=seller, status="queued", sent_at=None,
                      send_at=timezone.now() + timedelta(days=1))
    assert "every 3s" not in seller_client.get(url).content.decode()  # scheduled: no hurry

    SalesEmailFactory(person=person, sender=seller, status="queued", sent_at=None)
    assert "every 3s" in seller_client.get(url).content.decode()
