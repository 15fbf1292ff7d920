"""People list and person page benchmark at a million people (issue 4).

    python bench/people_api.py                          # 1,000,000 people, 10 s per scenario
    python bench/people_api.py --people 100000 --seconds 5
    python bench/people_api.py --no-list-cache          # every request reads the database

Loads the seed people into a PostgreSQL database of its own (once: later runs reuse it), starts
gunicorn with gunicorn.conf.py (the production settings) on a loopback port and drives it with
wrk at 20 concurrent connections, each sending its next request as soon as the last one is
answered. Prints p50/p95/p99 and requests/s
for the people API and page (first page, a search, a filter, the last page) and for person pages
(random people, without the Marketo panel, which loads separately).

Needs PostgreSQL and Redis on localhost (as in CI) and wrk (``apt-get install -y wrk``).
Gunicorn serves this module's ``application``: the app itself, with the API's per-user throttle
rates raised (one bench user stands in for twenty clients; throttling still runs).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from common import ROOT, app_env, database_url, free_port, wait_for_url

LOAD_BATCH = 5000
SELLER = ("ava", "ava.stone@example.com")
REDIS_URL = "redis://127.0.0.1:6379/9"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000,
                        help="seed leads to load (about 80%% have an owner and become people)")
    parser.add_argument("--database", default="salesactions_bench_people")
    parser.add_argument("--seconds", type=int, default=10, help="measured time per scenario")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn worker processes (default: gunicorn.conf.py's, 2 per "
                             "core + 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per gunicorn worker (more than 1: the gthread worker)")
    parser.add_argument("--no-list-cache", action="store_true",
                        help="turn the people list cache off (PEOPLE_LIST_CACHE_SECONDS=0): "
                             "every request reads the database")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")

    url = database_url(args.database)
    os.environ.update(app_env(url, REDIS_URL=REDIS_URL))
    import django

    django.setup()
    people_load(args.people)
    token, session = bench_credentials()

    port = free_port()
    server_env = app_env(url, REDIS_URL=REDIS_URL, DEBUG="false", LOG_LEVEL="ERROR",
                         GUNICORN_THREADS=str(args.threads),
                         PEOPLE_LIST_CACHE_SECONDS="0" if args.no_list_cache else "300")
    if args.workers:
        server_env["WEB_CONCURRENCY"] = str(args.workers)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config",
         str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "--access-logfile",
         "/dev/null", "--pythonpath", str(ROOT / "bench"), "--chdir", str(ROOT),
         "--log-level", "warning", "people_api:application"], env=server_env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_url(f"{base}/healthz", "gunicorn", seconds=60)
        run_scenarios(base, token, session, args)
    finally:
        server.terminate()
        server.wait(timeout=30)


def people_load(total: int) -> None:
    """Seed leads 1..total stored as the sync stores them, plus an unsubscribe for each seed
    lead marked unsubscribed. Resumes where an earlier load stopped; the list indexes are
    dropped while loading and built once at the end (far faster than maintaining them)."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Max

    from people.models import Person
    from people.services import person_apply_leads
    from sandbox import seed

    # The last lead with an owner: leads without one are not stored.
    last_person = next(i for i in range(total, 0, -1) if seed.lead(i, 1, total)["sfdcLeadOwnerId"])
    loaded = Person.objects.aggregate(last=Max("marketo_id"))["last"] or 0
    if loaded >= last_person:
        print(f"{Person.workspace.count():,} people already loaded")
        return
    call_command("migrate", "people", "0001", verbosity=0)
    started = time.monotonic()
    for start in range(loaded + 1, total + 1, LOAD_BATCH):
        leads = [seed.lead(i, 1, total) for i in range(start, min(start + LOAD_BATCH, total + 1))]
        person_apply_leads(leads)
        unsubscribed = [lead["id"] for lead in leads
                        if lead["unsubscribed"] and lead["sfdcLeadOwnerId"]]
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO unsubscribes_unsubscribe (person_id, email, source, created_at, "
                "removed_reason) SELECT id, email, 'link', now(), '' FROM people_person "
                "WHERE marketo_id = ANY(%s)", [unsubscribed])
        done = start + len(leads) - 1
        print(f"\rloaded {done:,} of {total:,} leads "
              f"({done / (time.monotonic() - started):,.0f}/s)", end="", flush=True)
    print("\nbuilding the list indexes…", flush=True)
    # Every app: stepping people back to 0001 also unapplied the apps that depend on it.
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE people_person")
        cursor.execute("VACUUM ANALYZE unsubscribes_unsubscribe")
    print(f"{Person.workspace.count():,} people in {time.monotonic() - started:,.0f} s")


