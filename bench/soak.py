"""Soak under faults: the whole stack for ``--minutes`` while 20 sellers work through the API and
the remote systems, the workers, Redis and PostgreSQL misbehave; then, with the faults off and
the queues drained, count in the sandboxes' own stores that every record arrived exactly once.

    python bench/soak.py --minutes 10
    python bench/soak.py --minutes 2 --rate 3      # a shake-out

Each part is a process of its own, as in production: PostgreSQL (a fresh database
``h_soak_run``, or ``--database``), a ``redis-server`` it starts on a free loopback port (broker
and cache; it restarts it), gunicorn (``gunicorn.conf.py``, DEBUG off), two Celery workers
(``--concurrency 2`` each), beat, both sandboxes (``python -m sandbox``) and the SMTP sink
(``python -m sandbox.mailcapture``). Seller threads (one API token each) log calls, add and
complete reminder tasks, send sales emails, add people to their campaign (an automatic email
step and a call step, both due at once), unsubscribe people and read their task list, at
``--rate`` actions per second in all.

Faults, all through the run: Marketo 606, 615, 500/503 and answers lost after Add Custom
Activities applied; Salesforce answers lost after creates and updates applied,
UNABLE_TO_LOCK_ROW, INVALID_SESSION_ID and every token revoked every 90 s (the sandboxes'
``probability`` faults); a Celery worker killed with SIGKILL (its whole process group) every 2
minutes and started again; Redis stopped and started once (nothing persisted: queued Celery
messages are lost); every PostgreSQL connection to the soak's database cut once
(``pg_terminate_backend``, that database only).

At the end it prints requests served and latency, records created, deliveries and attempts,
faults injected, and per kind lost and duplicated records — read from the Salesforce and
Marketo sandboxes' stores and the SMTP sink, not from the app's bookkeeping — and exits 1 when
anything was lost or duplicated (or the queues did not drain).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from common import PG, PYTHON, ROOT, free_port, psql, wait_for_url

#: Share of the actions each seller picks (weights).
ACTIONS = {"call": 30, "task_add": 20, "task_complete": 12, "email": 15, "campaign_add": 12,
           "unsubscribe": 3, "read_tasks": 8}
#: Fault injection while the sellers work: (sandbox, kind, options). ``probability`` is the
#: share of matching requests hit.
FAULTS = [
    ("marketo", "606", {"path": "/rest/", "probability": 0.03}),
    ("marketo", "615", {"path": "/rest/", "probability": 0.03}),
    ("marketo", "http_503", {"path": "/rest/", "probability": 0.02}),
    ("marketo", "http_500", {"path": "/rest/", "probability": 0.01}),
    ("marketo", "drop_after_apply", {"path": "/activities/external.json", "method": "POST",
                                     "probability": 0.08}),
    ("salesforce", "drop_after_apply", {"path": "composite/sobjects", "method": "POST",
                                        "probability": 0.08}),
    ("salesforce", "drop_after_apply", {"path": "/sobjects/", "method": "PATCH",
                                        "probability": 0.05}),
    ("salesforce", "UNABLE_TO_LOCK_ROW", {"path": "composite/sobjects", "probability": 0.05}),
    ("salesforce", "INVALID_SESSION_ID", {"probability": 0.01}),
    ("salesforce", "http_503", {"probability": 0.01}),
]
REVOKE_EVERY = 90
#: Error budget: the share of requests allowed to fail (5xx, no answer, an unexpected 4xx).
SLO = 0.995
UNSUBSCRIBE_POOL = 100


class Child:
    """A process of the stack, in a session of its own (so a SIGKILL takes its children too),
    its output in ``logs/<name>.log``."""

    def __init__(self, name: str, command: list[str], env: dict, logs: Path):
        self.name, self.command, self.env = name, command, env
        self.log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 (open for the child's life)
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self) -> None:
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass


class Sandbox:
    def __init__(self, url: str):
        self.url = url

    def control(self, method: str, path: str, json=None):
        response = requests.request(method, f"{self.url}/_sandbox/{path}", json=json,
                                    timeout=120)
        response.raise_for_status()
        return response.json() if response.content else None


class Stats:
    """Every answer the sellers got: action, status, milliseconds (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answers: list[tuple[str, int, float]] = []
        self.unexpected: Counter = Counter()

    def add(self, action: str, status: int, ms: float, expected: bool, detail: str = ""):
        with self.lock:
            self.answers.append((action, status, ms))
            if not expected:
                self.unexpected[(action, status, detail[:80])] += 1


class Seller(threading.Thread):
    """One seller: picks an action every ``interval`` seconds (jittered) until stopped."""

    numbers = iter(range(1, 10**9))
    numbers_lock = threading.Lock()

    def __init__(self, index: int, token: str, campaign: int, base_url: str, people: list[int],
                 unsubscribe_pool: list[int], interval: float, stats: Stats, stop: threading.Event,
                 called_base: datetime):
        super().__init__(name=f"seller-{index}", daemon=True)
        self.index, self.campaign, self.base_url = index, campaign, base_url
        self.people, self.unsubscribe_pool = people, unsubscribe_pool
        self.interval, self.stats, self.stop_event = interval, stats, stop
        self.called_base = called_base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"
        self.random = random.Random(index)
        self.open_tasks: list[int] = []
        self.created: Counter = Counter()

    def number(self) -> int:
        with self.numbers_lock:
            return next(self.numbers)

    def request(self, action: str, method: str, path: str, body=None,
                ok=(200, 201), expected_4xx=()) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = self.http.request(method, f"{self.base_url}/api/v1/{path}", json=body,
                                         timeout=60)
        except requests.RequestException as error:
            self.stats.add(action, 0, (time.monotonic() - started) * 1000, False,
                           type(error).__name__)
            return None
        ms = (time.monotonic() - started) * 1000
        expected = response.status_code in ok or response.status_code in expected_4xx
        self.stats.add(action, response.status_code, ms, expected,
                       "" if expected else response.text)
        return response if response.status_code in ok else None

    def run(self) -> None:
        actions, weights = zip(*ACTIONS.items(), strict=True)
        next_at = time.monotonic() + self.random.uniform(0, self.interval)
        while not self.stop_event.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self.stop_event.wait(delay):
                return
            next_at += self.random.uniform(0.5, 1.5) * self.interval
            getattr(self, "do_" + self.random.choices(actions, weights)[0])()

    def do_call(self) -> None:
        n = self.number()
        # A distinct second per call: Marketo keeps activity dates to the second, so each call
        # is told apart there by its lead and moment.
        called_at = self.called_base + timedelta(seconds=n)
        if self.request("call", "POST", "calls/", {
                "person": self.random.choice(self.people),
                "outcome": self.random.choice(["Connected", "No answer", "Left voicemail"]),
                "notes": f"soak call {n} by seller {self.index}",
                "duration_seconds": n % 900, "called_at": called_at.isoformat()}):
            self.created["call"] += 1

    def do_task_add(self) -> None:
        n = self.number()
        response = self.request("task_add", "POST", "tasks/", {
            "person": self.random.choice(self.people), "name": f"soak task {n}",
            "due_date": datetime.now(UTC).date().isoformat(),
            "details": f"soak task {n} by seller {self.index}"})
        if response is not None:
            self.open_tasks.append(response.json()["id"])
            self.created["reminder_task"] += 1

    def do_task_complete(self) -> None:
        if not self.open_tasks:
            return self.do_task_add()
        task = self.open_tasks.pop(self.random.randrange(len(self.open_tasks)))
        if self.request("task_complete", "PATCH", f"tasks/{task}/", {"status": "complete"}):
            self.created["task_completed"] += 1

    def do_email(self) -> None:
        n = self.number()
        # 400: the address is unsubscribed (in the app or in Marketo) — the app refusing it is
        # the right answer, not an error.
        if self.request("email", "POST", "emails/", {
                "person": self.random.choice(self.people), "subject": f"Soak email {n}",
                "body": f"Hello {{{{first_name|there}}}},\n\nsoak email {n} from seller "
                        f"{self.index}."}, expected_4xx=(400,)):
            self.created["email"] += 1

    def do_campaign_add(self) -> None:
        response = self.request("campaign_add", "POST", f"campaigns/{self.campaign}/members/",
                                {"person": self.random.choice(self.people)})
        if response is not None and response.status_code == 201:
            self.created["campaign_member"] += 1

    def do_unsubscribe(self) -> None:
        response = self.request("unsubscribe", "POST", "unsubscribes/",
                                {"person": self.random.choice(self.unsubscribe_pool)})
        if response is not None and response.status_code == 201:
            self.created["unsubscribe"] += 1

    def do_read_tasks(self) -> None:
        self.request("read_tasks", "GET", "tasks/?page_size=20")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def database_fresh(name: str) -> str:
    psql(f"{PG}/postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f"{PG}/postgres", f'CREATE DATABASE "{name}"')
    return f"{PG}/{name}"


class Site:
    """Where one run of the whole stack lives: its log folder under ``bench/results``, a fresh
    database, free loopback ports and the environment every process of it runs with (DEBUG
    off, its own Redis as broker and cache, ``EMAIL_URL`` at the SMTP sink). Preparing it
    migrates the database, makes that environment this process's own and sets Django up here
    (this process only sets up and counts: the stack's processes log to ``logs``)."""

    def __init__(self, kind: str, database: str, **extra_env: str):
        self.started = datetime.now(UTC)
        self.logs = ROOT / "bench" / "results" / f"{kind}-{self.started:%Y%m%d-%H%M%S}"
        self.logs.mkdir(parents=True)
        self.database_url = database_fresh(database)
        self.redis_port, self.web_port = free_port(), free_port()
        self.marketo_port, self.salesforce_port = free_port(), free_port()
        self.smtp_port, self.mail_port = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.marketo_url = f"http://127.0.0.1:{self.marketo_port}"
        self.salesforce_url = f"http://127.0.0.1:{self.salesforce_port}"
        self.mail_url = f"http://127.0.0.1:{self.mail_port}"
        self.env = os.environ | {
            "DATABASE_URL": self.database_url, "DJANGO_SETTINGS_MODULE": "salesactions.settings",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0", "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1",
            "EMAIL_URL": f"smtp://127.0.0.1:{self.smtp_port}", "SITE_URL": self.base_url,
            "LOG_LEVEL": "WARNING", "API_THROTTLE_USER": "100000/min", **extra_env}
        for key in ("MARKETO_BASE_URL", "SALESFORCE_URL", "CELERY_BROKER_URL", "ANYMAIL_ESP"):
            self.env.pop(key, None)
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)
        os.environ.clear()
        os.environ.update(self.env)
        import django

        django.setup()
        logging.disable(logging.CRITICAL)

    def remotes_start(self, leads: int, *mail_options: str) -> list[Child]:
        """Both sandboxes (``leads`` seed leads) and the SMTP sink, each a process of its own;
        ``remotes_wait`` returns once they answer."""
        return [Child("sandbox", [PYTHON, "-m", "sandbox", "--marketo-port",
                                  str(self.marketo_port), "--salesforce-port",
                                  str(self.salesforce_port), "--leads", str(leads),
                                  "--reminder-tasks", "0"], self.env, self.logs),
                Child("mailcapture", [PYTHON, "-m", "sandbox.mailcapture", "--smtp-port",
                                      str(self.smtp_port), "--http-port", str(self.mail_port),
                                      *mail_options], self.env, self.logs)]

    def remotes_wait(self) -> None:
        wait_for_url(f"{self.marketo_url}/_sandbox/config", "the Marketo sandbox", 60)
        wait_for_url(f"{self.salesforce_url}/_sandbox/config", "the Salesforce sandbox", 60)
        wait_for_url(f"{self.mail_url}/api/count", "the SMTP sink", 30)


def setup(marketo_url: str, salesforce_url: str, leads: int, sellers: int):
    """Connections, the seed people, sellers with tokens, the Marketo activity types.
    Returns (tokens, people for the actions, people to unsubscribe)."""
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from people.models import Person
    from people.services import person_apply_leads
    from sandbox import seed
    from syncing.models import MarketoConnection, SalesforceConnection
    from syncing.outbox.marketo_activities import marketo_activity_types_ensure

    SalesforceConnection(url=salesforce_url, client_id="sandbox-salesforce-client",
                         client_secret="sandbox-salesforce-secret").save()
    MarketoConnection(base_url=marketo_url, client_id="sandbox-marketo-client",
                      client_secret="sandbox-marketo-secret").save()
    person_apply_leads(seed.lead(i, 1, leads) for i in range(1, leads + 1))
    tokens = []
    for index in range(sellers):
        # A seed Salesforce User's email, so their reminder tasks have an owner there (sellers
        # share the eight seed Users).
        email = seed.OWNERS[index % len(seed.OWNERS)][3]
        user = User.objects.create_user(f"seller{index}", email, "soak-password",
                                        role=User.Role.SELLER)
        tokens.append(Token.objects.create(user=user).key)
    marketo_activity_types_ensure(force=True)
    people = list(Person.workspace.exclude(email="").exclude(marketo_id=None)
                  .exclude(sfdc_contact_id="", sfdc_lead_id="")
                  .order_by("id").values_list("id", flat=True))
    random.Random(1).shuffle(people)
    return tokens, people[UNSUBSCRIBE_POOL:], people[:UNSUBSCRIBE_POOL]


def campaign_create(base_url: str, token: str, index: int) -> int:
    response = requests.post(f"{base_url}/api/v1/campaigns/", timeout=60, headers={
        "Authorization": f"Token {token}"}, json={
        "name": f"Soak campaign {index}", "status": "active", "steps": [
            {"type": "email", "day_offset": 0, "auto_send": True,
             "subject": "{{sales_campaign_name}}: hello {{first_name|there}}",
             "body": "Hello {{first_name|there}},\n\nthe first step of "
                     "{{sales_campaign_name}}."},
            {"type": "call", "day_offset": 0, "name": "Follow-up call",
             "details": f"Call after the email of Soak campaign {index}."}]})
    response.raise_for_status()
    return response.json()["id"]


class Stack:
    """The app's processes and the ones it depends on, and the faults done to them."""

    def __init__(self, env: dict, logs: Path, redis_port: int):
        self.env, self.logs, self.redis_port = env, logs, redis_port
        self.injected: Counter = Counter()
        self.exits: Counter = Counter()
        self.redis = self._redis()
        wait_redis(redis_port)
        self.web, self.workers, self.beat = None, [], None

    def app_start(self, web_port: int) -> None:
        env, logs = self.env, self.logs
        self.web = Child("gunicorn", [PYTHON, "-m", "gunicorn", "salesactions.wsgi", "-c",
                                      "gunicorn.conf.py"],
                         env | {"GUNICORN_BIND": f"127.0.0.1:{web_port}"}, logs)
        self.workers = [Child(f"worker{n}", [
            PYTHON, "-m", "celery", "-A", "salesactions", "worker", "--concurrency", "2",
            "-n", f"soak{n}@%h", "--without-gossip", "--without-mingle", "--loglevel",
            "WARNING"], env, logs) for n in (1, 2)]
        self.beat = Child("beat", [PYTHON, "-m", "celery", "-A", "salesactions", "beat",
                                   "--loglevel", "WARNING", "--schedule",
                                   str(logs / "celerybeat-schedule")], env, logs)

    def _redis(self) -> Child:
        return Child("redis", ["redis-server", "--port", str(self.redis_port), "--bind",
                               "127.0.0.1", "--save", "", "--appendonly", "no"], self.env,
                     self.logs)

    def children(self) -> list[Child]:
        return [self.redis, *filter(None, [self.web, *self.workers, self.beat])]

    def check(self) -> None:
        """Start again an app process that exited by itself, as a supervisor would (counted:
        the report says so); Redis is only ever restarted on purpose."""
        if not self.redis.alive():
            raise SystemExit(f"redis-server exited (see {self.logs}/redis.log)")
        for child in self.children()[1:]:
            if not child.alive():
                self.exits[child.name] += 1
                print(f"  {child.name} exited by itself (code {child.process.returncode}); "
                      "starting it again", flush=True)
                child.start()

    def worker_kill(self, n: int) -> None:
        """SIGKILL a worker and its pool, mid-whatever, then start it again."""
        worker = self.workers[n % 2]
        worker.kill(signal.SIGKILL)
        self.injected["worker SIGKILL"] += 1
        worker.start()

    def redis_restart(self) -> None:
        self.redis.kill(signal.SIGKILL)
        self.injected["Redis restart"] += 1
        time.sleep(3)
        self.redis.start()
        wait_redis(self.redis_port)

    def postgres_cut(self, database: str) -> None:
        cut = psql(f"{PG}/postgres", "SELECT count(pg_terminate_backend(pid)) FROM "
                                     f"pg_stat_activity WHERE datname = '{database}' "
                                     "AND pid <> pg_backend_pid()")
        self.injected["PostgreSQL connections cut"] += int(cut or 0)

    def stop(self) -> None:
        for child in reversed(self.children()):
            child.stop()


def wait_redis(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                          text=True).stdout.strip() == "PONG":
            return
        time.sleep(0.1)
    raise SystemExit("redis-server did not start")


def unsettled() -> dict[str, int]:
    """What is still on its way: deliveries, emails, due campaign steps."""
    from django.db.models import Q
    from django.utils import timezone

    from campaigns.models import CampaignMember
    from emails.models import SalesEmail
    from syncing.models import Delivery

    return {
        "deliveries": Delivery.objects.filter(status__in=[Delivery.Status.PENDING,
                                                          Delivery.Status.IN_PROGRESS]).count(),
        "emails": SalesEmail.objects.filter(status__in=[
            SalesEmail.Status.QUEUED, SalesEmail.Status.HELD, SalesEmail.Status.SENDING]).count(),
        "campaign steps": CampaignMember.objects.filter(
            Q(next_step_due_at__lte=timezone.now()), status="active").count(),
    }


def second(text: str) -> str:
    """An ISO moment to the second, in UTC (Marketo keeps activity dates to the second)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def marketo_types(marketo_url: str) -> dict[int, str]:
    token = requests.get(f"{marketo_url}/identity/oauth/token", timeout=30, params={
        "grant_type": "client_credentials", "client_id": "sandbox-marketo-client",
        "client_secret": "sandbox-marketo-secret"}).json()["access_token"]
    reply = requests.get(f"{marketo_url}/rest/v1/activities/external/types.json", timeout=30,
                         headers={"Authorization": f"Bearer {token}"}).json()
    return {item["id"]: item["apiName"] for item in reply["result"]}


def compare(expected: dict[tuple, str], expected_counts: Counter, remote: Counter,
            kinds: list[str]) -> dict[str, list[int]]:
    """Per kind [records, lost, duplicated]: each key's count here against there."""
    table = {kind: [0, 0, 0] for kind in kinds}
    for key, count in expected_counts.items():
        row = table[expected[key]]
        row[0] += count
        row[1] += max(0, count - remote.get(key, 0))
        row[2] += max(0, remote.get(key, 0) - count)
    strays = sum(n for key, n in remote.items() if key not in expected_counts)
    if strays:
        table["(no record here)"] = [0, 0, strays]
    return table


def verify(salesforce: Sandbox, marketo: Sandbox, marketo_url: str, mail_url: str,
           since: datetime) -> tuple[list[tuple], dict]:
    """Count each kind in the remote stores. Returns rows (kind, system, records, lost,
    duplicated) and extra figures."""
    from activities.models import Call
    from campaigns.models import CampaignMember
    from emails.models import SalesEmail
    from people.models import Person
    from reminders.models import ReminderTask
    from unsubscribes.models import Unsubscribe

    people = {p.pk: p for p in Person.objects.all()}

    def who(person_id: int) -> str:
        person = people[person_id]
        return (person.sfdc_contact_id or person.sfdc_lead_id)[:15]

    sent = list(SalesEmail.objects.exclude(sent_at=None))
    calls = list(Call.objects.all())
    tasks = list(ReminderTask.objects.all())
    members = list(CampaignMember.objects.select_related("campaign"))

    # Salesforce Tasks: by who and description (every record the soak makes has its own text).
    sf_expected: dict[tuple, str] = {}
    sf_counts: Counter = Counter()
    for kind, person_id, description in (
            [("call", c.person_id, c.notes) for c in calls]
            + [("reminder task", t.person_id, t.details) for t in tasks]
            + [("email", e.person_id, e.body) for e in sent]):
        key = (who(person_id), description.replace("\r\n", "\n").strip())
        sf_expected[key] = kind
        sf_counts[key] += 1
    stored = [t for t in salesforce.control("GET", "records/Task")["records"]
              if not t.get("IsDeleted") and t["CreatedDate"] >= since.strftime("%Y-%m-%dT%H:%M:%S")]
    sf_remote = Counter(((t.get("WhoId") or "")[:15],
                         (t.get("Description") or "").replace("\r\n", "\n").strip())
                        for t in stored)
    sf_table = compare(sf_expected, sf_counts, sf_remote, ["call", "reminder task", "email"])
    by_key = defaultdict(list)
    for task in stored:
        by_key[((task.get("WhoId") or "")[:15],
                (task.get("Description") or "").replace("\r\n", "\n").strip())].append(task)
    completion_lost = sum(
        1 for t in tasks if t.status == "complete"
        and not any(r["Status"] == "Completed" for r in
                    by_key.get((who(t.person_id), t.details.strip()), [])))

    # Marketo custom activities: by type, lead, moment (to the second) and primary value.
    types = marketo_types(marketo_url)
    mk_expected: dict[tuple, str] = {}
    mk_counts: Counter = Counter()
    for kind, type_name, person_id, moment, primary in (
            [("call", "receivedSalesCall", c.person_id, c.called_at, c.outcome or "Call")
             for c in calls]
            + [("email", "sendSalesEmail", e.person_id, e.sent_at, e.subject[:255])
               for e in sent]
            + [("campaign added", "addToSalesCampaign", m.person_id, m.added_at,
                m.campaign.name) for m in members]
            + [("campaign removed", "removedFromSalesCampaign", m.person_id, m.ended_at,
                m.campaign.name) for m in members if m.ended_at]):
        key = (type_name, people[person_id].marketo_id, second(moment.isoformat()), primary)
        mk_expected[key] = kind
        mk_counts[key] += 1
    activities = marketo.control("GET", "custom-activities")["result"]
    mk_remote = Counter((types.get(a["activityTypeId"], str(a["activityTypeId"])), a["leadId"],
                         second(a["activityDate"]), a.get("primaryAttributeValue"))
                        for a in activities)
    mk_table = compare(mk_expected, mk_counts, mk_remote,
                       ["call", "email", "campaign added", "campaign removed"])

    # Unsubscribes: the opt-out on the person's contact, else lead (an update: there is no
    # second copy to count, only whether it is there).
    opted_out = set()
    for type_name in ("Contact", "Lead"):
        for record in salesforce.control("GET", f"records/{type_name}")["records"]:
            if record.get("HasOptedOutOfEmail"):
                opted_out.add(record["Id"][:15])
    in_force = list(Unsubscribe.objects.filter(removed_at=None).exclude(person=None))
    unsub_lost = sum(1 for u in in_force if who(u.person_id) not in opted_out)

    # The SMTP sink: every sent email once, nothing else.
    captured = requests.get(f"{mail_url}/api/messages", timeout=60).json()
    at_sink = Counter(m["message_id"].strip("<>") for m in captured)
    app_ids = {e.message_id.strip("<>") for e in sent}
    all_ids = {m.strip("<>"): s for m, s in SalesEmail.objects.values_list("message_id", "status")}
    smtp = {"messages": len(captured), "sent here": len(app_ids),
            "lost": len(app_ids - set(at_sink)),
            "duplicated": sum(n - 1 for n in at_sink.values() if n > 1),
            "left without being recorded sent": sum(1 for m in at_sink if m not in app_ids),
            "of which failed 'outcome unknown'": sum(
                1 for m in at_sink if m not in app_ids and all_ids.get(m) == "failed")}

    rows = []
    for kind in ("call", "reminder task", "email", "(no record here)"):
        if kind in sf_table:
            rows.append((kind, "Salesforce Task", *sf_table[kind]))
    rows.append(("reminder task completed", "Salesforce Task status",
                 sum(1 for t in tasks if t.status == "complete"), completion_lost, None))
    rows.append(("unsubscribe", "Salesforce opt-out", len(in_force), unsub_lost, None))
    for kind in ("call", "email", "campaign added", "campaign removed", "(no record here)"):
        if kind in mk_table:
            rows.append((kind, "Marketo activity", *mk_table[kind]))
    rows.append(("email", "SMTP sink (Message-ID)", smtp["sent here"], smtp["lost"],
                 smtp["duplicated"]))
    return rows, smtp


def deliveries_summary() -> list[tuple]:
    from django.db.models import Count, Sum

    from syncing.models import Delivery, DeliveryAttempt

    rows = []
    for row in (Delivery.objects.values("kind", "target").order_by("kind", "target")
                .annotate(n=Count("id"), attempts=Sum("attempts"))):
        statuses = Counter(dict(Delivery.objects.filter(kind=row["kind"], target=row["target"])
                                .values_list("status").annotate(Count("id"))))
        rows.append((row["kind"], row["target"], row["n"], row["attempts"] or 0,
                     statuses.get("delivered", 0), statuses.get("skipped", 0),
                     statuses.get("failed", 0),
                     statuses.get("pending", 0) + statuses.get("in_progress", 0)))
    outcomes = Counter(dict(DeliveryAttempt.objects.values_list("outcome")
                            .annotate(Count("id"))))
    return rows, outcomes


def print_table(title: str, header: tuple, rows: list[tuple]) -> None:
    cells = [[str("-" if v is None else v) for v in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def main() -> int:  # noqa: C901, PLR0915 (one run, told in order)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--sellers", type=int, default=20)
    parser.add_argument("--rate", type=float, default=4.0,
                        help="seller actions per second, all sellers together (default 4)")
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--database", default="h_soak_run")
    parser.add_argument("--drain-minutes", type=float, default=15,
                        help="how long to wait for the queues to drain after the load")
    parser.add_argument("--web-workers", type=int, default=3)
    args = parser.parse_args()

    site = Site("soak", args.database, WEB_CONCURRENCY=str(args.web_workers))
    started_wall, logs, env = site.started, site.logs, site.env
    from django.db import connection

    sandboxes, mail = site.remotes_start(args.leads)
    base_url, marketo_url, mail_url = site.base_url, site.marketo_url, site.mail_url
    salesforce_url = site.salesforce_url
    marketo, salesforce = Sandbox(marketo_url), Sandbox(salesforce_url)
    stack = None
    stats = Stats()
    stop = threading.Event()
    try:
        site.remotes_wait()
        stack = Stack(env, logs, site.redis_port)
        tokens, people, unsubscribe_pool = setup(marketo_url, salesforce_url, args.leads,
                                                 args.sellers)
        connection.close()
        stack.app_start(site.web_port)
        wait_for_url(f"{base_url}/healthz", "gunicorn", 60)
        campaigns = [campaign_create(base_url, token, n) for n, token in enumerate(tokens)]
        for sandbox in (marketo, salesforce):
            sandbox.control("DELETE", "counters")
        for system, kind, options in FAULTS:
            (marketo if system == "marketo" else salesforce).control(
                "POST", "faults", {"kind": kind, **options})

        seconds = args.minutes * 60
        interval = args.sellers / args.rate
        print(f"Soak: {args.minutes:g} min, {args.sellers} sellers, {args.rate:g} actions/s in "
              f"all (each seller one every {interval:.1f} s on average): "
              + ", ".join(f"{name} {weight}%" for name, weight in ACTIONS.items())
              + f"; logs in {logs.relative_to(ROOT)}", flush=True)
        called_base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
        sellers = [Seller(n, token, campaigns[n], base_url, people, unsubscribe_pool, interval,
                          stats, stop, called_base) for n, token in enumerate(tokens)]
        load_started = time.monotonic()
        for seller in sellers:
            seller.start()

        kill_every = min(120.0, seconds / 2)
        schedule = [(at, "kill") for at in
                    [kill_every * k for k in range(1, int(seconds // kill_every) + 1)]
                    if at < seconds]
        schedule += [(seconds * 0.45, "redis"), (seconds * 0.7, "postgres")]
        schedule += [(at, "revoke") for at in range(REVOKE_EVERY, int(seconds), REVOKE_EVERY)]
        schedule.sort()
        kills = 0
        for at, what in schedule:
            while time.monotonic() - load_started < at:
                stack.check()
                time.sleep(0.5)
            elapsed = time.monotonic() - load_started
            if what == "kill":
                stack.worker_kill(kills)
                kills += 1
            elif what == "redis":
                stack.redis_restart()
            elif what == "postgres":
                stack.postgres_cut(args.database)
            else:
                salesforce.control("POST", "tokens/revoke")
                stack.injected["Salesforce session revoked"] += 1
            print(f"  {elapsed:5.0f} s  {what}: {len(stats.answers):,} requests so far",
                  flush=True)
        while time.monotonic() - load_started < seconds:
            stack.check()
            time.sleep(0.5)
        stop.set()
        for seller in sellers:
            seller.join(timeout=90)
        load_seconds = time.monotonic() - load_started

        # Faults off; the workers drain the queues (retries at their own backoff).
        injected = {"Marketo": marketo.control("GET", "faults")["injected"],
                    "Salesforce": salesforce.control("GET", "faults")["injected"]}
        for sandbox in (marketo, salesforce):
            sandbox.control("DELETE", "faults")
        print(f"  {load_seconds:5.0f} s  load stopped, faults off; draining", flush=True)
        drain_started = time.monotonic()
        left = unsettled()
        reported = 0.0
        while any(left.values()) and time.monotonic() - drain_started < args.drain_minutes * 60:
            stack.check()
            time.sleep(5)
            left = unsettled()
            if time.monotonic() - reported > 60:
                reported = time.monotonic()
                print(f"  draining: {left}", flush=True)
        drain_seconds = time.monotonic() - drain_started
        time.sleep(2)  # the last answers recorded
        rows, smtp = verify(salesforce, marketo, marketo_url, mail_url, started_wall)
        deliveries, outcomes = deliveries_summary()
        sf_calls = salesforce.control("GET", "counters")["total"]
        mk_calls = marketo.control("GET", "counters")["total"]
    finally:
        stop.set()
        if stack:
            stack.stop()
        mail.stop()
        sandboxes.stop()

    created = Counter()
    for seller in sellers:
        created.update(seller.created)
    answers = stats.answers
    total = len(answers)
    errors = sum(stats.unexpected.values())
    expected_4xx = sum(1 for _, status, _ in answers if 400 <= status < 500) - sum(
        n for (_, status, _), n in stats.unexpected.items() if 400 <= status < 500)
    latencies = [ms for _, _, ms in answers]
    print(f"\nSoak {args.minutes:g} min at {started_wall:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} "
          f"CPUs (load average at the end {os.getloadavg()[0]:.1f}); drain {drain_seconds:.0f} s")
    print(f"Requests served: {total:,} in {load_seconds:.0f} s ({total / load_seconds:.1f}/s); "
          f"p50 {percentile(latencies, 0.5):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
          f"p99 {percentile(latencies, 0.99):.0f} ms")
    by_action = defaultdict(list)
    for action, _, ms in answers:
        by_action[action].append(ms)
    print_table("Latency by action (ms)", ("action", "requests", "p50", "p95", "p99"),
                [(a, len(v), f"{percentile(v, .5):.0f}", f"{percentile(v, .95):.0f}",
                  f"{percentile(v, .99):.0f}") for a, v in sorted(by_action.items())])
    budget = (1 - SLO) * total
    print(f"\nError budget ({SLO:.1%} of requests answered as expected): {errors} errors of "
          f"{budget:.0f} allowed = {errors / budget if budget else 0:.0%} spent; "
          f"expected refusals (400: address unsubscribed) {expected_4xx}")
    for (action, status, detail), n in stats.unexpected.most_common(10):
        print(f"  {n} x {action} -> {status or 'no answer'} {detail}")
    print_table("Records created through the API", ("kind", "records"),
                sorted(created.items()))
    print_table("Deliveries", ("kind", "target", "deliveries", "attempts", "delivered",
                               "skipped", "failed", "unsettled"), deliveries)
    print("  attempts by outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
          + f"; API calls counted by the sandboxes: Salesforce {sf_calls:,}, Marketo "
            f"{mk_calls:,}")
    fault_rows = [(f"Marketo {k}", v) for k, v in sorted(injected["Marketo"].items())]
    fault_rows += [(f"Salesforce {k}", v) for k, v in sorted(injected["Salesforce"].items())]
    fault_rows += sorted(stack.injected.items())
    print_table("Faults injected", ("fault", "times"), fault_rows)
    if stack.exits:
        print("  app processes that exited by themselves (started again): "
              + ", ".join(f"{name} {n}" for name, n in stack.exits.items()))
    print_table("Exactly once, counted in the remote stores",
                ("kind", "where", "records", "lost", "duplicated"), rows)
    unknown = smtp["of which failed 'outcome unknown'"]
    print(f"  SMTP sink: {smtp['messages']} messages; "
          f"{smtp['left without being recorded sent']} left without the app recording them sent "
          f"({unknown} failed 'outcome unknown': the crash rule never resends those)")
    print("  unsettled at the end: " + ", ".join(f"{k} {v}" for k, v in left.items()))
    bad = sum((row[3] or 0) + (row[4] or 0) for row in rows) + sum(left.values())
    print(f"\n{'FAIL' if bad else 'OK'}: lost + duplicated + unsettled = {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
