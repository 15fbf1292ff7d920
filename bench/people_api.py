"""People list and person page benchmark at a million people (issue 4).

    python bench/people_api.py                          # 1,000,000 people, 10 s per scenario
    python bench/people_api.py --people 100000 --seconds 5
    python bench/people_api.py --no-list-cache          # every request reads the database
    python bench/people_api.py --together               # each scenario beside the trivial request

Loads the seed people into a PostgreSQL database of its own (once: later runs reuse it), starts
gunicorn with gunicorn.conf.py (the production settings) on a loopback port and drives it with
wrk at 20 concurrent connections, each sending its next request as soon as the last one is
answered. Prints p50/p95/p99 and requests/s
for the people API and page (first page, a search, a filter, the last page) and for person pages
(random people, without the Marketo panel, which loads separately).

``x trivial`` is a scenario's p95 over the trivial request's p95. Alone (the default) each
scenario has the 20 connections to itself, so on 2 cores the ratio is the two requests' CPU
times over each other. ``--together`` measures it in one run, as clients of a real install
mix their requests: half the connections ask the scenario while the other half ask the
trivial request, and each kind's percentiles are its own.

Needs PostgreSQL and Redis on localhost (as in CI) and wrk (``apt-get install -y wrk``).
Gunicorn serves this module's ``application``: the app itself, with the API's per-user throttle
rates raised (one bench user stands in for twenty clients; throttling still runs).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import requests
from common import ROOT, app_env, database_url, gunicorn, people_list_indexes

LOAD_BATCH = 5000
SELLER = ("ava", "ava.stone@example.com")
REDIS_URL = "redis://127.0.0.1:6379/9"
# The queue the bench's own Celery worker serves (the people API's background counts).
QUEUE = "bench-people-api"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000,
                        help="seed leads to load (about 80%% have an owner and become people)")
    parser.add_argument("--database", default=None,
                        help="default: salesactions_bench_people, or "
                             "salesactions_bench_people_gen_<N> with --generate")
    parser.add_argument("--generate", action="store_true",
                        help="make exactly N people with PostgreSQL itself (INSERT ... SELECT "
                             "generate_series, the seed's names, companies and shares), not "
                             "through the sync's code: minutes for 10,000,000 instead of hours")
    parser.add_argument("--seconds", type=int, default=10, help="measured time per scenario")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn worker processes (default: gunicorn.conf.py's, 2 per "
                             "core + 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per gunicorn worker (more than 1: the gthread worker)")
    parser.add_argument("--api-only", action="store_true",
                        help="only the API scenarios (not the people page and person pages)")
    parser.add_argument("--no-page-cache", action="store_true",
                        help="build every list page from the database but keep the exact "
                             "counts per version of the people data (the cold cost of a page "
                             "once its list was counted)")
    parser.add_argument("--no-list-cache", action="store_true",
                        help="turn the people list cache off (PEOPLE_LIST_CACHE_SECONDS=0): "
                             "every request reads the database")
    parser.add_argument("--redis-url", default=REDIS_URL,
                        help="the cache and broker (default: %(default)s)")
    parser.add_argument("--together", action="store_true",
                        help="the x-trivial figure from one run: half the connections ask the "
                             "trivial request while the other half ask the scenario, and each "
                             "kind's p95 is its own (as an outside 20-client run mixes them); "
                             "without it, each scenario runs alone and x trivial is the ratio "
                             "of two runs")
    parser.add_argument("--count-times", action="store_true",
                        help="only time the API's exact count of each filter and search in "
                             "this process (best of 3) beside the planner's estimate: what "
                             "PEOPLE_COUNT_INLINE_LIMIT is chosen from")
    parser.add_argument("--page-count-times", action="store_true",
                        help="only time, in this process, a rare search's first page and its "
                             "API count (nothing cached) two ways, alternating: counted by "
                             "the query that reads the page, as the app does, and by a second "
                             "query, as before")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")

    database = args.database or ("salesactions_bench_people" if not args.generate
                                 else f"salesactions_bench_people_gen_{args.people}")
    url = database_url(database)
    os.environ.update(app_env(url, REDIS_URL=args.redis_url))
    import django

    django.setup()
    (people_generate if args.generate else people_load)(args.people)
    if args.count_times:
        count_times()
        return
    if args.page_count_times:
        page_count_times()
        return
    # The bench databases share one Redis database: lists and counts cached for another one
    # (another size) must not be served as this one's.
    from people.list_cache import people_list_changed

    people_list_changed()
    token, session = bench_credentials()

    server_env = app_env(url, REDIS_URL=args.redis_url, DEBUG="false", LOG_LEVEL="ERROR",
                         GUNICORN_THREADS=str(args.threads),
                         PEOPLE_LIST_CACHE_SECONDS="0" if args.no_list_cache else "300",
                         BENCH_NO_PAGE_CACHE="1" if args.no_page_cache else "")
    if args.workers:
        server_env["WEB_CONCURRENCY"] = str(args.workers)
    # The people API hands long counts to a Celery worker (people.tasks): one process, as
    # a small production install runs beside the web server.
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "salesactions", "worker", "-Q", QUEUE,
         "--concurrency", "1", "--pool", "solo", "--without-heartbeat", "--without-gossip",
         "--without-mingle", "--loglevel", "WARNING"],
        env=server_env, cwd=ROOT)
    try:
        with gunicorn(server_env, "people_api:application") as base:
            run_scenarios(base, token, session, args)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


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


def people_generate(total: int) -> None:
    """Exactly ``total`` people made by PostgreSQL from ``generate_series``: the seed's first and
    last names, companies, titles, sources and owners (8 sellers, 1/8 each), its email shape
    (``first.last<i>@domain``), ~1% HTML-looking first names and 3% unsubscribed, chosen by a
    hash of the row number, so every run makes the same rows. In batches of a million rows, the
    list indexes built once after the load (as ``people_load`` does), then vacuumed and
    analyzed. Resumes an interrupted load."""

    from django.core.management import call_command
    from django.db import connection

    from sandbox import seed

    def slugs(names):
        return [seed._ascii_slug(name) for name in names]

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM people_person")
        loaded = cursor.fetchone()[0]
    if loaded >= total:
        print(f"{loaded:,} people already generated")
        return
    call_command("migrate", "people", "0001", verbosity=0)
    started = time.monotonic()
    arrays = {
        "first": seed.FIRST_NAMES, "first_slug": slugs(seed.FIRST_NAMES),
        "last": seed.LAST_NAMES, "last_slug": slugs(seed.LAST_NAMES),
        "html": seed.HTML_NAMES, "company": seed.COMPANIES, "title": seed.TITLES,
        "source": seed.SOURCES, "domain": seed.EMAIL_DOMAINS,
        "owner_email": [owner[3] for owner in seed.OWNERS],
        "owner_first": [owner[1] for owner in seed.OWNERS],
        "owner_last": [owner[2] for owner in seed.OWNERS],
        "owner_sfid": [seed.owner_user_id(owner[0]) for owner in seed.OWNERS],
    }
    # h and h2 are two independent 64-bit hashes of the row number; fields take bits of them
    # as sandbox.seed.lead does. ("%%" is a literal "%" beside the named parameters.)
    insert = """
        INSERT INTO people_person (marketo_id, first_name, last_name, email, company, title,
            phone, linkedin_url, source, sfdc_contact_id, sfdc_lead_id, sfdc_account_id,
            sfdc_opportunity_id, sfdc_owner_id, owner_email, owner_first_name, owner_last_name,
            marketo_created_at, marketo_updated_at, in_workspace, removed_reason, synced_at,
            seen_in_run)
        SELECT i,
            CASE WHEN i %% 97 = 0 THEN (%(html)s::text[])[1 + (i / 97) %% 4] ELSE
                (%(first)s::text[])[1 + f] END,
            CASE WHEN i %% 401 = 0 THEN '' ELSE (%(last)s::text[])[1 + l] END,
            CASE WHEN i %% 211 = 0 THEN '' ELSE (%(first_slug)s::text[])[1 + f] || '.' ||
                (%(last_slug)s::text[])[1 + l] || i || '@' || (%(domain)s::text[])[1 + d] END,
            (%(company)s::text[])[1 + c],
            CASE WHEN i %% 13 = 0 THEN '' ELSE (%(title)s::text[])[1 + t] END,
            CASE WHEN i %% 17 = 0 THEN '' ELSE '+1 415-555-' || lpad((h2 %% 10000)::text, 4, '0')
                END,
            CASE WHEN i %% 7 = 0 THEN '' ELSE 'https://www.linkedin.com/in/' ||
                (%(first_slug)s::text[])[1 + f] || '-' || (%(last_slug)s::text[])[1 + l] ||
                '-' || i END,
            (%(source)s::text[])[1 + s],
            CASE WHEN kind BETWEEN 1 AND 10 THEN '003' || lpad(i::text, 15, '0') ELSE '' END,
            CASE WHEN kind >= 11 THEN '00Q' || lpad(i::text, 15, '0') ELSE '' END,
            CASE WHEN kind BETWEEN 1 AND 10 THEN '001' || lpad((c + 1)::text, 15, '0')
                ELSE '' END,
            CASE WHEN kind BETWEEN 1 AND 10 AND (h2 / 7) %% 5 < 2
                THEN '006' || lpad(i::text, 15, '0') ELSE '' END,
            (%(owner_sfid)s::text[])[1 + o], (%(owner_email)s::text[])[1 + o],
            (%(owner_first)s::text[])[1 + o], (%(owner_last)s::text[])[1 + o],
            created, LEAST(created + (h2 %% 400) * interval '1 day'
                           + ((h2 / 400) %% 86400) * interval '1 second', %(end)s),
            true, '', now(), NULL
        FROM (
            SELECT i, created, h2,
                ((h >> 8) & 65535) %% 40 AS f, ((h >> 24) & 65535) %% 33 AS l,
                ((h >> 40) & 65535) %% 4 AS d, ((h >> 4) & 65535) %% 25 AS c,
                ((h >> 32) & 65535) %% 12 AS t, ((h >> 48) & 65535) %% 6 AS s,
                ((h2 >> 12) & 65535) %% 8 AS o, ((h2 >> 20) & 65535) %% 20 AS kind
            FROM (
                SELECT i, %(start)s + (%(span)s * (i - 1) / %(total)s) * interval '1 second'
                    AS created,
                    hashint8extended(i, 1) AS h, abs(hashint8extended(i, 2) / 2) AS h2
                FROM generate_series(%(from)s::bigint, %(to)s::bigint) AS i
            ) hashed
        ) row_numbers
    """
    span = (seed.SEED_END - seed.SEED_START).total_seconds()
    batch = 1_000_000
    for first in range(loaded + 1, total + 1, batch):
        last = min(first + batch - 1, total)
        with connection.cursor() as cursor:
            cursor.execute(insert, {**arrays, "from": first, "to": last, "total": total,
                                    "start": seed.SEED_START, "end": seed.SEED_END,
                                    "span": span})
        print(f"\rgenerated {last:,} of {total:,} people "
              f"({last / (time.monotonic() - started):,.0f}/s)", end="", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO unsubscribes_unsubscribe (person_id, email, source, created_at,
                removed_reason)
            SELECT id, email, 'link', now(), '' FROM people_person
            WHERE (abs(hashint8extended(marketo_id, 3)) % 100) < 3
            ON CONFLICT DO NOTHING""")
    print("\nbuilding the list indexes…", flush=True)
    # Plain CREATE INDEX with room to sort: the migration's CONCURRENTLY (two table scans,
    # 64 MB) takes far longer on an idle table; the migration then finds them (IF NOT EXISTS).
    indexes = people_list_indexes()
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for name, definition in indexes:
            index_started = time.monotonic()
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON people_person {definition}")
            print(f"  {name}: {time.monotonic() - index_started:,.0f} s", flush=True)
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE people_person")
        cursor.execute("VACUUM ANALYZE unsubscribes_unsubscribe")
    print(f"{total:,} people in {time.monotonic() - started:,.0f} s")


