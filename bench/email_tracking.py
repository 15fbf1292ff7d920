"""Open pixel and click redirect under load (issue 13): p50/p95/p99 at 50 concurrent clients.

    python bench/email_tracking.py                       # 50 clients, 10 s per scenario
    python bench/email_tracking.py --clients 50 --seconds 20 --threads 4

Starts gunicorn with gunicorn.conf.py (the production settings: ``salesactions.wsgi``, with
the tracking fast path in front of Django) on a loopback port, with Redis, and drives it with
wrk: each connection sends its next request as soon as the last one is answered, each request
a random one of ``--emails`` sales emails (its signed pixel or click URL). Prints p50/p95/p99
and requests/s for the pixel and the redirect, then flushes the Redis buffer into PostgreSQL
the way beat's tick does and prints how many hits were buffered, how many events were
recorded and how fast the flush went.

Needs PostgreSQL and Redis on localhost and wrk (``apt-get install -y wrk``; the script
installs nothing). Uses the database ``salesactions_bench_email_tracking`` and Redis
``--redis`` (default ``$REDIS_URL``, else db 9).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

import requests
from common import app_env, database_url, gunicorn

EMAILS = 1000
CLICK_URL = "https://www.example.com/pricing?utm_source=sales&plan=team#compare"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="salesactions_bench_email_tracking")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL",
                                                          "redis://127.0.0.1:6379/9"))
    parser.add_argument("--seconds", type=int, default=10, help="measured time per scenario")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--emails", type=int, default=EMAILS)
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn worker processes (default: gunicorn.conf.py's, 2 per "
                             "core + 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per gunicorn worker (default: gunicorn.conf.py's, 1; "
                             "more than 1: the gthread worker, which keeps connections alive)")
    parser.add_argument("--baseline", action="store_true",
                        help="first measure a WSGI app that only answers 200 (same gunicorn "
                             "settings and paths): the floor this machine allows right now")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")

    url = database_url(args.database)
    os.environ.update(app_env(url, REDIS_URL=args.redis))
    import django

    django.setup()
    pixels, clicks = emails_prepare(args.emails)
    buffer_clear()

    server_env = app_env(url, REDIS_URL=args.redis, DEBUG="false", LOG_LEVEL="ERROR")
    if args.workers:
        server_env["WEB_CONCURRENCY"] = str(args.workers)
    if args.threads:
        server_env["GUNICORN_THREADS"] = str(args.threads)
    if args.baseline:
        with gunicorn(server_env, "email_tracking:baseline") as base:
            result = wrk(base, pixels, args.clients, args.seconds)
            print(f"\nbaseline (a WSGI app answering 200 at once): p50 {result['p50']:.1f}, "
                  f"p95 {result['p95']:.1f}, p99 {result['p99']:.1f} ms, "
                  f"{result['rps']:,.0f} req/s")
    with gunicorn(server_env, "salesactions.wsgi") as base:
        run_scenarios(base, pixels, clicks, args)
    flush_and_report()


def baseline(environ, start_response):
    """The floor: answers at once, no Django, no signature, no Redis."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def emails_prepare(count: int) -> tuple[list[str], list[str]]:
    """``count`` sent sales emails (made once, reused), and their pixel and click paths."""
    from django.db import transaction

    from accounts.models import User
    from emails.models import SalesEmail
    from emails.tokens import click_token, email_token
    from people.models import Person
    from people.services import person_apply_leads
    from sandbox import seed

    seller, _ = User.objects.get_or_create(username="bench-seller", defaults={
        "email": "bench.seller@example.com", "first_name": "Bench", "last_name": "Seller"})
    have = SalesEmail.objects.count()
    if have < count:
        person_apply_leads([seed.lead(i, 1, 100) for i in range(1, 101)])
        people = list(Person.objects.exclude(email="")[:50])
        with transaction.atomic():
            for number in range(have, count):
                person = people[number % len(people)]
                SalesEmail.objects.create(
                    person=person, sender=seller, to_email=person.email,
                    subject=f"Bench email {number}", body="Hello", status="sent")
    ids = list(SalesEmail.objects.order_by("pk").values_list("pk", flat=True)[:count])
    pixels = [f"/e/o/{email_token(pk, 'open')}.gif" for pk in ids]
    clicks = [f"/e/c/{click_token(pk, CLICK_URL)}/" for pk in ids]
    return pixels, clicks


