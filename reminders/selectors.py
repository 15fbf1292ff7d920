"""Reads of reminder tasks: who sees which, the queue's sections and counts, and the
navigation's due count. "Today" is the viewing seller's today, in their time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils.translation import pgettext_lazy

from accounts.models import User

from .models import ReminderTask

#: Rows each open section shows before "Show all", and the most any section shows.
SECTION_ROWS = 25
EXPANDED_ROWS = 500

Status = ReminderTask.Status


def user_today(user: User) -> date:
    """Today in the user's time zone."""
    return datetime.now(user.zone).date()


def task_list_for_user(user: User) -> QuerySet[ReminderTask]:
    """The tasks ``user`` may see and change: a seller's own, every task for an admin."""
    tasks = ReminderTask.live.all()
    return tasks if user.is_admin else tasks.filter(assignee=user)


def _due(today: date) -> dict[str, Q]:
    """The open sections, as filters for a given today."""
    tomorrow = today + timedelta(days=1)
    is_open = Q(status=Status.OPEN)
    return {
        "overdue": is_open & Q(due_date__lt=today),
        "today": is_open & Q(due_date=today),
        "tomorrow": is_open & Q(due_date=tomorrow),
        "upcoming": is_open & Q(due_date__gt=tomorrow),
    }


DUE_CHOICES = ("overdue", "today", "tomorrow", "upcoming")


def task_filter(user: User, *, status: str = "", person_id: int | None = None,
                assignee: User | None = None, due: str = "", type: str = ""
                ) -> QuerySet[ReminderTask]:
    """``user``'s visible tasks narrowed by the API's and the queue's filters, by due date."""
    tasks = task_list_for_user(user).select_related("assignee")
    if status:
        tasks = tasks.filter(status=status)
    if person_id is not None:
        tasks = tasks.filter(person_id=person_id)
    if assignee is not None:
        tasks = tasks.filter(assignee=assignee)
    if type:
        tasks = tasks.filter(type=type)
    if due:
        tasks = tasks.filter(_due(user_today(user))[due])
    return tasks.order_by("due_date", "id")


@dataclass(frozen=True)
class QueueSection:
    key: str
    title: str
    count: int
    tasks: list[ReminderTask]

    @property
    def more(self) -> int:
        return self.count - len(self.tasks)


@dataclass(frozen=True)
class TaskQueue:
    today: date
    sections: list[QueueSection]

    def section(self, key: str) -> QueueSection:
        return next(section for section in self.sections if section.key == key)


SECTION_TITLES = {"overdue": pgettext_lazy("task queue section", "Overdue"),
                  "today": pgettext_lazy("task queue section", "Today"),
                  "tomorrow": pgettext_lazy("task queue section", "Tomorrow"),
                  "upcoming": pgettext_lazy("task queue section", "Upcoming"),
                  "completed": pgettext_lazy("task queue section", "Completed")}


def task_queue(user: User, *, assignee: User | None = None, type: str = "",
               expand: str = "", rows: int = SECTION_ROWS) -> TaskQueue:
    """The queue: Overdue, Today, Tomorrow, Upcoming and Completed, each with its count and its
    first ``rows`` tasks; the ``expand`` section lists up to ``EXPANDED_ROWS``, and Completed
    (collapsed on the page) lists its tasks only when expanded. Sellers see their own tasks;
    admins everyone's, or ``assignee``'s."""
    today = user_today(user)
    tasks = task_list_for_user(user)
    if assignee is not None:
        tasks = tasks.filter(assignee=assignee)
    if type:
        tasks = tasks.filter(type=type)
    filters = {**_due(today), "completed": Q(status=Status.COMPLETE)}
    counts = tasks.aggregate(**{key: Count("pk", filter=condition)
                                for key, condition in filters.items()})
    listed = tasks.select_related("person", "assignee").only(
        "name", "type", "status", "priority", "due_date", "details", "completed_at",
        "origin", "person__first_name", "person__last_name", "person__email",
        "person__company", "assignee__username", "assignee__first_name",
        "assignee__last_name")
    sections = []
    for key, condition in filters.items():
        order = ("-completed_at", "-id") if key == "completed" else ("due_date", "id")
        limit = EXPANDED_ROWS if key == expand else 0 if key == "completed" else rows
        chosen = listed.filter(condition).order_by(*order)[:limit]
        rows_ = list(chosen) if counts[key] and limit else []
        sections.append(QueueSection(key, SECTION_TITLES[key], counts[key], rows_))
    return TaskQueue(today, sections)


def task_due_count(user: User) -> int:
    """How many of the user's own open tasks are overdue or due today (the navigation's
    badge): one count over the queue index."""
    return ReminderTask.live.filter(assignee=user, status=Status.OPEN,
                                    due_date__lte=user_today(user)).count()


def person_open_tasks(user: User, person) -> list[ReminderTask]:
    """The person's open tasks that ``user`` may see, by due date."""
    return list(task_list_for_user(user).filter(person=person, status=Status.OPEN)
                .select_related("assignee").order_by("due_date", "id"))


def seller_list() -> list[User]:
    """Active sellers, for an admin's assignee filter and task forms."""
    return list(User.objects.filter(is_active=True, role=User.Role.SELLER)
                .order_by("first_name", "last_name", "username"))


@dataclass(frozen=True)
class TaskRunStep:
    """Where a task run stands: the task to do now (None when the run is through), how many
    due tasks are left including it, and how many were skipped in this run."""

    task: ReminderTask | None
    left: int
    skipped: int


def task_run_step(user: User, skipped: set[int] | frozenset[int] = frozenset()) -> TaskRunStep:
    """The next of ``user``'s own open tasks due today or overdue (earliest due first, high
    priority first within a day), leaving out the ``skipped`` ids. Two queries."""
    due = ReminderTask.live.filter(assignee=user, status=Status.OPEN,
                                   due_date__lte=user_today(user))
    waiting = due.exclude(pk__in=skipped) if skipped else due
    task = (waiting.select_related("person", "assignee")
            .order_by("due_date", "priority", "id").first())  # "high" sorts before "normal"
    left = waiting.count() if task is not None else 0
    return TaskRunStep(task, left, len(skipped))
