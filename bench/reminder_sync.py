"""Reminder task sync benchmark (issue 11): pushing new app tasks to Salesforce and importing
changed Salesforce Tasks, against the Salesforce sandbox in a process of its own.

    python bench/reminder_sync.py                         # push 10,000, import 50,000
    python bench/reminder_sync.py --push 2000 --import 10000

Push: ``--push`` tasks are created through ``reminders.services.task_create`` (each with its
outbox delivery, in one transaction per 500) while a thread does what the Celery worker does
(``deliveries_flush`` whenever deliveries are due). Prints the time from the first task
created to the last one confirmed by Salesforce (tasks per second end to end) and the
Salesforce calls the sandbox counted per 1,000 tasks.

Import: the sandbox is started with enough seed reminder Tasks that ``--import`` of them are
reminders (``TaskSubtype`` Task; every tenth seed Task is a logged call, which the pass never
reads), all changed in the last day, owned by the eight seed owners (each a seller here);
one inbound pass (``reminder_tasks_sync_pass``, the first switch-on's 24-hour import) applies
them. Prints changes per second and Salesforce calls per 1,000 changes (query pages of 2,000).

PostgreSQL database ``salesactions_bench_reminder_sync``.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import timedelta

from common import Sandbox, app_env, database_url, psql

TABLES = ("reminders_remindertask, syncing_delivery, syncing_deliveryattempt, people_person, "
          "syncing_syncstream, syncing_salesforceconnection, syncing_syncsettings, "
          "accounts_user")
LEADS = 2000


def setup(sandbox: Sandbox) -> None:
    from accounts.models import User
    from people.services import person_apply_leads
    from sandbox import seed
    from syncing.models import SalesforceConnection, SyncSettings

    SalesforceConnection(url=sandbox.url, client_id="sandbox-salesforce-client",
                         client_secret="sandbox-salesforce-secret").save()
    SyncSettings.objects.update_or_create(pk=1, defaults={
        "log_reminder_tasks_to_salesforce": True, "reminder_task_sync_enabled": True})
    person_apply_leads(seed.lead(i, 1, LEADS) for i in range(1, LEADS + 1))
    for number, first, last, email in seed.OWNERS:
        User.objects.create_user(f"seller{number}", email, first_name=first, last_name=last)


def push(sandbox: Sandbox, count: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from people.models import Person
    from reminders.services import task_create
    from syncing.models import Delivery
    from syncing.outbox.flush import deliveries_flush

    people = list(Person.workspace.exclude(sfdc_contact_id="", sfdc_lead_id="").order_by("id"))
    sellers = {user.email: user for user in User.objects.all()}
    sandbox.control("DELETE", "counters")
    due = timezone.localdate() + timedelta(days=3)
    creating = threading.Event()
    creating.set()

    def worker() -> None:
        # What a Celery worker does: flush whatever is due, until the burst is delivered.
        try:
            while creating.is_set() or Delivery.objects.filter(
                    status__in=["pending", "in_progress"]).exists():
                if not deliveries_flush(Delivery.Target.SALESFORCE, until_empty=True).batches:
                    time.sleep(0.05)
        finally:
            connection.close()

    started = time.monotonic()
    thread = threading.Thread(target=worker)
    thread.start()
    for start in range(0, count, 500):
        with transaction.atomic():
            for n in range(start, min(start + 500, count)):
                person = people[n % len(people)]
                task_create(created_by=sellers[person.owner_email], person=person,
                            name=f"Bench task {n}", type="call", due_date=due,
                            priority="high" if n % 3 == 0 else "normal",
                            details="Created by the benchmark")
    created = time.monotonic()
    creating.clear()
    thread.join()
    done = time.monotonic()
    calls = sandbox.control("GET", "counters")
    delivered = Delivery.objects.filter(status="delivered").count()
    assert delivered == count, f"only {delivered} of {count} delivered"
    print(f"push {count:,} new tasks: {done - started:.1f} s end to end "
          f"({count / (done - started):,.0f} tasks/s): created in {created - started:.1f} s "
          f"while a worker thread delivered them, the last {done - created:.1f} s later")
    print(f"  Salesforce calls: {calls['total']} ({calls['total'] * 1000 / count:.1f} per 1,000 "
          f"tasks) {dict(sorted(calls['by_endpoint'].items()))}")


def pull(sandbox: Sandbox, count: int) -> None:
    from reminders.models import ReminderTask
    from syncing.reminders.sync import reminder_tasks_sync_pass

    before = ReminderTask.objects.count()
    sandbox.control("DELETE", "counters")
    started = time.monotonic()
    report = reminder_tasks_sync_pass()
    elapsed = time.monotonic() - started
    calls = sandbox.control("GET", "counters")
    imported = ReminderTask.objects.count() - before
    print(f"import {report.read:,} changed Salesforce reminder Tasks: {elapsed:.1f} s "
          f"({report.read / elapsed:,.0f} changes/s); {imported:,} new app tasks ({report})")
    print(f"  Salesforce calls: {calls['total']} ({calls['total'] * 1000 / report.read:.2f} per "
          f"1,000 changes) {dict(sorted(calls['by_endpoint'].items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--push", type=int, default=10_000)
    parser.add_argument("--import", dest="pull", type=int, default=50_000)
    parser.add_argument("--database", default="salesactions_bench_reminder_sync")
    args = parser.parse_args()

    url = database_url(args.database)
    psql(url, f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    os.environ.update(app_env(url, LOG_LEVEL="WARNING"))
    import django

    django.setup()
    # Every tenth seed Task is a logged call: seed enough for --import reminders.
    seeded = args.pull + (args.pull - 1) // 9
    sandbox = Sandbox("salesforce", LEADS, "--reminder-tasks", str(seeded))
    try:
        setup(sandbox)
        if args.pull:
            pull(sandbox, args.pull)
        if args.push:
            push(sandbox, args.push)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
