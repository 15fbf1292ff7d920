"""Unsubscribes benchmark at a million people (issue 12).

    python bench/unsubscribes.py                  # 1,000,000 leads, 50,000 Salesforce opt-outs
    python bench/unsubscribes.py --leads 100000 --opt-outs 5000 --changes 200 --push 2000

Loads the seed people into a PostgreSQL database of its own (once: later runs reuse it) and
starts the Salesforce sandbox with the same seed (its own process), topping its opt-outs up to
``--opt-outs`` as a Salesforce user would (dated in the past, so they are not "changes"). The
app also holds 1,000 unsubscribes Salesforce never heard of. Then, each as production runs it:

1. the first periodic pass: ``manage.py sync`` (the real command, its own process) with the
   unsubscribe sync switched on: it imports every opt-out of a person in the workspace and
   pushes the 1,000 the org lacks. Prints its wall time and the Salesforce calls by endpoint.
2. a nightly pass after ``--changes`` changes in Salesforce (half new opt-outs, half boxes
   unchecked on people unsubscribed here): ``manage.py sync`` again, with its calls.
3. the push of ``--push`` new unsubscribes end to end: recorded in batches of 100 (as a batch
   of bounces or a sync pass records them) while a Celery worker (Redis broker) pushes them;
   timed from the first record to the last opt-out confirmed by Salesforce. Then the same
   through the API, one ``POST /api/v1/unsubscribes/`` per person from 4 clients to gunicorn.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time

import requests
from common import PYTHON, ROOT, Sandbox, app_env, database_url, free_port, psql, wait_for_url

LOAD_BATCH = 5000
#: App unsubscribes that Salesforce never got (recorded before pushes existed).
LOST = 1000
SETUP_STAMP = "2026-01-01T00:00:00Z"


def people_load(total: int) -> None:
    """Seed leads 1..total stored as the sync stores them (no unsubscribes). Resumes where an
    earlier load stopped; the list indexes are dropped while loading and built at the end."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Max

    from people.models import Person
    from people.services import person_apply_leads
    from sandbox import seed

    last_person = next(i for i in range(total, 0, -1) if seed.lead(i, 1, total)["sfdcLeadOwnerId"])
    loaded = Person.objects.aggregate(last=Max("marketo_id"))["last"] or 0
    if loaded >= last_person:
        print(f"{Person.workspace.count():,} people already loaded", flush=True)
        return
    call_command("migrate", "people", "0001", verbosity=0)
    started = time.monotonic()
    for start in range(loaded + 1, total + 1, LOAD_BATCH):
        leads = [seed.lead(i, 1, total) for i in range(start, min(start + LOAD_BATCH, total + 1))]
        person_apply_leads(leads)
        done = start + len(leads) - 1
        print(f"\rloaded {done:,} of {total:,} leads "
              f"({done / (time.monotonic() - started):,.0f}/s)", end="", flush=True)
    print("\nbuilding the list indexes…", flush=True)
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE people_person")
    print(f"{Person.workspace.count():,} people in {time.monotonic() - started:,.0f} s",
          flush=True)


def sf_record_of(lead: dict) -> tuple[str, str] | None:
    if lead["sfdcContactId"]:
        return "Contact", lead["sfdcContactId"]
    if lead["sfdcLeadId"]:
        return "Lead", lead["sfdcLeadId"]
    return None


def control_many(sandbox: Sandbox, changes: list[tuple[str, str, dict]], at: str | None,
                 threads: int = 8) -> None:
    """Change records as a Salesforce user would (the control surface is not counted)."""
    queue = list(changes)
    lock = threading.Lock()

    def work() -> None:
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                sobject, record_id, fields = queue.pop()
            body = {"fields": fields, **({"at": at} if at else {})}
            session.post(f"{sandbox.url}/_sandbox/records/{sobject}/{record_id}", json=body,
                         timeout=60).raise_for_status()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def counters(sandbox: Sandbox) -> dict:
    return sandbox.control("GET", "counters")


def calls_text(counts: dict) -> str:
    by_endpoint = sorted(counts["by_endpoint"].items(), key=lambda item: -item[1])
    return f"{counts['total']} Salesforce calls (" + ", ".join(
        f"{endpoint.replace('/services/data/v62.0', '')} {n}" for endpoint, n in by_endpoint) + ")"


