"""More workers, more throughput: the same backlog sent by 1, 2 and 4 Celery worker processes.

    python bench/workers.py                          # 1, 2, 4 workers; remote answers after 100 ms
    python bench/workers.py --workers 1,4 --calls 600 --emails 200 --members 200   # a shake-out

The remote side answers as a remote one would, not at loopback speed: both sandboxes
(``answer_delay_ms``) and the SMTP sink (``--answer-delay-ms``) wait ``--delay-ms`` before each
answer. The stack is the production one, each part a process of its own: PostgreSQL (a fresh
database ``h_workers_run``), a ``redis-server`` on a free port (broker and cache), beat, and N
``celery worker --concurrency 1`` processes (one process each, as ``docker compose up --scale
worker=N`` or N machines give).

For each N, three backlogs are made with the workers already running, each in one transaction
(so the work appears at once, as after a burst), and timed from its commit until it is done
(for two of them, its last record's time: below):

- **deliveries**: ``--calls`` calls and ``--tasks`` reminder tasks, i.e. a Salesforce Task and a
  Marketo activity per call and a Salesforce Task per reminder task, through the outbox;
- **email sending**: ``--emails`` sales emails queued (the Marketo unsubscribe check at send
  time, SMTP hand-off, the Sent record), until every one is sent;
- **campaign steps**: ``--members`` people added to a new campaign whose first step is an
  automatic email, until every member's step has run (the step queues the email). The
  scheduler runs members in batches of 200 (``campaigns.scheduler.BATCH``), one batch per
  worker at a time, so a backlog of B batches cannot go more than B× faster on any number
  of workers: the default, 1,600 members, is 8 batches, so that 4 workers can show 4×
  (the 600 used before were 3 batches, a ceiling of 3× whatever the workers did). Each run
  adds people not yet in any bench campaign, hence ``--leads`` 7,000 (about 5,300 people
  with an address and a Salesforce id, 1,600 for each of three runs).

The campaign and deliveries phases end at the time their last record was written (the last
scheduler pass's Sync health line; the last ``delivered_at``), the 0.1 s poll still saying when
they are done (it would add up to 0.1 s to a ~0.6 s phase); both are printed.

Between phases the queues drain (the emails' own deliveries too) and the workers fall idle (no
task waiting in the broker nor running) before the next clock starts.
At the end every record is counted in the sandboxes' own stores and the SMTP sink (the soak's
``verify``): lost and sent twice, per kind. Exit 1 if anything was lost or duplicated.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import redis
from common import PYTHON, ROOT, wait_for_url
from soak import Child, Sandbox, Site, print_table, setup, unsettled, verify, wait_redis


def load_average() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(sessions: dict[int, str], database: str) -> Counter:
    """CPU seconds used so far, by part of the stack: ``sessions`` names each child's session
    (a Child starts one of its own; a worker's pool process shares it), "postgres" is every
    backend serving ``database``, "machine" all the machine's CPU (``/proc/stat``), "bench"
    this process. A process that exited is no longer counted (the workers, the sandboxes and
    their database connections live through a phase)."""
    used: Counter = Counter()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            command = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            part = sessions.get(int(fields[3]))
            if part is None and command == "postgres" and \
                    f" {database} ".encode() in Path(entry.path, "cmdline").read_bytes():
                part = "postgres"
        except (OSError, ValueError):
            continue  # exited meanwhile
        if part is not None:
            used[part] += (int(fields[11]) + int(fields[12])) / TICKS
    times = os.times()
    used["bench"] = times.user + times.system
    with open("/proc/stat") as machine:
        ticks = [int(value) for value in machine.readline().split()[1:]]
    used["machine"] = (sum(ticks) - ticks[3] - ticks[4]) / TICKS  # all but idle and iowait
    return used


def cpu_line(before: Counter, after: Counter, items: int) -> str:
    """The CPU a phase used, per part, in ms per item."""
    parts = sorted((part for part in after if part != "machine"),
                   key=lambda part: -(after[part] - before[part]))
    spent = {part: (after[part] - before[part]) * 1000 / max(items, 1)
             for part in [*parts, "machine"]}
    return ("CPU ms per item: " + ", ".join(f"{part} {spent[part]:.2f}" for part in parts
                                             if spent[part] >= 0.005)
            + f"; the whole machine {spent['machine']:.2f}")


class Workers:
    """N worker processes (``--concurrency 1`` each) and beat; with ``profile``, each worker
    (its pool process included) sampled by py-spy into ``logs/profile-<n>-<k>.txt``."""

    def __init__(self, n: int, env: dict, logs: Path, *, profile: bool = False,
                 idle: bool = False):
        self.children = [Child(f"worker{n}-{k}", [
            PYTHON, "-m", "celery", "-A", "salesactions", "worker", "--concurrency", "1",
            "-n", f"bench{n}-{k}@%h", "--without-gossip", "--without-mingle", "--loglevel",
            "INFO"], env, logs) for k in range(1, n + 1)]
        self.logs = [logs / f"worker{n}-{k}.log" for k in range(1, n + 1)]
        self.beat = Child(f"beat{n}", [PYTHON, "-m", "celery", "-A", "salesactions", "beat",
                                       "--loglevel", "WARNING", "--schedule",
                                       str(logs / f"celerybeat-schedule-{n}")], env, logs)
        self._wait_ready()
        # Attached once ready, so start-up is not in the samples; py-spy ends (and writes its
        # collapsed stacks) when the worker it follows exits.
        self.profilers = [subprocess.Popen(
            [str(Path(PYTHON).parent / "py-spy"), "record", "--pid", str(child.process.pid),
             "--subprocesses", "--format", "raw", "--rate", "200", "--nonblocking",
             *(["--idle"] if idle else []), "--output", str(logs / f"profile-{n}-{k}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for k, child in enumerate(self.children, start=1)] if profile else []

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if all(b" ready." in path.read_bytes() for path in self.logs):
                return
            time.sleep(0.2)
        raise SystemExit("the workers did not start (see their logs)")

    def stop(self) -> None:
        for child in [*self.children, self.beat]:
            child.stop()
        for profiler in self.profilers:
            profiler.wait(timeout=60)


class CpuMeter:
    """The CPU each part of the stack used over a timed phase (``cpu_seconds``)."""

    def __init__(self, database: str):
        self.database = database
        self.sessions: dict[int, str] = {}
        self.before = self.after = Counter()

    def name(self, part: str, children: list) -> None:
        self.sessions.update({child.process.pid: part for child in children})

    def start(self) -> None:
        self.before = cpu_seconds(self.sessions, self.database)

    def stop(self) -> None:
        self.after = cpu_seconds(self.sessions, self.database)

    def line(self, items: int) -> str:
        return cpu_line(self.before, self.after, items)


def wait_until(done, what: str, minutes: float, meter: CpuMeter | None = None) -> float:
    """Poll ``done()`` every 0.1 s; the seconds it took (and the CPU meanwhile on ``meter``)."""
    return wait_timed(done, what, minutes, meter)[0]


def wait_timed(done, what: str, minutes: float, meter: CpuMeter | None = None
               ) -> tuple[float, float]:
    """``wait_until``, and the wall clock (``time.time()``) when its clock started, for a
    phase that ends at the time its last record was written (``written_seconds``)."""
    if meter:
        meter.start()
    started_wall, started = time.time(), time.monotonic()
    while not done():
        if time.monotonic() - started > minutes * 60:
            raise SystemExit(f"{what} did not finish in {minutes:g} min")
        time.sleep(0.1)
    seconds = time.monotonic() - started
    if meter:
        meter.stop()
    return seconds, started_wall


def written_seconds(started_wall: float, newest: datetime | None, polled: float) -> float:
    """A phase's time from its start to ``newest``, the time its last record was written (the
    same machine's clock). The 0.1 s poll finds a phase done up to 0.1 s after that, which
    at ~1 s a phase is up to a tenth of the figure; the poll still says when it is done.
    The polled time when there is no such record."""
    if newest is None:
        return polled
    return min(polled, max(newest.timestamp() - started_wall, 0.001))


def drained() -> bool:
    return not any(unsettled().values())


def workers_idle(broker) -> bool:
    """No task waiting in the broker (kombu's list per queue and priority) nor running (with
    ``acks_late`` a running task's message stays in kombu's ``unacked`` hash until it ends).
    Between phases the database can be drained while one worker still has a queue of beat's
    ticks and flushes that piled up behind a 64 s email task: the next phase's clock must not
    start on that."""
    queues = [key for key in broker.scan_iter("celery*") if broker.type(key) == b"list"]
    return not broker.hlen("unacked") and not sum(broker.llen(key) for key in queues)


def settled(broker) -> bool:
    return drained() and workers_idle(broker)


def deliveries_phase(seller, people: list, calls: int, tasks: int, first_second: datetime,
                     serial: int, meter: CpuMeter) -> tuple[int, float, float]:
    from django.db import transaction
    from django.db.models import Max

    from activities.services import CallInput, calls_log
    from reminders.services import tasks_create_for_people
    from syncing.models import Delivery

    before = Delivery.objects.count()
    newest_before = Delivery.objects.aggregate(newest=Max("pk"))["newest"] or 0
    with transaction.atomic():
        calls_log(logged_by=seller, calls=[CallInput(
            person=people[i % len(people)], notes=f"workers bench call {serial}-{i}",
            duration_seconds=60, called_at=first_second + timedelta(seconds=i))
            for i in range(calls)])
        tasks_create_for_people(created_by=seller, people_ids=[
            p.pk for p in people[:tasks]], name=f"Workers bench follow-up {serial}",
            due_date=date.today() + timedelta(days=3),
            details=f"workers bench task {serial}")
    made = Delivery.objects.count() - before
    polled, started_wall = wait_timed(lambda: unsettled()["deliveries"] == 0, "the deliveries",
                                      30, meter)
    # The last delivery recorded (``delivered_at`` is its batch's record time, just before
    # the update and commit).
    newest = Delivery.objects.filter(pk__gt=newest_before).aggregate(
        newest=Max("delivered_at"))["newest"]
    return made, polled, written_seconds(started_wall, newest, polled)


def emails_phase(seller, people: list, emails: int, marketo: Sandbox, delay_ms: int,
                 serial: int, meter: CpuMeter) -> tuple[int, float]:
    from django.db import transaction

    from emails.models import SalesEmail
    from emails.services import EmailRefused, queue_email

    # Queueing checks each address with Marketo: made at loopback speed, it is not what is timed.
    marketo.control("POST", "config", {"answer_delay_ms": 0})
    queued, i = 0, 0
    with transaction.atomic():
        while queued < emails:
            i += 1
            try:
                queue_email(person=people[i % len(people)], sender=seller,
                            subject=f"Workers bench {serial}-{i}",
                            body="Hello {{first_name|there}},\n\n"
                                 f"workers bench email {serial}-{i}.")
            except EmailRefused:  # unsubscribed in Marketo: not an email to send
                continue
            queued += 1
        marketo.control("POST", "config", {"answer_delay_ms": delay_ms})
    waiting = [SalesEmail.Status.QUEUED, SalesEmail.Status.HELD, SalesEmail.Status.SENDING]
    seconds = wait_until(lambda: not SalesEmail.objects.filter(status__in=waiting).exists(),
                         "the emails", 30, meter)
    return emails, seconds


def campaign_phase(seller, token: str, base_url: str, people: list, members: int,
                   serial: int, meter: CpuMeter) -> tuple[int, float]:
    import requests
    from django.db import transaction
    from django.db.models import Max

    from campaigns.models import Campaign, MemberStep
    from campaigns.scheduler import PASS_LOG
    from campaigns.services import members_add
    from campaigns.tasks import campaign_steps_task
    from syncing.models import StreamPass

    response = requests.post(f"{base_url}/api/v1/campaigns/", timeout=60, headers={
        "Authorization": f"Token {token}"}, json={
        "name": f"Workers bench {serial}", "status": "active", "steps": [
            {"type": "email", "day_offset": 0, "auto_send": True,
             "subject": "{{sales_campaign_name}} for {{first_name|you}}",
             "body": "Hello {{first_name|there}},\n\nthe first step of "
                     "{{sales_campaign_name}}."}]})
    response.raise_for_status()
    campaign = Campaign.objects.get(pk=response.json()["id"])
    with transaction.atomic():
        report = members_add(campaign, [p.pk for p in people[:members]], by=seller)
    added = len(report.added)
    # What beat's pass (every 15 s) would start; the pass brings in more workers itself.
    campaign_steps_task.delay()
    polled, started_wall = wait_timed(
        lambda: MemberStep.objects.filter(member__campaign=campaign).count() >= added,
        "the campaign steps", 30, meter)
    # The last pass's log line for Sync health (``stream_pass_record``), written once its
    # last batch committed and one more claim found nothing: a few ms after the last commit.
    # Passes log after the steps are visible, so give them a moment (off the clock).
    time.sleep(0.5)
    newest = StreamPass.objects.filter(
        stream=PASS_LOG, finished_at__gte=datetime.fromtimestamp(started_wall, UTC)).aggregate(
        newest=Max("finished_at"))["newest"]
    return added, polled, written_seconds(started_wall, newest, polled)


def main() -> int:  # noqa: PLR0915 (one run, told in order)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts (1,2,4)")
    parser.add_argument("--delay-ms", type=int, default=100,
                        help="every Marketo, Salesforce and SMTP answer waits this long (100)")
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--emails", type=int, default=600)
    parser.add_argument("--members", type=int, default=1600,
                        help="campaign members per run (1,600: 8 batches of 200)")
    parser.add_argument("--leads", type=int, default=7000)
    parser.add_argument("--database", default="h_workers_run")
    parser.add_argument("--profile", action="store_true",
                        help="sample each worker with py-spy (collapsed stacks in the logs "
                             "folder; the sampling costs CPU, so not for the figures)")
    parser.add_argument("--profile-idle", action="store_true",
                        help="as --profile, with the samples of threads waiting (on "
                             "PostgreSQL, Redis, a sandbox): where the wall time goes")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]

    # The app's share of Marketo's calls out of the way too (each worker process paces its own
    # calls: with the default share every N would be capped alike).
    site = Site("workers", args.database, MARKETO_CALLS_PER_WINDOW="1000000",
                MARKETO_MAX_IN_FLIGHT="10")
    started_wall, logs, env, base_url = site.started, site.logs, site.env, site.base_url
    from django.db import connection

    from accounts.models import User
    from people.models import Person

    children = [Child("redis", ["redis-server", "--port", str(site.redis_port), "--bind",
                                "127.0.0.1", "--save", "", "--appendonly", "no"], env, logs),
                *site.remotes_start(args.leads, "--answer-delay-ms", str(args.delay_ms))]
    marketo, salesforce = Sandbox(site.marketo_url), Sandbox(site.salesforce_url)
    rows = []
    failed = False
    try:
        wait_redis(site.redis_port)
        broker = redis.Redis(port=site.redis_port)
        site.remotes_wait()
        # Limits out of the way (the app's share of Marketo's 100 calls / 20 s would cap
        # every N alike): what is measured is how the work spreads over workers.
        marketo.control("POST", "config", {"rate_limit_calls": 100000,
                                           "daily_quota": 10_000_000})
        salesforce.control("POST", "config", {"daily_api_limit": 10_000_000})
        tokens, people_ids, _ = setup(site.marketo_url, site.salesforce_url, args.leads, 1)
        seller = User.objects.get(username="seller0")
        people = list(Person.objects.filter(pk__in=people_ids).order_by("pk"))
        if len(people) < len(counts) * args.members:
            raise SystemExit(f"{len(people)} people for {len(counts)} runs of {args.members} "
                             "campaign members: raise --leads")
        web = Child("gunicorn", [PYTHON, "-m", "gunicorn", "salesactions.wsgi", "-c",
                                 "gunicorn.conf.py"],
                    env | {"GUNICORN_BIND": f"127.0.0.1:{site.web_port}",
                           "WEB_CONCURRENCY": "1"},
                    logs)
        children.append(web)
        wait_for_url(f"{base_url}/healthz", "gunicorn", 60)
        for sandbox in (marketo, salesforce):
            sandbox.control("POST", "config", {"answer_delay_ms": args.delay_ms})
        connection.close()
        first_second = started_wall.replace(microsecond=0) - timedelta(days=1)
        print(f"Workers bench: remote answers after {args.delay_ms} ms; {args.calls} calls + "
              f"{args.tasks} reminder tasks, {args.emails} emails, {args.members} campaign "
              f"members per run; logs in {logs.relative_to(ROOT)}", flush=True)
        meter = CpuMeter(args.database)
        meter.name("redis", children[:1])
        meter.name("sandboxes", children[1:2])
        meter.name("smtp sink", children[2:3])
        meter.name("web", [web])
        for serial, n in enumerate(counts):
            workers = Workers(n, env, logs, profile=args.profile or args.profile_idle,
                              idle=args.profile_idle)
            meter.name("workers", workers.children)
            meter.name("beat", [workers.beat])
            try:
                wait_until(lambda: settled(broker), "the workers' first tasks", 5)
                load = load_average()
                made, d_polled, d_seconds = deliveries_phase(
                    seller, people, args.calls, args.tasks,
                    first_second + timedelta(seconds=serial * args.calls), serial, meter)
                print(f"  {n} worker(s): {made} deliveries in {d_seconds:.2f} s (polled "
                      f"{d_polled:.2f} s); {meter.line(made)}", flush=True)
                wait_until(lambda: settled(broker), "the queues", 30)
                sent, e_seconds = emails_phase(seller, people, args.emails, marketo,
                                               args.delay_ms, serial, meter)
                print(f"  {n} worker(s): {sent} emails in {e_seconds:.1f} s; "
                      f"{meter.line(sent)}", flush=True)
                wait_until(lambda: settled(broker), "the queues", 30)
                steps, s_polled, s_seconds = campaign_phase(
                    seller, tokens[0], base_url, people[serial * args.members:], args.members,
                    serial, meter)
                print(f"  {n} worker(s): {steps} campaign steps in {s_seconds:.2f} s (polled "
                      f"{s_polled:.2f} s); {meter.line(steps)}", flush=True)
                wait_until(lambda: settled(broker), "the queues", 30)
            finally:
                workers.stop()
            connection.close()
            rows.append((n, made / d_seconds, sent / e_seconds, steps / s_seconds, load,
                         made / d_polled, steps / s_polled))
        base = rows[0]
        print_table(
            f"Throughput by worker processes (remote answers after {args.delay_ms} ms)",
            ("workers", "deliveries/s", "×", "emails/s", "×", "campaign steps/s", "×",
             "load at start", "polled: deliveries/s", "×", "steps/s", "×"),
            [(n, f"{d:.0f}", f"{d / base[1]:.2f}", f"{e:.1f}", f"{e / base[2]:.2f}",
              f"{s:.1f}", f"{s / base[3]:.2f}", load, f"{dp:.0f}", f"{dp / base[5]:.2f}",
              f"{sp:.1f}", f"{sp / base[6]:.2f}") for n, d, e, s, load, dp, sp in rows])
        for sandbox in (marketo, salesforce):
            sandbox.control("POST", "config", {"answer_delay_ms": 0})
        checked, smtp = verify(salesforce, marketo, site.marketo_url, site.mail_url,
                               started_wall - timedelta(days=2))
        print_table("Counted in the sandboxes' stores and the SMTP sink",
                    ("kind", "where", "records", "lost", "duplicated"),
                    [tuple("-" if v is None else v for v in row) for row in checked])
        failed = any(row[3] or row[4] for row in checked)
    finally:
        for child in reversed(children):
            child.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