def count_times() -> None:
    """How long the API's exact count of each scenario's filter takes, beside the planner's
    estimate and the matches: the threshold for counting in the background comes from it."""
    from people.selectors import (
        BACKGROUND_COUNT_TIME_LIMIT_MS,
        PersonCriteria,
        _api_count,
        _bare,
        _planner_estimate,
    )

    terms = ["olivia.smith12345", "smith1234", "smith123", "smith12", "olivia smith", "smith1",
             "Smi", "ndersso", "Globex", "akatomi"]
    cases = [{}] + [{"search": term} for term in terms] + [
        {"company": "Globex"}, {"owner_email": SELLER[1]}, {"source": "Webinar"},
        {"unsubscribed": True}]
    print(f"\n{'filter':<36}{'estimate':>11}{'count':>11}{'ms, best of 3':>15}  each run")
    for fields in cases:
        criteria = PersonCriteria(**fields)
        estimate = _planner_estimate(_bare(criteria))
        times, count = [], None
        for _ in range(3):
            started = time.perf_counter()
            # Counted whatever the estimate (under a million), as the worker counts.
            count = _api_count(criteria, estimate=min(estimate, 999_999),
                               time_limit_ms=BACKGROUND_COUNT_TIME_LIMIT_MS * 2)
            times.append((time.perf_counter() - started) * 1000)
            if times[-1] > 10_000:  # one slow count says enough
                break
        label = " ".join(f"{name}={value}" for name, value in fields.items()) or "(none)"
        shown = f"{count.value:,}" + ("" if count.exact else "+")
        print(f"{label:<36}{estimate:>11,}{shown:>11}{min(times):>15,.0f}  "
              + " ".join(f"{t:,.0f}" for t in times) + f"   (load {os.getloadavg()[0]:.1f})",
              flush=True)


