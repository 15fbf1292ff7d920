"""Reminder tasks on their way to Salesforce: the outbox's sender of the kind
``reminder_task`` (create, update, complete and delete all travel as this one kind).

A delivery names a task, not a change: the sender sends the task as it is now. A task without
a Task id is created (``tasks_create``: batches of 200, reconciled after a lost answer, so no
duplicate Task); one with an id sends only the fields that differ from the last-synced
snapshot (with two-way sync on, after reading the Task and merging what changed there, so a
later Salesforce change is not overwritten); a deleted one is deleted there. Updates and
deletes are safe to repeat, so a lost answer is simply retried.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

from django.db import connection, transaction
from django.utils import timezone

from reminders.models import ReminderTask
from syncing.clients.salesforce import SalesforceClient, SalesforceError
from syncing.models import Delivery, SyncStream
from syncing.outbox.batch import Batch, Outcome, SenderResult, ms_since
from syncing.outbox.registry import sender
from syncing.outbox.salesforce_tasks import TASK_SOBJECT, salesforce_open, tasks_create
from syncing.settings.selectors import sync_settings_get
from syncing.streams import stream_get

from .mapping import (
    TASK_FIELDS,
    people_by_who,
    remote_values,
    salesforce_users,
    seller_emails,
    sellers_by_owner,
    task_fields,
    task_values,
    who_id,
)
from .merge import task_merge
from .outbound import KIND, reminder_push_enabled

SWITCHED_OFF = ("Reminder tasks go to Salesforce only while \"Log reminder tasks to "
                "Salesforce\" or \"Two-way reminder task sync\" is on.")
WAITING = "An earlier change of this task is still on its way to Salesforce."
Status = Delivery.Status


def _users_state_save(state: dict) -> None:
    SyncStream.objects.filter(name=SyncStream.Name.REMINDER_TASKS).update(state=state)


class _Send:
    """One batch: its tasks, their deliveries, and the outcomes so far."""

    def __init__(self, client: SalesforceClient, batch: Batch):
        self.client = client
        self.batch = batch
        self.result = SenderResult()
        self.tasks = ReminderTask.objects.select_related("person", "assignee").in_bulk(
            batch.record_ids())
        self.deliveries: dict[int, list[Delivery]] = defaultdict(list)
        for delivery in batch.deliveries:
            self.deliveries[delivery.record_id].append(delivery)
        stream = stream_get(SyncStream.Name.REMINDER_TASKS)
        # Every seller's User (one cached lookup): the merge maps Task owners back too.
        self.owners, _ = salesforce_users(
            client, stream.state,
            [*seller_emails(), *(task.assignee.email for task in self.tasks.values())],
            _users_state_save)

    def settle(self, task_id: int, outcome: Outcome) -> None:
        for delivery in self.deliveries[task_id]:
            self.result.outcomes[delivery.pk] = outcome

    def carrier(self, task_id: int) -> Delivery:
        """The delivery that goes out for a task (one that may have been applied, if any)."""
        deliveries = self.deliveries[task_id]
        return next((d for d in deliveries if d.pk in self.batch.reconcile), deliveries[0])

    def owner_id(self, task: ReminderTask) -> str | None:
        return self.owners.get(task.assignee.email.lower()) if task.assignee.email else None

    def waiting(self) -> set[int]:
        """Unlinked tasks with an older delivery still unsettled outside this batch: sending
        now could create a second Task, so they wait for it."""
        unlinked = {pk: min(d.pk for d in self.deliveries[pk])
                    for pk, task in self.tasks.items() if not task.salesforce_id}
        if not unlinked:
            return set()
        older = (Delivery.objects.filter(kind=KIND, target=Delivery.Target.SALESFORCE,
                                         record_id__in=list(unlinked),
                                         status__in=[Status.PENDING, Status.IN_PROGRESS])
                 .exclude(pk__in=list(self.batch.by_id)).values_list("record_id", "pk"))
        return {record_id for record_id, pk in older if pk < unlinked[record_id]}

    # -- the three operations ------------------------------------------------------------

    def run(self) -> SenderResult:
        waiting = self.waiting()
        creates, updates, deletes = [], [], []
        for task_id in sorted(self.deliveries):
            task = self.tasks.get(task_id)
            if task is None:
                self.settle(task_id, Outcome.skipped("The task no longer exists."))
            elif task.deleted_at is not None and task.salesforce_id:
                deletes.append(task)
            elif task_id in waiting:
                self.settle(task_id, Outcome.retry("WAITING", WAITING))
            elif task.deleted_at is not None:
                self.settle(task_id, Outcome.skipped("Deleted before it reached Salesforce."))
            elif task.salesforce_id:
                updates.append(task)
            else:
                creates.append(task)
        if creates:
            self.create(creates)
        if updates:
            self.update(updates)
        if deletes:
            self.delete(deletes)
        return self.result

    def _problem(self, task: ReminderTask, values: dict) -> Outcome | None:
        if "person" in values and not who_id(task.person):
            return Outcome.failed("NO_SALESFORCE_ID", "The person has no Salesforce contact "
                                  "or lead id: the task stays in the app.")
        if "assignee" in values and not self.owner_id(task):
            return Outcome.failed(
                "NO_SALESFORCE_USER",
                f"No active Salesforce User has the email {task.assignee.email or '(none)'} "
                f"of {task.assignee}: the task stays in the app.")
        return None

    def create(self, tasks: list[ReminderTask]) -> None:
        records, pushed = {}, {}
        for task in tasks:
            values = task_values(task)
            problem = self._problem(task, values)
            if problem:
                self.settle(task.pk, problem)
                continue
            carrier = self.carrier(task.pk)
            records[carrier.pk] = {**task_fields(values, person=task.person,
                                                 owner_id=self.owner_id(task)),
                                   "TaskSubtype": "Task"}
            pushed[carrier.pk] = (task, values)
        if not records:
            return
        # A lost create is looked for among the reminder Tasks the integration user created
        # for the person since, not by its fields: the task may have been edited meanwhile
        # (a different name or details would miss the Task and create a second one).
        creator = (f" AND CreatedById = '{self.client.user_id}'" if self.client.user_id
                   else "")
        outcomes = tasks_create(self.client, self.batch, records,
                                key=lambda fields: ((fields.get("WhoId") or "")[:15],),
                                where="TaskSubtype = 'Task'" + creator).outcomes
        created, found = {}, []
        for carrier_pk, (task, values) in pushed.items():
            outcome = outcomes.get(carrier_pk)
            if outcome is None:
                continue  # released: back in the queue untouched
            if outcome.kind == "delivered":
                created[task.pk] = (outcome.remote_id, values)
            elif outcome.kind == "reconciled":
                # Found, not created now: the Task holds what an earlier attempt sent, maybe
                # before the task was completed or edited. What it holds is unknown, so every
                # field goes out again as an update, the app's values winning.
                created[task.pk] = (outcome.remote_id, dict.fromkeys(values))
                found.append(task.pk)
            self.settle(task.pk, outcome)
        _link(created)
        if found:
            self.update(list(ReminderTask.objects.select_related("person", "assignee")
                             .filter(pk__in=found).exclude(salesforce_id="")), merge=False)

    def update(self, tasks: list[ReminderTask], *, merge: bool = True) -> None:
        """Send what changed since the snapshot (``merge``: with two-way sync, after merging
        what changed in Salesforce)."""
        if merge and sync_settings_get().reminder_task_sync_enabled:
            try:
                tasks = self._merge_remote(tasks)
            except SalesforceError as error:
                # Nothing was sent: the updates wait for the next attempt.
                for task in tasks:
                    self.settle(task.pk, _not_sent(error, self.result))
                return
        records, pushed = [], []
        for task in tasks:
            values = {field: value for field, value in task_values(task).items()
                      if value != task.synced_values.get(field)}
            if not values:
                self.settle(task.pk, Outcome.delivered(task.salesforce_id))
                continue
            problem = self._problem(task, values)
            if problem:
                self.settle(task.pk, problem)
                continue
            records.append({"Id": task.salesforce_id, **task_fields(
                values, person=task.person, owner_id=self.owner_id(task))})
            pushed.append((task, values))
        if not records:
            return
        answers = self._write(pushed, lambda: self.client.composite_update(TASK_SOBJECT,
                                                                           records))
        for (task, values), (outcome, gone) in answers:
            if gone:
                outcome = self._deleted_there(task)
            elif outcome.kind == "delivered":
                _snapshot_save(task, values)
            self.settle(task.pk, outcome)

    def delete(self, tasks: list[ReminderTask]) -> None:
        ids = [task.salesforce_id for task in tasks]
        answers = self._write([(task, None) for task in tasks],
                              lambda: self.client.composite_delete(ids))
        for (task, _), (outcome, gone) in answers:
            self.settle(task.pk, Outcome.delivered(task.salesforce_id) if gone else outcome)

    # -- helpers -------------------------------------------------------------------------

    def _write(self, items: list, send) -> list:
        """Send one collection request for ``items`` ((task, values) pairs); returns, per
        item, (Outcome, whether the Task is gone in Salesforce)."""
        carriers = [self.carrier(task.pk).pk for task, _ in items]
        self.batch.mark_sending(carriers)
        started = time.monotonic()
        try:
            answers = send()
        except SalesforceError as error:
            elapsed = ms_since(started)
            code = error.code or f"HTTP_{error.status}"
            if error.code == "REQUEST_LIMIT_EXCEEDED":
                self.result.pause_reason = f"Salesforce refused calls: {error} ({code})"
                outcome = Outcome.paused(code, str(error), elapsed)
            elif error.permanent:
                outcome = Outcome.failed(code, str(error), elapsed)
            else:  # an update or delete sent twice does no harm: just send it again
                outcome = Outcome.retry(code, str(error), elapsed)
            return [(item, (outcome, False)) for item in items]
        elapsed = ms_since(started)
        out = []
        for (task, values), answer in zip(items, answers, strict=True):
            if answer.success:
                out.append(((task, values), (Outcome.delivered(task.salesforce_id, elapsed),
                                             False)))
            elif _gone(answer):
                out.append(((task, values), (None, True)))
            elif answer.transient:
                out.append(((task, values), (Outcome.retry(
                    answer.error_code, answer.error_message, elapsed), False)))
            else:
                out.append(((task, values), (Outcome.failed(
                    answer.error_code or "FAILED", answer.error_message, elapsed), False)))
        return out

    def _merge_remote(self, tasks: list[ReminderTask]) -> list[ReminderTask]:
        """Read the Tasks, merge what changed there, and return the tasks still to update
        (a Task deleted in Salesforce deletes the app task)."""
        quoted = ",".join(f"'{task.salesforce_id}'" for task in tasks)
        records = {record["Id"][:15]: record for record in self.client.query(
            f"SELECT {', '.join(TASK_FIELDS)} FROM Task WHERE Id IN ({quoted})",
            include_deleted=True)}
        people = people_by_who({r.get("WhoId") for r in records.values()})
        sellers = sellers_by_owner(self.owners)
        still = []
        for task in tasks:
            record = records.get(task.salesforce_id[:15])
            if record is None or record.get("IsDeleted"):
                self.settle(task.pk, self._deleted_there(task))
                continue
            merged = _merge_save(task.pk, record, remote_values(record, people=people,
                                                               sellers=sellers))
            if merged is not None:
                still.append(merged)
        return still

    def _deleted_there(self, task: ReminderTask) -> Outcome:
        """The Task is gone in Salesforce: with two-way sync the task goes too (a delete
        there is a change like any other); one way, the app keeps it."""
        if sync_settings_get().reminder_task_sync_enabled:
            ReminderTask.objects.filter(pk=task.pk, deleted_at__isnull=True).update(
                deleted_at=timezone.now())
            return Outcome.skipped("The Task was deleted in Salesforce; the task was deleted "
                                   "here too.")
        return Outcome.skipped("The Task was deleted in Salesforce.")


def _gone(answer) -> bool:
    """Whether a record's error says the Task itself no longer exists (not that a field
    points at a missing record, which reports the same code with that field)."""
    if answer.error_code == "ENTITY_IS_DELETED":
        return True
    fields = set((answer.errors[0].get("fields") or []) if answer.errors else [])
    return answer.error_code in ("INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND") and fields <= {
        "Id"}


def _link(created: dict[int, tuple[str, dict]]) -> None:
    """Record each created Task's id and what it now holds (the snapshot): task id ->
    (Task id, pushed values), for tasks not linked meanwhile. On PostgreSQL one ``UPDATE …
    FROM (VALUES …)`` merging the values into the JSON (``bulk_update``'s per-row ``CASE``
    expressions cost a worker more CPU than the whole Salesforce call); elsewhere one locked
    read and one write for the batch."""
    if not created:
        return
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(ReminderTask._meta.db_table)
        rows = list(created.items())
        with connection.cursor() as cursor:
            for start in range(0, len(rows), 500):
                chunk = rows[start:start + 500]
                cursor.execute(
                    f"UPDATE {table} AS task SET salesforce_id = linked.remote_id, "
                    "synced_values = task.synced_values || linked.pushed::jsonb "
                    "FROM (VALUES " + ", ".join(["(%s::bigint, %s, %s)"] * len(chunk))
                    + ") AS linked (id, remote_id, pushed) "
                    "WHERE task.id = linked.id AND task.salesforce_id = ''",
                    [value for pk, (remote_id, values) in chunk
                     for value in (pk, remote_id, json.dumps(values))])
        return
    with transaction.atomic():
        tasks = list(ReminderTask.objects.select_for_update().filter(pk__in=list(created),
                                                                     salesforce_id=""))
        for task in tasks:
            remote_id, values = created[task.pk]
            task.salesforce_id = remote_id
            task.synced_values = {**task.synced_values, **values}
        ReminderTask.objects.bulk_update(tasks, ["salesforce_id", "synced_values"])


def _snapshot_save(task: ReminderTask, values: dict) -> None:
    """After an update: the pushed values are what both sides hold."""
    with transaction.atomic():
        fresh = ReminderTask.objects.select_for_update().get(pk=task.pk)
        fresh.synced_values = {**fresh.synced_values, **values}
        fresh.save(update_fields=["synced_values"])


def _merge_save(task_id: int, record: dict, remote: dict) -> ReminderTask | None:
    """Merge a Task into its app task (locked, re-read); None if the task was deleted."""
    with transaction.atomic():
        task = (ReminderTask.objects.select_for_update().select_related("person", "assignee")
                .filter(pk=task_id, deleted_at__isnull=True).first())
        if task is None:
            return None
        changed = task_merge(task, record, remote)
        task.save(update_fields=[*changed, "synced_values", "field_changed_at",
                                 "salesforce_modstamp", "completed_at", "updated_at"])
        if {"assignee", "person"} & set(changed):
            task = (ReminderTask.objects.select_related("person", "assignee").get(pk=task_id))
        return task


@sender(Delivery.Target.SALESFORCE, KIND)
def reminder_tasks_send(batch: Batch) -> SenderResult:
    """Reminder tasks as Salesforce Tasks (switches: "Log reminder tasks to Salesforce", or
    "Two-way reminder task sync")."""
    opened = salesforce_open(batch, enabled=reminder_push_enabled(), switched_off=SWITCHED_OFF)
    if isinstance(opened, SenderResult):
        return opened
    client, _ = opened
    try:
        send = _Send(client, batch)
    except SalesforceError as error:  # looking up the sellers' Users failed: nothing sent
        result = SenderResult()
        outcome = _not_sent(error, result)
        result.outcomes = {pk: outcome for pk in batch.by_id}
        return result
    return send.run()


def _not_sent(error: SalesforceError, result: SenderResult) -> Outcome:
    """The outcome for deliveries a failed read kept from being sent (and pause the target
    when the org's API limit was reached)."""
    code = error.code or f"HTTP_{error.status}"
    if error.code == "REQUEST_LIMIT_EXCEEDED":
        result.pause_reason = f"Salesforce refused calls: {error} ({code})"
        return Outcome.paused(code, str(error))
    return (Outcome.failed if error.permanent else Outcome.retry)(code, str(error))
