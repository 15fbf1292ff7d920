"""A person's activity timeline (the person page and the task run): calls, sales emails with
their events, reminder tasks, campaign steps and memberships, and unsubscribes, newest first,
filterable by kind. Marketo's own activity is not stored here: the page loads it live, as its
own kind (``people/marketo_panel.py``).

Bounded: one query per kind (two for calls and emails, whose deliveries and events are
prefetched), each limited to ``KIND_LIMIT`` rows, whatever the person's history holds.
Each kind shows what its own page shows the user: a seller's own emails and tasks (an admin
everyone's), campaigns the user may see, every call and unsubscribe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from activities.models import Call
from campaigns.models import CampaignMember, MemberStep
from campaigns.selectors import campaign_list_for_user
from emails.models import SalesEmail
from emails.selectors import email_list_for_user
from reminders.models import ReminderTask
from reminders.selectors import task_list_for_user, user_today
from syncing.models import Delivery
from unsubscribes.models import Unsubscribe

from .models import Person

#: The filter's kinds, in the order the page lists them ("marketo" is the live panel).
KINDS = {"call": gettext_lazy("Calls"), "email": gettext_lazy("Emails"),
         "task": gettext_lazy("Tasks"), "campaign": gettext_lazy("Campaigns"),
         "unsubscribe": gettext_lazy("Unsubscribes"), "marketo": "Marketo"}
#: The most rows read per kind, and the most entries the timeline lists.
KIND_LIMIT = 50
ENTRY_LIMIT = 100

_EMAIL_WAITING = (SalesEmail.Status.QUEUED, SalesEmail.Status.HELD, SalesEmail.Status.SENDING)
_DELIVERY_WAITING = (Delivery.Status.PENDING, Delivery.Status.IN_PROGRESS)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline: ``kind`` (a key of KINDS), when, what (``title``), and the
    record for the template (``record``: a Call, SalesEmail, ReminderTask, MemberStep,
    CampaignMember or Unsubscribe); ``event`` tells apart two entries of one record
    (a membership "added"/"ended", an unsubscribe "recorded"/"removed", a task "completed")."""

    kind: str
    at: datetime
    title: str
    record: object
    event: str = ""


@dataclass
class Timeline:
    person: Person
    kind: str  # "" for every kind
    today: date
    open_tasks: list[ReminderTask] = field(default_factory=list)
    entries: list[TimelineEntry] = field(default_factory=list)
    #: Something is on its way (an email about to go, a delivery pending): the page polls.
    in_flight: bool = False
    #: More rows than were read, for at least one kind.
    truncated: bool = False

    @property
    def shows_marketo(self) -> bool:
        return self.kind in ("", "marketo")


def person_timeline(person: Person, user: User, *, kind: str = "") -> Timeline:
    """The person's timeline as ``user`` sees it, only ``kind`` when given (a key of KINDS;
    anything else means every kind). Open tasks come apart, by due date (overdue ones first,
    marked ``overdue``), since they are still to do; completed ones are entries at their
    completion."""
    kind = kind if kind in KINDS else ""
    timeline = Timeline(person=person, kind=kind, today=user_today(user))
    readers = {"call": _calls, "email": _emails, "task": _tasks, "campaign": _campaigns,
               "unsubscribe": _unsubscribes}
    for name, read in readers.items():
        if kind in ("", name):
            read(timeline, user)
    timeline.entries.sort(key=lambda entry: entry.at, reverse=True)
    if len(timeline.entries) > ENTRY_LIMIT:
        timeline.entries, timeline.truncated = timeline.entries[:ENTRY_LIMIT], True
    return timeline


def _limited(timeline: Timeline, rows) -> list:
    rows = list(rows[:KIND_LIMIT + 1])
    if len(rows) > KIND_LIMIT:
        timeline.truncated = True
    return rows[:KIND_LIMIT]


def _calls(timeline: Timeline, user: User) -> None:
    calls = (Call.objects.filter(person=timeline.person).select_related("logged_by")
             .prefetch_related(Prefetch("deliveries",
                                        queryset=Delivery.objects.order_by("-target")))
             .order_by("-called_at", "-id"))
    for call in _limited(timeline, calls):
        title = (_("Call: %(outcome)s") % {"outcome": call.outcome} if call.outcome
                 else _("Call"))
        timeline.entries.append(TimelineEntry("call", call.called_at, title, call))
        if any(d.status in _DELIVERY_WAITING for d in call.deliveries.all()):
            timeline.in_flight = True


def _emails(timeline: Timeline, user: User) -> None:
    emails = email_list_for_user(user).filter(person=timeline.person).order_by("-created_at",
                                                                                "-id")
    now = datetime.now(user.zone)
    for email in _limited(timeline, emails):
        at = email.sent_at or email.send_at or email.created_at
        timeline.entries.append(TimelineEntry("email", at, email.subject, email))
        # A scheduled email waits for hours: only one about to go makes the page poll.
        if email.status in _EMAIL_WAITING and not (email.send_at and email.send_at > now):
            timeline.in_flight = True


def _tasks(timeline: Timeline, user: User) -> None:
    tasks = (task_list_for_user(user).filter(person=timeline.person).select_related("assignee")
             .order_by("status", "due_date", "-completed_at", "id"))
    for task in _limited(timeline, tasks):
        if task.is_open:
            task.overdue = task.due_date < timeline.today
            timeline.open_tasks.append(task)
        else:
            at = task.completed_at or datetime.combine(task.due_date, time(), user.zone)
            timeline.entries.append(TimelineEntry("task", at, task.name, task, "completed"))


def _campaigns(timeline: Timeline, user: User) -> None:
    visible = campaign_list_for_user(user).values("pk")
    members = (CampaignMember.objects.filter(person=timeline.person, campaign__in=visible)
               .select_related("campaign", "added_by").order_by("-added_at", "-id"))
    for member in _limited(timeline, members):
        timeline.entries.append(TimelineEntry("campaign", member.added_at,
                                              member.campaign.name, member, "added"))
        if member.ended_at:
            timeline.entries.append(TimelineEntry("campaign", member.ended_at,
                                                  member.campaign.name, member, "ended"))
    steps = (MemberStep.objects.filter(member__person=timeline.person,
                                       member__campaign__in=visible)
             .select_related("member__campaign").order_by("-ran_at", "-id"))
    for step in _limited(timeline, steps):
        timeline.entries.append(TimelineEntry("campaign", step.ran_at,
                                              step.title or step.get_type_display(), step,
                                              "step"))


def _unsubscribes(timeline: Timeline, user: User) -> None:
    unsubscribes = (Unsubscribe.objects.filter(person=timeline.person)
                    .select_related("created_by", "removed_by").order_by("-created_at", "-id"))
    for unsubscribe in _limited(timeline, unsubscribes):
        timeline.entries.append(TimelineEntry("unsubscribe", unsubscribe.created_at,
                                              unsubscribe.get_source_display(), unsubscribe,
                                              "recorded"))
        if unsubscribe.removed_at:
            timeline.entries.append(TimelineEntry("unsubscribe", unsubscribe.removed_at,
                                                  _("Unsubscribe removed"), unsubscribe,
                                                  "removed"))
