"""Writes of reminder tasks: create, update, complete, snooze, delete.

Every write checks the business rules and raises ``ValidationError`` with errors by field,
saving nothing. Each changed synced field gets its change time in ``field_changed_at``: the
two-way Salesforce sync uses them to let the later change win, field by field. A saved change
queues the task for Salesforce in the same transaction (``syncing.reminders.outbound``).
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from analytics.rollups import rollups_recount, task_slices
from people.models import Person
from salesactions.templatetags.when import register as when_filters
from syncing.reminders.outbound import (
    reminder_push_enabled,
    reminder_task_push,
    reminder_tasks_push,
)

from .models import SYNCED_FIELDS, ReminderTask
from .selectors import user_today

# The shared "day" shape (``|day`` in templates), in the reader's language.
_day = when_filters.filters["day"]

#: Due dates outside these bounds are typos (Salesforce itself takes 1700-4000).
EARLIEST_DUE = date(1900, 1, 1)
LATEST_DUE = date(2999, 12, 31)
NAME_MAX = 255
DETAILS_MAX = 32000
EDITABLE = ("name", "type", "status", "priority", "due_date", "details", "assignee", "person")


def _check(by: User, values: dict) -> dict[str, list[str]]:
    """Errors by field for the given values (only the keys present are checked)."""
    errors: dict[str, list[str]] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if "name" in values:
        name = values["name"]
        if not isinstance(name, str) or not name.strip():
            bad("name", _("Give the task a name."))
        elif len(name.strip()) > NAME_MAX:
            bad("name", _at_most(NAME_MAX))
    for field, choices in (("type", ReminderTask.Type), ("status", ReminderTask.Status),
                           ("priority", ReminderTask.Priority)):
        if field in values and values[field] not in choices.values:
            bad(field, _("Use one of: %(choices)s.") % {"choices": ", ".join(choices.values)})
    if "due_date" in values:
        due = values["due_date"]
        if not isinstance(due, date):
            bad("due_date", _("A date, like 2026-03-31."))
        elif not EARLIEST_DUE <= due <= LATEST_DUE:
            bad("due_date", _("A date from %(earliest)s to %(latest)s.") % {
                "earliest": EARLIEST_DUE.isoformat(), "latest": LATEST_DUE.isoformat()})
    if "details" in values and len(values["details"] or "") > DETAILS_MAX:
        bad("details", _at_most(DETAILS_MAX))
    if "person" in values:
        person = values["person"]
        if not isinstance(person, Person) or not person.in_workspace:
            bad("person", _("No such person in the workspace."))
    if "assignee" in values:
        assignee = values["assignee"]
        if not isinstance(assignee, User) or not assignee.is_active:
            bad("assignee", _("No such user."))
        elif not by.is_admin and assignee.pk != by.pk:
            bad("assignee", _("Sellers assign tasks to themselves only."))
        elif assignee.pk != by.pk and assignee.role != User.Role.SELLER:
            bad("assignee", _("Tasks go to sellers."))
    return errors


def _at_most(limit: int) -> str:
    return ngettext("At most %(count)s character.", "At most %(count)s characters.", limit) % {
        "count": limit}


def _clean(values: dict) -> dict:
    cleaned = dict(values)
    if isinstance(cleaned.get("name"), str):
        cleaned["name"] = cleaned["name"].strip()
    if "details" in cleaned:
        cleaned["details"] = (cleaned["details"] or "").strip()
    return cleaned


def task_create(*, created_by: User, person: Person | None, name: str, due_date: date,
                type: str = ReminderTask.Type.CUSTOM, priority: str = ReminderTask.Priority.NORMAL,
                status: str = ReminderTask.Status.OPEN, details: str = "",
                assignee: User | None = None) -> ReminderTask:
    """Create a reminder task; the assignee defaults to its creator."""
    values = _clean({"person": person, "name": name, "due_date": due_date, "type": type,
                     "priority": priority, "status": status, "details": details,
                     "assignee": assignee or created_by})
    errors = _check(created_by, values)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    push = reminder_push_enabled()
    task = ReminderTask(**values, created_by=created_by, origin=ReminderTask.Origin.APP,
                        salesforce_push=push,
                        completed_at=now if values["status"] == ReminderTask.Status.COMPLETE
                        else None,
                        field_changed_at=dict.fromkeys(SYNCED_FIELDS, now.isoformat()))
    # Checked above, so nothing here fails for bad input: no savepoint needed inside a
    # caller's transaction (each one costs two round trips).
    with transaction.atomic(savepoint=False):
        task.save()
        reminder_task_push(task, enabled=push)
        rollups_recount(tasks=task_slices([task]))
    return task


#: At most this many people get a task in one bulk add (the list's "all matching" can be far
#: more: narrow it first).
BULK_TASK_LIMIT = 2000


def tasks_create_for_people(*, created_by: User, people_ids: list[int], name: str,
                            due_date: date, type: str = ReminderTask.Type.CUSTOM,
                            priority: str = ReminderTask.Priority.NORMAL,
                            details: str = "") -> list[ReminderTask]:
    """The same reminder task for each of the people (in the workspace), assigned to its
    creator: checked once, written in one transaction with a few statements whatever the
    number (a bulk insert of the tasks and one of their Salesforce deliveries)."""
    values = _clean({"name": name, "due_date": due_date, "type": type, "priority": priority,
                     "status": ReminderTask.Status.OPEN, "details": details,
                     "assignee": created_by})
    errors = _check(created_by, values)
    ids = list(Person.workspace.filter(pk__in=people_ids).order_by("pk")
               .values_list("pk", flat=True)[:BULK_TASK_LIMIT + 1])
    if not ids:
        errors.setdefault("people", []).append(_("Choose at least one person."))
    elif len(ids) > BULK_TASK_LIMIT:
        errors.setdefault("people", []).append(
            ngettext("At most %(count)s person at once; narrow the list.",
                     "At most %(count)s people at once; narrow the list.", BULK_TASK_LIMIT)
            % {"count": number_format(BULK_TASK_LIMIT, force_grouping=True)})
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    push = reminder_push_enabled()
    changed = dict.fromkeys(SYNCED_FIELDS, now.isoformat())
    tasks = [ReminderTask(**values, person_id=pk, created_by=created_by,
                          origin=ReminderTask.Origin.APP, salesforce_push=push,
                          field_changed_at=changed) for pk in ids]
    with transaction.atomic():
        tasks = ReminderTask.objects.bulk_create(tasks, batch_size=1000)
        reminder_tasks_push(tasks, enabled=push)
        rollups_recount(tasks=task_slices(tasks))
    return tasks


def task_update(task: ReminderTask, *, by: User, **changes) -> ReminderTask:
    """Change some of a task's fields (``EDITABLE``); a no-op change writes nothing."""
    unknown = changes.keys() - set(EDITABLE)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in unknown})
    if task.deleted_at is not None:
        raise ValidationError(_("This task was deleted."))
    changes = _clean(changes)
    errors = _check(by, changes)
    if errors:
        raise ValidationError(errors)
    changed = [field for field, value in changes.items()
               if getattr(task, field) != value]
    if not changed:
        return task
    now = timezone.now()
    before = task_slices([task])
    for field in changed:
        setattr(task, field, changes[field])
    task.field_changed_at = {**task.field_changed_at,
                             **dict.fromkeys(changed, now.isoformat())}
    update = [*changed, "field_changed_at", "updated_at"]
    if "status" in changed:
        task.completed_at = now if task.status == ReminderTask.Status.COMPLETE else None
        update.append("completed_at")
    with transaction.atomic(savepoint=False):
        task.save(update_fields=update)
        reminder_task_push(task)
        rollups_recount(tasks=before | task_slices([task]))
    return task


