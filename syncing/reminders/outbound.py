"""App changes to reminder tasks, queued for Salesforce through the outbox.

``reminders.services`` calls ``reminder_task_push`` in the transaction that saves a change, so
the change and its delivery commit together. A delivery carries no field values: the sender
sends the task as it is then, only the fields that differ from the last-synced snapshot.
"""

from __future__ import annotations

from syncing.models import Delivery
from syncing.outbox.queue import deliveries_build, deliveries_save
from syncing.settings.selectors import sync_settings_get

KIND = "reminder_task"


def reminder_push_enabled() -> bool:
    """Whether app changes go to Salesforce: "Log reminder tasks to Salesforce" (one way) or
    "Two-way reminder task sync"."""
    settings = sync_settings_get()
    return settings.log_reminder_tasks_to_salesforce or settings.reminder_task_sync_enabled


def reminder_task_push(task, *, enabled: bool | None = None) -> None:
    """Queue ``task``'s change for Salesforce (inside the caller's transaction). Tasks created
    while pushing was off (``salesforce_push``) stay in the app. ``enabled``: the caller has
    just read ``reminder_push_enabled()``."""
    if task.salesforce_push and (reminder_push_enabled() if enabled is None else enabled):
        deliveries_save(deliveries_build(kind=KIND, record=task, skipped={},
                                         targets=[Delivery.Target.SALESFORCE]))


def reminder_tasks_push(tasks, *, enabled: bool) -> None:
    """:func:`reminder_task_push` for many new tasks at once: one bulk insert of deliveries."""
    if enabled:
        deliveries_save([delivery for task in tasks if task.salesforce_push
                         for delivery in deliveries_build(kind=KIND, record=task, skipped={},
                                                          targets=[Delivery.Target.SALESFORCE])])
