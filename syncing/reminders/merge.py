"""A Salesforce Task's state applied to its app task, field by field.

Three-way: ``synced_values`` is what both sides held after the last sync. A field whose Task
value differs from it was changed in Salesforce; if the app's value differs from it too, both
changed it and the later change wins (the app's ``field_changed_at`` against the Task's
``SystemModstamp``). Values that do not sync (another status, Low priority, an owner who is
not a seller here) change nothing. The snapshot then holds the Task's values, so a change the
app keeps is still pushed (it differs from the snapshot) and one the sync wrote is not.
"""

from __future__ import annotations

from datetime import date, datetime

from reminders.models import ReminderTask

from .mapping import MERGED_FIELDS, sf_datetime_parse


def _app_value(task: ReminderTask, field: str):
    if field == "due_date":
        return task.due_date.isoformat()
    if field in ("assignee", "person"):
        return getattr(task, f"{field}_id")
    return getattr(task, field)


def _set(task: ReminderTask, field: str, value) -> None:
    if field == "due_date":
        task.due_date = date.fromisoformat(value)
    elif field in ("assignee", "person"):
        setattr(task, f"{field}_id", value)
    else:
        setattr(task, field, value)


def task_merge(task: ReminderTask, record: dict, remote: dict) -> list[str]:
    """Apply the Task ``record`` (its merged fields in snapshot terms: ``remote``) to ``task``
    in memory; returns the fields whose app value changed (nothing is saved)."""
    stamp = sf_datetime_parse(record["SystemModstamp"])
    before = task.synced_values
    base = dict(before)
    changed_at = dict(task.field_changed_at)
    changed = []
    for field in MERGED_FIELDS:
        theirs = remote[field]
        if theirs is None or theirs == base.get(field):
            continue  # does not sync, or Salesforce did not change it
        ours = _app_value(task, field)
        base[field] = theirs
        if ours == theirs:
            continue
        app_changed = field in before and ours != before[field]
        app_time = changed_at.get(field)
        if app_changed and app_time and datetime.fromisoformat(app_time) > stamp:
            continue  # the app's later change wins; the outbox pushes it
        _set(task, field, theirs)
        changed_at[field] = stamp.isoformat()
        changed.append(field)
    if "status" in changed:
        task.completed_at = stamp if task.status == ReminderTask.Status.COMPLETE else None
    task.synced_values = base
    task.field_changed_at = changed_at
    task.salesforce_modstamp = stamp
    return changed