def page_count_times(rounds: int = 21) -> None:
    """A rare search's first page and count, as the API makes them with nothing cached: the
    page's query counting the matches it reads anyway, against the count's own second query
    (the page's counting turned off by wrapping the function that reads them)."""
    from django.conf import settings

    from people import selectors

    settings.PEOPLE_LIST_CACHE_SECONDS = 0
    reading = selectors._matches_sorted
    counting_allowed = [True]

    def matches_sorted(people, limit, *, counting=False):
        return reading(people, limit, counting=counting and counting_allowed[0])

    selectors._matches_sorted = matches_sorted
    print(f"\n{'search':<22}{'estimate':>10}{'count':>10}{'two queries':>14}{'one query':>12}"
          "   p50 ms, name order")
    for term in ["smith1234", "smith123", "smith12", "olivia smith", "Smi"]:
        criteria = selectors.PersonCriteria(search=term)
        times = {True: [], False: []}
        counts = {}
        for _ in range(rounds):
            for together in (False, True):
                counting_allowed[0] = together
                started = time.perf_counter()
                page = selectors.person_page(criteria, sort="name")
                count = selectors.person_count(criteria, page, exact_up_to=None)
                times[together].append((time.perf_counter() - started) * 1000)
                counts[together] = count
        assert counts[True] == counts[False] or not counts[False].exact, counts
        shown = f"{counts[True].value:,}" + ("" if counts[True].exact else "~")
        print(f"{term!r:<22}{page.matches_estimate or 0:>10,}{shown:>10}"
              f"{statistics.median(times[False]):>14.1f}{statistics.median(times[True]):>12.1f}"
              f"   (load {os.getloadavg()[0]:.1f})", flush=True)
    selectors._matches_sorted = reading


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

    from salesactions.celery import app as celery_app

    celery_app.conf.task_default_queue = QUEUE  # the bench's own worker serves it

    override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
            "user": "10000000/min", "anon": "10000000/min", "marketo_activities": "10000000/min"}},
        # DEBUG is off; the pages need {% static %} to work without a collectstatic manifest.
        STORAGES={**settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}},
    ).enable()
    if os.environ.get("BENCH_NO_PAGE_CACHE"):
        import people.api
        import people.views

        for module in (people.api, people.views):
            module.people_list_cached = lambda kind, request, build, keep=None: build()
    return app