def bench_credentials() -> tuple[str, str]:
    """An API token and a session cookie for a seller who owns about 1/8 of the people."""
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    user, _ = User.objects.get_or_create(username=SELLER[0], defaults={
        "email": SELLER[1], "first_name": "Ava", "last_name": "Stone"})
    token, _ = Token.objects.get_or_create(user=user)
    client = Client()
    client.force_login(user)
    return token.key, client.cookies["sessionid"].value


def application(environ, start_response):
    """The app as gunicorn serves it for the bench (see the module docstring)."""
    global _application
    if _application is None:
        _application = _bench_application()
    return _application(environ, start_response)


_application = None


def _bench_application():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesactions.settings")
    from django.core.wsgi import get_wsgi_application
    from django.test.utils import override_settings

    app = get_wsgi_application()
    from django.conf import settings

    override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
            "user": "10000000/min", "anon": "10000000/min", "marketo_activities": "10000000/min"}},
        # DEBUG is off; the pages need {% static %} to work without a collectstatic manifest.
        STORAGES={**settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}},
    ).enable()
    return app


def run_scenarios(base: str, token: str, session: str, args) -> None:
    from people.models import Person

    api = {"Authorization": f"Token {token}"}
    page = {"Cookie": f"sessionid={session}"}
    first = requests.get(f"{base}/people/?owner=all", headers=page, timeout=30)
    last_cursor = re.search(r'cursor=([^"&]+)"[^>]*>Last', first.text).group(1)
    low, high = (Person.workspace.order_by(order).values_list("pk", flat=True).first()
                 for order in ("pk", "-pk"))
    scenarios = [
        ("API list, first page", "/api/v1/people/", api),
        ("API search 'smith'", "/api/v1/people/?search=smith", api),
        ("API filter company", "/api/v1/people/?company=Globex", api),
        ("API last page (keyset)", f"/api/v1/people/?cursor={last_cursor}", api),
        ("page: my people, first", "/people/", page),
        ("page search 'smith'", "/people/?owner=all&search=smith", page),
        ("page filter company", "/people/?owner=all&company=Globex", page),
        ("page last page (keyset)", f"/people/?owner=all&cursor={last_cursor}", page),
        ("person page (random)", None, page),
    ]
    workers = args.workers or f"{os.cpu_count() * 2 + 1} (gunicorn.conf.py)"
    cache = "off" if args.no_list_cache else "on"
    print(f"\n{args.clients} connections, {workers} gunicorn workers x {args.threads} "
          f"thread(s), people list cache {cache}, {args.seconds} s each (after 2 s of "
          f"warm-up); latency in ms\n")
    print(f"{'scenario':<26}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>9}")
    failed = False
    for name, path, headers in scenarios:
        check = requests.get(base + (path or f"/people/{low}/"), headers=headers, timeout=30)
        if check.status_code != 200 or (path and "cursor" in path and "Next" in check.text):
            sys.exit(f"{name}: unexpected answer {check.status_code}")
        wrk(base, path, headers, low, high, args.clients, 2)
        result = wrk(base, path, headers, low, high, args.clients, args.seconds)
        print(f"{name:<26}{result['p50']:>8.1f}{result['p95']:>8.1f}{result['p99']:>8.1f}"
              f"{result['rps']:>9.0f}" + ("  ERRORS: " + str(result["errors"])
                                          if result["errors"] else ""))
        failed |= bool(result["errors"])
    if failed:
        sys.exit("some requests failed")


WRK_SCRIPT = """
{headers}
{request}
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
                 + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
           latency:percentile(50), latency:percentile(95), latency:percentile(99), errors))
end
"""


def wrk(base: str, path: str | None, headers: dict, low: int, high: int, clients: int,
        seconds: int) -> dict:
    """One wrk run; ``path`` None requests random person pages."""
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    request = ("" if path else
               f'request = function()\n  return wrk.format("GET", "/people/" .. '
               f'math.random({low}, {high}) .. "/")\nend')
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT.format(headers=header_lines, request=request))
        script.flush()
        output = subprocess.run(
            ["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds}s",
             "--timeout", "10s", "-s", script.name, base + (path or "/")],
            capture_output=True, text=True, check=True).stdout
    requests_done, duration, p50, p95, p99, errors = map(
        int, re.search(r"RESULT (.*)", output).group(1).split())
    return {"p50": p50 / 1000, "p95": p95 / 1000, "p99": p99 / 1000, "errors": errors,
            "rps": requests_done / (duration / 1_000_000)}


if __name__ == "__main__":
    main()
