"""Reminder task sync benchmark (issue 11): pushing new app tasks to Salesforce and importing
changed Salesforce Tasks, against the Salesforce sandbox in a process of its own.

    python bench/reminder_sync.py --creators 2             # push 10,000, import 50,000
    python bench/reminder_sync.py --push 2000 --import 10000
    python bench/reminder_sync.py --import 0 --deliver-after-creating   # delivery alone

Push: ``--push`` tasks are created through ``reminders.services.task_create`` (each with its
outbox delivery, in one transaction per 500) by ``--creators`` processes, while a worker
process does what the Celery worker does (``deliveries_flush`` whenever deliveries are due).
Prints the time from the first task created to the last one confirmed by Salesforce (tasks
per second end to end) and the Salesforce calls the sandbox counted per 1,000 tasks.

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
import subprocess
import time
from datetime import timedelta

from common import PYTHON, ROOT, Sandbox, app_env, database_url, psql

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


def worker_loop(count: int) -> None:
    """``--worker N``: what a Celery worker does (flush whatever is due) until N deliveries
    are delivered. Runs as a process of its own, as the worker does in production."""
    from syncing.models import Delivery
    from syncing.outbox.flush import deliveries_flush

    while Delivery.objects.filter(status="delivered").count() < count:
        if not deliveries_flush(Delivery.Target.SALESFORCE, until_empty=True).batches:
            time.sleep(0.05)


def tasks_create_range(start: int, end: int) -> None:
    """Create tasks ``start``..``end`` through the service, 500 per transaction (as a web
    process would, one task at a time)."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from people.models import Person
    from reminders.services import task_create

    people = list(Person.workspace.exclude(sfdc_contact_id="", sfdc_lead_id="").order_by("id"))
    sellers = {user.email: user for user in User.objects.all()}
    due = timezone.localdate() + timedelta(days=3)
    for chunk in range(start, end, 500):
        with transaction.atomic():
            for n in range(chunk, min(chunk + 500, end)):
                person = people[n % len(people)]
                task_create(created_by=sellers[person.owner_email], person=person,
                            name=f"Bench task {n}", type="call", due_date=due,
                            priority="high" if n % 3 == 0 else "normal",
                            details="Created by the benchmark")


def push(sandbox: Sandbox, count: int, url: str, creators: int, deliver_after: bool) -> None:
    from syncing.models import Delivery

    sandbox.control("DELETE", "counters")
    base = [PYTHON, __file__, "--database", url.rsplit("/", 1)[1]]
    env = app_env(url)
    worker_command = [*base, "--worker", str(count)]
    worker = None if deliver_after else subprocess.Popen(worker_command, cwd=ROOT, env=env)
    started = time.monotonic()
    bounds = [count * i // creators for i in range(creators + 1)]
    processes = [subprocess.Popen([*base, "--create", f"{low}:{high}"], cwd=ROOT, env=env)
                 for low, high in zip(bounds, bounds[1:], strict=False)]
    if any(process.wait(timeout=600) for process in processes):
        raise SystemExit("creating tasks failed")
    created = time.monotonic()
    if worker is None:
        worker = subprocess.Popen(worker_command, cwd=ROOT, env=env)
    if worker.wait(timeout=600):
        raise SystemExit("the worker failed")
    done = time.monotonic()
    calls = sandbox.control("GET", "counters")
    delivered = Delivery.objects.filter(status="delivered").count()
    assert delivered == count, f"only {delivered} of {count} delivered"
    who = f"{creators} process{'es' if creators > 1 else ''}"
    if deliver_after:
        print(f"push {count:,} new tasks: created by {who} in {created - started:.1f} s "
              f"({count / (created - started):,.0f} tasks/s), then delivered in "
              f"{done - created:.1f} s ({count / (done - created):,.0f} tasks/s, worker start "
              "included)")
    else:
        print(f"push {count:,} new tasks: {done - started:.1f} s end to end "
              f"({count / (done - started):,.0f} tasks/s): created by {who} in "
              f"{created - started:.1f} s while a worker process delivered them, the last "
              f"{done - created:.1f} s later")
    print(f"  Salesforce calls: {calls['total']} ({calls['total'] * 1000 / count:.1f} per 1,000 "
          f"tasks) {dict(sorted(calls['by_endpoint'].items()))}")


def pull(sandbox: Sandbox, count: int) -> None:
    from syncing.reminders.sync import reminder_tasks_sync_pass

    def one_pass(what: str) -> None:
        sandbox.control("DELETE", "counters")
        started = time.monotonic()
        report = reminder_tasks_sync_pass()
        elapsed = time.monotonic() - started
        calls = sandbox.control("GET", "counters")
        print(f"import {report.read:,} {what}: {elapsed:.1f} s ({report.read / elapsed:,.0f} "
              f"changes/s) ({report})")
        print(f"  Salesforce calls: {calls['total']} ({calls['total'] * 1000 / report.read:.2f} "
              f"per 1,000 changes) {dict(sorted(calls['by_endpoint'].items()))}")

    one_pass("new Salesforce reminder Tasks (first switch-on)")
    # A Salesforce user then changes every one of them: the next pass merges 50,000 updates.
    sandbox.control("POST", "touch/Task", json={
        "where": {"TaskSubtype": "Task"},
        "fields": {"Description": "Changed in Salesforce", "Priority": "High"}})
    one_pass("changed Salesforce reminder Tasks (updates)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--push", type=int, default=10_000)
    parser.add_argument("--import", dest="pull", type=int, default=50_000)
    parser.add_argument("--database", default="salesactions_bench_reminder_sync")
    parser.add_argument("--deliver-after-creating", action="store_true",
                        help="start the worker once every task is created, to time delivery "
                             "on its own")
    parser.add_argument("--creators", type=int, default=1,
                        help="processes creating the tasks at once (web processes)")
    parser.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--create", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker or args.create:
        import django

        django.setup()
        if args.worker:
            worker_loop(args.worker)
        else:
            tasks_create_range(*map(int, args.create.split(":")))
        return
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
            push(sandbox, args.push, url, args.creators, args.deliver_after_creating)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