# The people list at scale (issue 27): the list, its filters, and search by name, email and
# company, by prefix and by substring. Each search term's share of the seed people is noted.
API_SCENARIOS = [
    ("API list, first page", "/api/v1/people/"),
    ("API list, my people", "/api/v1/people/?owner=me"),
    ("API filter company", "/api/v1/people/?company=Globex"),
    ("API sort -updated", "/api/v1/people/?ordering=-updated"),
    ("API search name 'smith'", "/api/v1/people/?search=smith"),          # a last name, 3%
    ("API search name prefix", "/api/v1/people/?search=Smi"),              # 3%
    ("API search name substr", "/api/v1/people/?search=ndersso"),          # 3%
    ("API search full name", "/api/v1/people/?search=olivia%20smith"),     # 0.08%
    ("API search email", "/api/v1/people/?search=olivia.smith12345"),      # a few
    ("API search email substr", "/api/v1/people/?search=smith1234"),       # ~0.01%
    ("API search company", "/api/v1/people/?search=Globex"),               # 4%
    ("API search company substr", "/api/v1/people/?search=akatomi"),       # 4%
]


def run_scenarios(base: str, token: str, session: str, args) -> None:
    from people.models import Person

    api = {"Authorization": f"Token {token}"}
    page = {"Cookie": f"sessionid={session}"}
    first = requests.get(f"{base}/people/?owner=all", headers=page, timeout=120)
    last_cursor = re.search(r'cursor=([^"&]+)"[^>]*>Last', first.text).group(1)
    low, high = (Person.workspace.order_by(order).values_list("pk", flat=True).first()
                 for order in ("pk", "-pk"))
    # The yardstick: an authenticated, throttled API request that reads a few rows.
    scenarios = [("API trivial (call outcomes)", "/api/v1/calls/outcomes/", api)]
    scenarios += [(name, path, api) for name, path in API_SCENARIOS]
    scenarios.append(("API last page (keyset)", f"/api/v1/people/?cursor={last_cursor}", api))
    if not args.api_only:
        scenarios += [
            ("page: my people, first", "/people/", page),
            ("page search 'smith'", "/people/?owner=all&search=smith", page),
            ("page filter company", "/people/?owner=all&company=Globex", page),
            ("page last page (keyset)", f"/people/?owner=all&cursor={last_cursor}", page),
            ("person page (random)", None, page),
        ]
    workers = args.workers or f"{os.cpu_count() * 2 + 1} (gunicorn.conf.py)"
    cache = ("off" if args.no_list_cache else
             "off for pages, on for counts" if args.no_page_cache else "on")
    print(f"\n{Person.workspace.count():,} people; {args.clients} connections, {workers} "
          f"gunicorn workers x {args.threads} thread(s), people list cache {cache}, "
          f"{args.seconds} s each (after 2 s of warm-up); latency in ms; x trivial: p95 over "
          f"the trivial request's p95"
          + (f" in the same run ({args.clients - max(1, args.clients // 2)} connections ask "
             f"the scenario, {max(1, args.clients // 2)} the trivial request)"
             if args.together else "")
          + "; load: 1-minute load average as the scenario starts\n")
    print(f"{'scenario':<30}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>8}{'x trivial':>10}"
          f"{'load':>6}  count")
    # Each worker loads the app on its first request (a second or more): load every one before
    # measuring, or the first scenario's tail is start-up, not service time.
    for _ in range(10 * (args.workers or os.cpu_count() * 2 + 1)):
        requests.get(base + scenarios[0][1], headers=api, timeout=60)
    failed = False
    trivial_p95 = None
    for name, path, headers in scenarios:
        check = requests.get(base + (path or f"/people/{low}/"), headers=headers, timeout=120)
        if check.status_code != 200 or (path and "cursor" in path and "Next" in check.text):
            sys.exit(f"{name}: unexpected answer {check.status_code}")
        count = ""
        if path and path.startswith("/api/v1/people/"):
            count = _count_text(check.json())
            if not args.no_list_cache:
                # A long count is made by the worker after this first answer (the estimate):
                # measure once it is kept, as for every later reader, not while it runs.
                count += _count_made(base + path, api, check.json())
        load = os.getloadavg()[0]
        if args.together and trivial_p95 is not None:
            result, trivial = wrk_together(base, (path, headers), scenarios[0][1:], low, high,
                                           args.clients, args.seconds)
            ratio = result["p95"] / trivial["p95"]
            count += f"  (trivial beside it: p95 {trivial['p95']:.1f}, {trivial['rps']:.0f}/s)"
            result["errors"] += trivial["errors"]
        else:
            wrk(base, path, headers, low, high, args.clients, 2)
            result = wrk(base, path, headers, low, high, args.clients, args.seconds)
            trivial_p95 = trivial_p95 or result["p95"]
            ratio = result["p95"] / trivial_p95
        print(f"{name:<30}{result['p50']:>8.1f}{result['p95']:>8.1f}{result['p99']:>8.1f}"
              f"{result['rps']:>8.0f}{ratio:>10.2f}{load:>6.1f}  {count}"
              + ("  ERRORS: " + str(result["errors"]) if result["errors"] else ""), flush=True)
        failed |= bool(result["errors"])
    if failed:
        sys.exit("some requests failed")