def sync_command(url: str, env: dict) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run([PYTHON, "manage.py", "sync"], cwd=ROOT, env=env, text=True,
                          capture_output=True)
    seconds = time.monotonic() - started
    if done.returncode:
        raise SystemExit(f"sync failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("unsubscribes:"))
    return seconds, line


class Process:
    """A child process of the bench, stopped (by its own pid) when the bench ends."""

    def __init__(self, command: list[str], env: dict, name: str):
        self.name = name
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)

    def check(self) -> None:
        if self.process.poll() is not None:
            raise SystemExit(f"{self.name} exited: {self.process.stderr.read().decode()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def wait_until(condition, what: str, processes: list[Process], seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            process.check()
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--opt-outs", type=int, default=50_000,
                        help="Salesforce contacts and leads of people opted out")
    parser.add_argument("--changes", type=int, default=1000,
                        help="Salesforce changes before the nightly pass")
    parser.add_argument("--push", type=int, default=10_000, help="new unsubscribes to push")
    parser.add_argument("--api-push", type=int, default=2000,
                        help="new unsubscribes to push through the API (0: skip)")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--database", default="salesactions_bench_unsubscribes")
    parser.add_argument("--load-only", action="store_true")
    args = parser.parse_args()

    url = database_url(args.database)
    redis_port = free_port()
    env = app_env(url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", DEBUG="false",
                  ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="WARNING")
    os.environ.update(env)
    # Redis first: writes to people tell the list cache.
    processes = [Process(["redis-server", "--port", str(redis_port), "--save", "",
                          "--appendonly", "no"], os.environ.copy(), "redis")]
    try:
        wait_until(lambda: port_open(redis_port), "redis", processes, seconds=30)
        import django

        django.setup()
        people_load(args.leads)
        if not args.load_only:
            run(args, url, env, processes)
    finally:
        for process in reversed(processes):
            process.stop()


def run(args, url: str, env: dict, processes: list[Process]) -> None:
    from django.db import connection

    from people.models import Person
    from sandbox import seed
    from syncing.models import Delivery, SalesforceConnection, SyncSettings
    from unsubscribes.models import Unsubscribe
    from unsubscribes.services import unsubscribes_record_many

    psql(url, "TRUNCATE unsubscribes_unsubscribe, syncing_delivery, syncing_deliveryattempt, "
              "syncing_syncstream, syncing_salesforceconnection, syncing_syncsettings, "
              "authtoken_token RESTART IDENTITY CASCADE")
    connection.close()
    print("starting the Salesforce sandbox…", flush=True)
    salesforce = Sandbox("salesforce", args.leads)
    try:
        leads = [seed.lead(i, 1, args.leads) for i in range(1, args.leads + 1)]
        people = [lead for lead in leads if lead["sfdcLeadOwnerId"] and sf_record_of(lead)]
        seeded = [lead for lead in people if lead["unsubscribed"]]
        plain = [lead for lead in people if not lead["unsubscribed"]]
        extra = plain[:max(args.opt_outs - len(seeded), 0)]
        plain = plain[len(extra):]
        print(f"{len(seeded):,} seed opt-outs; opting out {len(extra):,} more…", flush=True)
        control_many(salesforce, [(*sf_record_of(lead), {"HasOptedOutOfEmail": True})
                                  for lead in extra], SETUP_STAMP)
        opted_out = seeded + extra
        lost, plain = plain[:LOST], plain[LOST:]
        unsubscribes_record_many(Person.objects.filter(
            marketo_id__in=[lead["id"] for lead in lost]), "manual", push=False)

        SalesforceConnection(url=salesforce.url, client_id="sandbox-salesforce-client",
                             client_secret="sandbox-salesforce-secret").save()
        SyncSettings(unsubscribe_sync_enabled=True, people_sync_enabled=False).save()
        connection.close()
        salesforce.control("DELETE", "counters")

        seconds, line = sync_command(url, env)
        first = counters(salesforce)
        print(f"\n1. first pass, {len(opted_out):,} opt-outs in Salesforce, {LOST:,} app "
              f"unsubscribes it lacks: manage.py sync {seconds:.1f} s (Python start-up and "
              f"the push of the {LOST:,} included)\n   {line}\n   {calls_text(first)}",
              flush=True)
        assert Unsubscribe.objects.filter(source="salesforce").count() == len(opted_out)

        half = args.changes // 2
        new_opt_outs = plain[:half]
        plain = plain[half:]
        resubscribed = opted_out[:args.changes - half]
        control_many(salesforce,
                     [(*sf_record_of(lead), {"HasOptedOutOfEmail": True})
                      for lead in new_opt_outs]
                     + [(*sf_record_of(lead), {"HasOptedOutOfEmail": False})
                        for lead in resubscribed], None)
        salesforce.control("DELETE", "counters")
        seconds, line = sync_command(url, env)
        nightly = counters(salesforce)
        print(f"\n2. nightly pass after {args.changes:,} changes ({half:,} opt-outs, "
              f"{args.changes - half:,} unchecked): manage.py sync {seconds:.1f} s\n   {line}\n"
              f"   {calls_text(nightly)}", flush=True)
        landed = {record["Id"] for record in salesforce.control(
            "GET", "records/Contact")["records"] + salesforce.control(
            "GET", "records/Lead")["records"] if record["HasOptedOutOfEmail"]}
        assert all(sf_record_of(lead)[1] in landed for lead in resubscribed), \
            "an unchecked opt-out was not set again"

        push(args, env, salesforce, processes, plain[:args.push], Delivery, Person,
             unsubscribes_record_many)
        if args.api_push:
            api_push(args, env, salesforce, processes, plain[args.push:args.push + args.api_push],
                     Delivery, Person)
    finally:
        salesforce.stop()
    print(f"\n   database {url.rsplit('/', 1)[-1]}, {os.cpu_count()} CPUs, "
          f"Celery concurrency {args.worker_concurrency}")


