"""Task queue page latency for a seller with 5,000 reminder tasks (issue 11).

    python bench/reminder_queue.py                       # 5,000 tasks, 300 requests
    python bench/reminder_queue.py --tasks 20000 --requests 500

Stores 2,000 seed people and a seller with ``--tasks`` tasks spread over the queue's sections
(overdue, today, tomorrow, upcoming, completed) in a PostgreSQL database of its own, starts
gunicorn with gunicorn.conf.py (production settings, DEBUG off) on a loopback port, and sends
the queue page one request at a time (after a warm-up), then with a type filter. Prints
p50/p95/p99 and the slowest. Needs PostgreSQL and Redis on localhost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import requests
from common import ROOT, app_env, database_url, free_port, wait_for_url

SELLER = ("ava", "ava.stone@example.com")
REDIS_URL = "redis://127.0.0.1:6379/9"
PEOPLE = 2000


def tasks_load(total: int):
    """The seller, the seed people and ``total`` tasks (replacing earlier ones)."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from people.models import Person
    from people.services import person_apply_leads
    from reminders.models import ReminderTask
    from sandbox import seed

    if Person.objects.count() < PEOPLE // 2:
        person_apply_leads(seed.lead(i, 1, PEOPLE) for i in range(1, PEOPLE + 1))
    user, _ = User.objects.get_or_create(username=SELLER[0], defaults={
        "email": SELLER[1], "first_name": "Ava", "last_name": "Stone"})
    ReminderTask.objects.all().delete()
    people = list(Person.workspace.values_list("pk", flat=True))
    today = timezone.localdate()
    now = timezone.now()
    tasks = []
    for n in range(total):
        # A fifth each: overdue (a month back), completed, upcoming; the rest today/tomorrow.
        bucket = n % 10
        offset = {0: -30, 1: -5, 2: -1, 3: 0, 4: 1, 5: 3, 6: 14, 7: 60}.get(bucket, -2)
        done = bucket >= 8
        tasks.append(ReminderTask(
            person_id=people[n % len(people)], assignee=user, created_by=user,
            type=("call", "email", "inmail", "custom")[n % 4], name=f"Bench task {n}",
            due_date=today + timedelta(days=offset - n % 7),
            status="complete" if done else "open", completed_at=now if done else None,
            priority="high" if n % 5 == 0 else "normal", details="Details " * 5))
    ReminderTask.objects.bulk_create(tasks, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reminders_remindertask")
    return user


def session_for(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def measure(base: str, cookie: str, path: str, count: int) -> list[float]:
    http = requests.Session()
    http.cookies.set("sessionid", cookie)
    for _ in range(10):  # warm-up: every gunicorn worker, the caches
        assert http.get(base + path, timeout=30).status_code == 200
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = http.get(base + path, timeout=30)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and "Overdue" in response.text
    return timings


def report(label: str, timings: list[float]) -> None:
    q = statistics.quantiles(timings, n=100)
    print(f"{label:<28} n={len(timings)}  p50 {q[49]:6.1f} ms  p95 {q[94]:6.1f} ms  "
          f"p99 {q[98]:6.1f} ms  max {max(timings):6.1f} ms")


_application = None


def application(environ, start_response):
    """The app as gunicorn serves it here: production settings, with {% static %} working
    without a collectstatic manifest."""
    global _application
    if _application is None:
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application
        from django.test.utils import override_settings

        _application = get_wsgi_application()
        override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}).enable()
    return _application(environ, start_response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database", default="salesactions_bench_reminders")
    args = parser.parse_args()

    url = database_url(args.database)
    os.environ.update(app_env(url, REDIS_URL=REDIS_URL))
    import django

    django.setup()
    user = tasks_load(args.tasks)
    cookie = session_for(user)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config",
         str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "--access-logfile",
         "/dev/null", "--pythonpath", str(ROOT / "bench"), "--chdir", str(ROOT),
         "--log-level", "warning", "reminder_queue:application"],
        env=app_env(url, REDIS_URL=REDIS_URL, DEBUG="false", LOG_LEVEL="ERROR"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_url(f"{base}/healthz", "gunicorn", seconds=60)
        print(f"queue page of a seller with {args.tasks:,} tasks (one request at a time)")
        report("/tasks/", measure(base, cookie, "/tasks/", args.requests))
        report("/tasks/?type=call", measure(base, cookie, "/tasks/?type=call", args.requests))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