def _count_text(body: dict) -> str:
    return f"{body['count']:,}{'' if body['count_exact'] else ' (estimate)'}"


def _count_made(url: str, headers: dict, first: dict) -> str:
    """Wait (up to 2 minutes) for the worker's exact count of a list the first answer
    estimated; what it became and after how long."""
    from people.selectors import API_EXACT_COUNT_LIMIT

    if first["count_exact"] or first["count"] >= API_EXACT_COUNT_LIMIT:
        return ""
    started = time.monotonic()
    while time.monotonic() - started < 120:
        body = requests.get(url, headers=headers, timeout=120).json()
        if body["count_exact"]:
            return f" -> {_count_text(body)} after {time.monotonic() - started:.1f} s"
        time.sleep(0.1)
    return " -> still the estimate after 120 s"


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


def wrk_together(base: str, scenario: tuple, trivial: tuple, low: int, high: int,
                 clients: int, seconds: int) -> tuple[dict, dict]:
    """The scenario and the trivial request at once, each on half the connections (two wrk
    processes, warmed up together first): the scenario's figures and the trivial one's."""
    from concurrent.futures import ThreadPoolExecutor

    half = max(1, clients // 2)
    with ThreadPoolExecutor(2) as pool:
        for run_seconds in (2, seconds):
            runs = [pool.submit(wrk, base, path, headers, low, high, connections, run_seconds)
                    for (path, headers), connections in ((scenario, clients - half),
                                                         (trivial, half))]
            result, beside = (run.result() for run in runs)
    return result, beside


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