def start_worker(args, env: dict, processes: list[Process]) -> None:
    from salesactions.celery import app as celery_app

    processes.append(Process([PYTHON, "-m", "celery", "-A", "salesactions", "worker",
                              "--concurrency", str(args.worker_concurrency), "--without-gossip",
                              "--without-mingle", "--loglevel", "WARNING"], env, "celery worker"))
    wait_until(lambda: celery_app.control.ping(timeout=0.5), "the Celery worker", processes)


def pushed_count(Delivery, after_id: int) -> int:
    return Delivery.objects.filter(kind="unsubscribe", pk__gt=after_id,
                                   status=Delivery.Status.DELIVERED).count()


def confirm_landed(salesforce: Sandbox, leads: list[dict]) -> None:
    landed = {record["Id"] for sobject in ("Contact", "Lead")
              for record in salesforce.control("GET", f"records/{sobject}")["records"]
              if record["HasOptedOutOfEmail"]}
    missing = [lead["id"] for lead in leads if sf_record_of(lead)[1] not in landed]
    assert not missing, f"{len(missing)} opt-outs did not land, e.g. lead {missing[:3]}"


def push(args, env, salesforce, processes, leads, Delivery, Person, record_many) -> None:
    if not any(p.name == "celery worker" for p in processes):
        start_worker(args, env, processes)
    people = list(Person.objects.filter(marketo_id__in=[lead["id"] for lead in leads])
                  .order_by("pk"))
    last_id = Delivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    salesforce.control("DELETE", "counters")
    started = time.monotonic()
    for start in range(0, len(people), 100):
        record_many(people[start:start + 100], "bounce")
    recorded = time.monotonic()
    wait_until(lambda: pushed_count(Delivery, last_id) >= len(people), "the pushes", processes)
    finished = time.monotonic()
    confirm_landed(salesforce, leads)
    counts = counters(salesforce)
    print(f"\n3. push of {len(people):,} new unsubscribes (recorded 100 at a time in "
          f"{recorded - started:.1f} s): all opted out in Salesforce after "
          f"{finished - started:.1f} s = {len(people) / (finished - started):,.0f}/s end to "
          f"end\n   {calls_text(counts)}", flush=True)


def api_push(args, env, salesforce, processes, leads, Delivery, Person) -> None:
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    user, _ = User.objects.get_or_create(username="bench-seller",
                                         defaults={"email": "bench@example.com"})
    token = Token.objects.create(user=user).key
    port = free_port()
    processes.append(Process([PYTHON, "-m", "gunicorn", "salesactions.wsgi", "--workers", "3",
                              "--bind", f"127.0.0.1:{port}", "--log-level", "warning"], env,
                             "gunicorn"))
    wait_for_url(f"http://127.0.0.1:{port}/healthz", "gunicorn", 60)
    ids = list(Person.objects.filter(marketo_id__in=[lead["id"] for lead in leads])
               .values_list("pk", flat=True))
    last_id = Delivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    queue = list(ids)
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        while True:
            with lock:
                if not queue or errors:
                    return
                person = queue.pop()
            answer = session.post(f"http://127.0.0.1:{port}/api/v1/unsubscribes/",
                                  json={"person": person}, timeout=60)
            if answer.status_code != 201:
                with lock:
                    errors.append(f"{answer.status_code} {answer.text[:300]}")

    salesforce.control("DELETE", "counters")
    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"API error: {errors[0]}")
    posted = time.monotonic()
    wait_until(lambda: pushed_count(Delivery, last_id) >= len(ids), "the API pushes", processes)
    finished = time.monotonic()
    confirm_landed(salesforce, leads)
    print(f"\n4. push of {len(ids):,} unsubscribes POSTed one by one (4 clients, 3 gunicorn "
          f"workers; POSTs took {posted - started:.1f} s = {len(ids) / (posted - started):,.0f}"
          f"/s): all opted out after {finished - started:.1f} s = "
          f"{len(ids) / (finished - started):,.0f}/s end to end\n"
          f"   {calls_text(counters(salesforce))}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
