"""Calls benchmark: a burst of calls logged through the API, delivered by real Celery workers to
the Salesforce sandbox (Tasks) and the Marketo sandbox (custom activities).

    python bench/calls.py                      # 10,000 calls, 100 per POST, 4 client threads
    python bench/calls.py --calls 2000 --per-request 1

Everything runs as it does in production, each in a process of its own: PostgreSQL (database
``salesactions_bench_calls``), Redis (broker and cache, started here), gunicorn, a Celery worker
and both sandboxes (real Marketo limits; the app keeps to its default share of them).
Prints the time from the first POST until every call is a Task and an activity, tasks per
second end to end, and the API calls each system counted per 1,000 records.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import requests
from common import PG, PYTHON, ROOT, Sandbox, app_env, database_url, free_port, psql

sys.path.insert(0, str(ROOT))

TABLES = ("activities_call, syncing_delivery, syncing_deliveryattempt, people_person, "
          "syncing_syncstream, syncing_marketoconnection, syncing_salesforceconnection, "
          "authtoken_token, accounts_user")


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


def wait_until(condition, what: str, processes: list[Process], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            process.check()
        try:
            if condition():
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def setup(salesforce: Sandbox, marketo: Sandbox, leads: int) -> tuple[str, list[int]]:
    """Connections, seed people, a seller with an API token; the Marketo types registered (as
    on connect). Returns the token and the ids of people with a Salesforce record."""
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from people.models import Person
    from people.services import person_apply_leads
    from sandbox import seed
    from syncing.models import MarketoConnection, SalesforceConnection
    from syncing.outbox.marketo_activities import marketo_activity_types_ensure

    SalesforceConnection(url=salesforce.url, client_id="sandbox-salesforce-client",
                         client_secret="sandbox-salesforce-secret").save()
    MarketoConnection(base_url=marketo.url, client_id="sandbox-marketo-client",
                      client_secret="sandbox-marketo-secret").save()
    for start in range(1, leads + 1, 5000):
        person_apply_leads(seed.lead(i, 1, leads) for i in range(start, min(start + 5000,
                                                                          leads + 1)))
    seller = User.objects.create_user("bench", "bench@example.com", "bench-password")
    marketo_activity_types_ensure(force=True)
    people = list(Person.workspace.exclude(sfdc_contact_id="", sfdc_lead_id="")
                  .order_by("id").values_list("id", flat=True))
    return Token.objects.create(user=seller).key, people


def post_calls(base_url: str, token: str, payloads: list, clients: int) -> float:
    """POST every payload from ``clients`` threads; returns when the last one is answered."""
    queue = list(reversed(payloads))
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        while True:
            with lock:
                if not queue or errors:
                    return
                body = queue.pop()
            response = session.post(f"{base_url}/api/v1/calls/", json=body, timeout=120)
            if response.status_code != 201:
                with lock:
                    errors.append(f"{response.status_code} {response.text[:500]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"API error: {errors[0]}")
    return time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--leads", type=int, default=2000, help="seed leads in both sandboxes")
    parser.add_argument("--per-request", type=int, default=100,
                        help="calls per POST (1: one object per request; up to 500: a list)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent API clients")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--database", default="salesactions_bench_calls")
    parser.add_argument("--deliver-after-logging", action="store_true",
                        help="start the worker only once every call is logged, to time "
                             "delivery on its own")
    args = parser.parse_args()

    url = database_url(args.database)
    psql(url, f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    redis_port = free_port()
    redis = Process(["redis-server", "--port", str(redis_port), "--save", "",
                     "--appendonly", "no"], os.environ.copy(), "redis")
    env = app_env(url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", DEBUG="false",
                  ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="WARNING")
    os.environ.update(env)
    import django

    django.setup()
    from syncing.models import Delivery

    salesforce = Sandbox("salesforce", args.leads)
    marketo = Sandbox("marketo", args.leads)
    web_port = free_port()
    base_url = f"http://127.0.0.1:{web_port}"
    processes = [redis]
    try:
        token, people = setup(salesforce, marketo, args.leads)
        processes.append(Process([PYTHON, "-m", "gunicorn", "salesactions.wsgi", "--workers",
                                  str(args.web_workers), "--bind", f"127.0.0.1:{web_port}",
                                  "--log-level", "warning"], env, "gunicorn"))
        from salesactions.celery import app as celery_app

        def start_worker() -> None:
            processes.append(Process([PYTHON, "-m", "celery", "-A", "salesactions", "worker",
                                      "--concurrency", str(args.worker_concurrency),
                                      "--without-gossip", "--without-mingle",
                                      "--loglevel", "WARNING"], env, "celery worker"))
            wait_until(lambda: celery_app.control.ping(timeout=0.5), "the Celery worker",
                       processes)

        if not args.deliver_after_logging:
            start_worker()
        wait_until(lambda: requests.get(f"{base_url}/healthz", timeout=5).ok, "gunicorn",
                   processes)
        for sandbox in (salesforce, marketo):
            sandbox.control("DELETE", "counters")

        called_at = datetime.now(UTC) - timedelta(hours=1)
        calls = [{"person": people[i % len(people)], "outcome": "",
                  "notes": f"bench call {i}", "duration_seconds": i % 900,
                  "called_at": (called_at + timedelta(milliseconds=i)).isoformat()}
                 for i in range(args.calls)]
        payloads = (calls if args.per_request == 1 else
                    [calls[i:i + args.per_request]
                     for i in range(0, len(calls), args.per_request)])

        started = time.monotonic()
        logged = post_calls(base_url, token, payloads, args.clients)
        api_seconds = logged - started
        if args.deliver_after_logging:
            start_worker()
            started = time.monotonic()  # delivery alone from here (worker start excluded)
        done: dict[str, float] = {}
        delivered = Delivery.objects.filter(status=Delivery.Status.DELIVERED)
        deadline = time.monotonic() + 900
        while len(done) < 2 and time.monotonic() < deadline:
            for process in processes:
                process.check()
            for target in Delivery.Target.values:
                if target not in done and delivered.filter(target=target).count() == args.calls:
                    done[target] = time.monotonic()
            time.sleep(0.1)
        if len(done) < 2:
            raise SystemExit(f"not delivered in time: "
                             f"{dict(Delivery.objects.values_list('target', 'status'))}")
        finished = max(done.values())
        sf_calls = salesforce.control("GET", "counters")
        mk_calls = marketo.control("GET", "counters")
        tasks = salesforce.control("GET", "records/Task")["records"]
        activities = sum(len(marketo.control("GET", f"custom-activities?leadId={marketo_id}")
                             ["result"])
                         for marketo_id in Delivery.objects.filter(target="marketo").values_list(
                             "call__person__marketo_id", flat=True).distinct())
    finally:
        for process in reversed(processes):
            process.stop()
        salesforce.stop()
        marketo.stop()

    expected = {f"bench call {i}" for i in range(args.calls)}
    assert len(tasks) == args.calls and {t["Description"] for t in tasks} == expected, \
        "Tasks in Salesforce do not match the calls one to one"
    assert activities == args.calls, f"{activities} Marketo activities for {args.calls} calls"
    seconds = finished - started
    logging = f"logged in {api_seconds:.1f} s ({args.calls / api_seconds:,.0f} calls/s)"
    if args.deliver_after_logging:
        logging += ", then delivery timed alone"
    print(f"{args.calls:,} calls via the API ({args.per_request} per POST, {args.clients} "
          f"clients): {logging}; all Tasks in Salesforce after "
          f"{done['salesforce'] - started:.1f} s, all activities in Marketo after "
          f"{done['marketo'] - started:.1f} s")
    print(f"  end to end: {args.calls / seconds:,.0f} tasks/s | Salesforce API calls "
          f"{sf_calls['total']} ({sf_calls['total'] * 1000 / args.calls:.1f} per 1,000 Tasks) | "
          f"Marketo API calls {mk_calls['total']} "
          f"({mk_calls['total'] * 1000 / args.calls:.1f} per 1,000 activities)")
    for name, counts in (("Salesforce", sf_calls), ("Marketo", mk_calls)):
        by_endpoint = sorted(counts["by_endpoint"].items(), key=lambda item: -item[1])
        print(f"  {name}: " + ", ".join(f"{endpoint} {n}" for endpoint, n in by_endpoint))
    print(f"  database {PG}/{os.path.basename(url)}, {args.web_workers} gunicorn workers, "
          f"Celery concurrency {args.worker_concurrency}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