def task_complete(task: ReminderTask, *, by: User) -> ReminderTask:
    """Mark a task done."""
    return task_update(task, by=by, status=ReminderTask.Status.COMPLETE)


def task_reopen(task: ReminderTask, *, by: User) -> ReminderTask:
    """Put a completed task back in the queue."""
    return task_update(task, by=by, status=ReminderTask.Status.OPEN)


def task_snooze(task: ReminderTask, *, by: User, due_date: date) -> ReminderTask:
    """Move an open task to another day: today (in ``by``'s time zone) or later; snoozing
    into the past would only make it overdue."""
    if not task.is_open:
        raise ValidationError({"due_date": [_("Only open tasks can be snoozed.")]})
    today = user_today(by)
    if isinstance(due_date, date) and due_date < today:
        raise ValidationError({"due_date": [
            _("Pick today (%(today)s) or a later day: %(day)s is past.") % {
                "today": _day(today),
                "day": _day(due_date)}]})
    return task_update(task, by=by, due_date=due_date)


def task_delete(task: ReminderTask, *, by: User) -> None:
    """Delete a task: it leaves the queue at once; its row stays as a tombstone."""
    if task.deleted_at is not None:
        return
    before = task_slices([task])
    task.deleted_at = timezone.now()
    with transaction.atomic(savepoint=False):
        task.save(update_fields=["deleted_at", "updated_at"])
        reminder_task_push(task)
        rollups_recount(tasks=before)