def buffer_clear() -> None:
    from emails.models import EmailEvent
    from emails.tracking_buffer import _redis, buffer_key

    _redis().delete(buffer_key())
    EmailEvent.objects.filter(source="tracking").delete()


def run_scenarios(base: str, pixels: list[str], clicks: list[str], args) -> None:
    check = requests.get(base + pixels[0], timeout=10)
    if check.status_code != 200 or check.headers["Content-Type"] != "image/gif":
        sys.exit(f"pixel: unexpected answer {check.status_code}")
    check = requests.get(base + clicks[0], timeout=10, allow_redirects=False)
    if check.status_code != 302 or check.headers["Location"] != CLICK_URL:
        sys.exit(f"click: unexpected answer {check.status_code} {check.headers}")
    workers = args.workers or f"{os.cpu_count() * 2 + 1} (gunicorn.conf.py)"
    print(f"\n{args.clients} connections, {workers} gunicorn workers x {args.threads or 1} "
          f"thread(s), {len(pixels)} emails, {args.seconds} s each (after 2 s of warm-up); "
          f"latency in ms\n")
    print(f"{'scenario':<18}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>9}{'requests':>10}")
    failed = False
    for name, paths in (("open pixel", pixels), ("click redirect", clicks)):
        wrk(base, paths, args.clients, 2)
        result = wrk(base, paths, args.clients, args.seconds)
        print(f"{name:<18}{result['p50']:>8.1f}{result['p95']:>8.1f}{result['p99']:>8.1f}"
              f"{result['rps']:>9.0f}{result['requests']:>10,}"
              + ("  ERRORS: " + str(result["errors"]) if result["errors"] else ""))
        failed |= bool(result["errors"])
    if failed:
        sys.exit("some requests failed")


def flush_and_report() -> None:
    from emails.models import EmailEvent
    from emails.tracking_buffer import _redis, buffer_key, buffered, tracking_events_flush
    from emails.tracking_hits import Hit

    waiting = buffered()
    keys = {(hit.kind, hit.email_id, hit.at_us) for hit in
            map(Hit.parse, _redis().lrange(buffer_key(), 0, -1))}
    started = time.monotonic()
    report = tracking_events_flush()
    elapsed = time.monotonic() - started
    stored = EmailEvent.objects.filter(source="tracking").count()
    print(f"\nbuffered hits {waiting:,}; flush: {report.recorded:,} events recorded in "
          f"{elapsed:.1f} s ({report.recorded / max(elapsed, 1e-9):,.0f} events/s); "
          f"tracking events in the database: {stored:,}; hits sharing email, kind and "
          f"microsecond with another (stored once): {waiting - len(keys):,}")


WRK_SCRIPT = """
paths = {{{paths}}}
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
                 + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
           latency:percentile(50), latency:percentile(95), latency:percentile(99), errors))
end
"""


def wrk(base: str, paths: list[str], clients: int, seconds: int) -> dict:
    shuffled = random.sample(paths, len(paths))
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT.format(paths=",".join(f'"{p}"' for p in shuffled)))
        script.flush()
        output = subprocess.run(
            ["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds}s", "--timeout", "10s",
             "-s", script.name, base + "/"],
            capture_output=True, text=True, check=True).stdout
    requests_done, duration, p50, p95, p99, errors = map(
        int, re.search(r"RESULT (.*)", output).group(1).split())
    return {"p50": p50 / 1000, "p95": p95 / 1000, "p99": p99 / 1000, "errors": errors,
            "requests": requests_done, "rps": requests_done / (duration / 1_000_000)}


if __name__ == "__main__":
    main()
