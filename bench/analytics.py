"""Team analytics benchmark (issue 26): every analytics API report and the Analytics page at
size, the rebuild, and what keeping the per-email outcomes adds to recording an event.

    python bench/analytics.py                          # 1 M emails, ~5 M events, 500 k calls
    python bench/analytics.py --emails 100000 --calls 50000 --tasks 20000   # a quick look

Loads, into a PostgreSQL database of its own (later runs reuse it), 50 sellers with 90 days of
work: emails (3 templates per seller and a shared one; 10% of them from 5 campaigns' steps) with
their events (sent, delivered 97%, opened 45% of emails 1–10 times, clicked 10% 1–3 times,
replied 5%, bounced 3%, a hard bounce unsubscribing), calls and reminder tasks, all by SQL. Then:

1. ``manage.py analytics_rebuild`` over everything (its wall time, and its rollups' part);
2. the queries each report makes (the same whatever the size);
3. gunicorn (gunicorn.conf.py, DEBUG off): every report of the API (30 and 90 days, the team
   as an admin and one seller) and the page, alone (counted) and from 20 concurrent clients,
   twice: uncached (``ANALYTICS_CACHE_SECONDS=0``: every request sums the rollups) and
   cached (60 s: served from the report cache after one count);
4. recording one open with ``events_apply``: p50/p95 of the whole call, of the outcome
   update and of the rollups' recount inside it; then a batch of 500 opens of random emails
   (a tracking buffer's batch at its worst: 500 slices to recount).

Needs PostgreSQL and Redis on localhost (as in CI).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from common import app_env, database_url, gunicorn
from people_api import people_load

# Its own Redis db unless told (sessions running side by side each have one).
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
SELLERS = 50
DAYS = 90
CLIENTS = 20
PASSWORD = "bench-pass-123"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=500_000)
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--people", type=int, default=25_000, help="seed leads to load")
    parser.add_argument("--requests", type=int, default=100,
                        help="requests per report (20 at a time)")
    parser.add_argument("--database", default="salesactions_bench_analytics")
    parser.add_argument("--rounds", type=int, default=1,
                        help="times to run the 20-client measurement (uncached, then cached)")
    parser.add_argument("--cache", choices=("both", "off", "on"), default="both",
                        help="measure uncached (off), cached (on) or both")
    parser.add_argument("--cache-seconds", type=int, default=60,
                        help="ANALYTICS_CACHE_SECONDS of the cached pass (the default's 60; "
                             "a few seconds makes the figures expire while 20 clients ask)")
    parser.add_argument("--skip-rebuild", action="store_true",
                        help="reuse the rollups of an earlier run (data unchanged since)")
    parser.add_argument("--skip-web", action="store_true", help="no gunicorn measurement")
    parser.add_argument("--skip-recording", action="store_true",
                        help="no recording-cost measurement")
    args = parser.parse_args()

    url = database_url(args.database)
    os.environ.update(app_env(url, REDIS_URL=REDIS_URL))
    import django

    django.setup()
    people_load(args.people)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # people_load rolls people back to 0001 to load
    data_load(args)
    if not args.skip_rebuild:
        rebuild()
    query_counts()

    cached = args.cache_seconds
    settings = {"both": (0, cached), "off": (0,), "on": (cached,)}[args.cache]
    for seconds in (() if args.skip_web else settings * args.rounds):
        server_env = app_env(url, REDIS_URL=REDIS_URL, DEBUG="false", LOG_LEVEL="ERROR",
                             SECRET_KEY=secrets.token_urlsafe(50),
                             API_THROTTLE_USER="100000/min", AXES_FAILURE_LIMIT="1000",
                             ANALYTICS_CACHE_SECONDS=str(seconds))
        with gunicorn(server_env, "salesactions.wsgi", "--timeout", "600") as base:
            print(f"\nload average at the start: {_load_average()}")
            web(base, args.requests, cached=seconds)
            print(f"load average at the end: {_load_average()}")
    if not args.skip_recording:
        recording_cost()
        recording_batch_cost()


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --------------------------------------------------------------------------- the data


def data_load(args) -> None:
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from accounts.models import User
    from emails.models import SalesEmail
    from reminders.models import ReminderTask

    if (ReminderTask.objects.count() >= args.tasks  # the last table loaded
            and SalesEmail.objects.count() >= args.emails):
        print(f"{SalesEmail.objects.count():,} emails already loaded")
        return
    started = time.monotonic()
    password = make_password(PASSWORD)  # once: hashing is slow on purpose
    sellers = []
    for n in range(SELLERS):
        user, _ = User.objects.update_or_create(username=f"seller{n:02}", defaults={
            "email": f"seller{n:02}@example.com", "first_name": "Seller", "last_name": f"{n:02}",
            "password": password})
        sellers.append(user.pk)
    admin, _ = User.objects.update_or_create(username="bench-admin", defaults={
        "email": "admin@example.com", "role": User.Role.ADMIN, "password": password})
    sql = [
        "TRUNCATE emails_emailevent, campaigns_memberstep, campaigns_campaignmember, "
        "campaigns_campaignstep, campaigns_campaign, emails_salesemail, emails_emailtemplate, "
        "activities_call, reminders_remindertask RESTART IDENTITY CASCADE",
        "DELETE FROM unsubscribes_unsubscribe WHERE source = 'bounce'",
        # Three templates per seller, one shared.
        f"""INSERT INTO emails_emailtemplate (owner_id, shared, name, subject, body, created_at,
            updated_at)
            SELECT u, false, 'Template ' || u || '-' || t, 'Hi {{{{first_name}}}}', 'Hello',
                   now(), now()
            FROM unnest(ARRAY{sellers}) u, generate_series(1, 3) t""",
        f"""INSERT INTO emails_emailtemplate (owner_id, shared, name, subject, body, created_at,
            updated_at) VALUES ({admin.pk}, true, 'Shared webinar', 'Hi', 'Hello', now(), now())""",
        f"""INSERT INTO campaigns_campaign (name, owner_id, shared, status, window_enabled,
            window_days, window_start_hour, window_end_hour, created_at, updated_at)
            SELECT 'Campaign ' || c, {sellers[0]}, true, 'active', false, '01234', 9, 17,
                   now(), now() FROM generate_series(1, 5) c""",
        """INSERT INTO campaigns_campaignstep (campaign_id, position, type, day_offset, subject,
            body, auto_send, name, details)
            SELECT c.id, s, 'email', s * 3, 'Step ' || (s + 1), 'Hi', true, '', ''
            FROM campaigns_campaign c, generate_series(0, 2) s""",
        "CREATE TEMP TABLE bench_people AS SELECT row_number() OVER (ORDER BY id) n, id, email "
        "FROM people_person WHERE email <> ''",
        "CREATE TEMP TABLE bench_sellers AS SELECT row_number() OVER (ORDER BY u.id) - 1 n, "
        "u.id, min(t.id) template FROM accounts_user u JOIN emails_emailtemplate t "
        f"ON t.owner_id = u.id WHERE u.id = ANY(ARRAY{sellers}) GROUP BY u.id",
        f"""INSERT INTO emails_salesemail (person_id, sender_id, to_email, subject, body, track,
            sales_campaign_name, template_id, status, hold_reason, error, message_id,
            provider_message_id, attempts, claim_token, sent_at, handed_off_at, created_at,
            updated_at)
            SELECT p.id, s.id, p.email, 'Following up', 'Hello, following up on our call.',
                   true, '',
                   CASE WHEN i % 4 = 3 THEN NULL ELSE s.template + i % 4 END,
                   'sent', '', '', '<bench-' || i || '@example.com>', '', 1, '', ts, ts, ts, ts
            FROM (SELECT i, now() - random() * interval '{DAYS} days' ts
                  FROM generate_series(1, {args.emails}) i) e
            JOIN bench_people p ON p.n = 1 + e.i % (SELECT count(*) FROM bench_people)
            JOIN bench_sellers s ON s.n = e.i % {SELLERS}""",
        # Events: sent, delivered, opens (repeated), clicks, replies, bounces.
        """INSERT INTO emails_emailevent (email_id, kind, at, url, detail, source, created_at)
            SELECT id, 'sent', sent_at, '', '', 'app', sent_at FROM emails_salesemail""",
        """INSERT INTO emails_emailevent (email_id, kind, at, url, detail, source, created_at)
            SELECT id, 'delivered', sent_at + interval '1 minute', '', '', 'provider', sent_at
            FROM emails_salesemail WHERE id % 100 >= 3""",
        """INSERT INTO emails_emailevent (email_id, kind, at, url, detail, source, created_at)
            SELECT id, 'opened', sent_at + n * interval '37 minutes', '', '', 'tracking', sent_at
            FROM emails_salesemail, generate_series(1, 1 + id % 10) n
            WHERE id % 100 BETWEEN 3 AND 47""",
        """INSERT INTO emails_emailevent (email_id, kind, at, url, detail, source, created_at)
            SELECT id, 'clicked', sent_at + n * interval '41 minutes', 'https://example.com/',
                   '', 'tracking', sent_at
            FROM emails_salesemail, generate_series(1, 1 + id % 3) n
            WHERE id % 100 BETWEEN 3 AND 12""",
        """INSERT INTO emails_emailevent (email_id, kind, at, url, detail, source, created_at)
            SELECT id, 'replied', sent_at + interval '5 hours', '', '', 'provider', sent_at
            FROM emails_salesemail WHERE id % 100 BETWEEN 8 AND 12""",
        """INSERT INTO emails_emailevent (email_id, kind, at, url, detail, source, created_at)
            SELECT id, 'bounced', sent_at + interval '1 minute', '', '550 no such user',
                   'provider', sent_at
            FROM emails_salesemail WHERE id % 100 < 3""",
        # A hard bounce unsubscribes the address (once per person), naming the email.
        """INSERT INTO unsubscribes_unsubscribe (person_id, email, source, created_at,
            removed_reason, sales_email_id)
            SELECT DISTINCT ON (e.person_id) e.person_id, e.to_email, 'bounce', e.sent_at, '', e.id
            FROM emails_salesemail e
            WHERE e.id % 100 < 3 AND NOT EXISTS (SELECT 1 FROM unsubscribes_unsubscribe u
                  WHERE u.person_id = e.person_id AND u.removed_at IS NULL)
            ORDER BY e.person_id, e.id""",
        # Fresh statistics, or the planner joins the campaign rows as if the tables were empty.
        "ANALYZE emails_salesemail",
        "ANALYZE people_person",
        # 10% of the emails came from campaign steps: a membership per (campaign, person).
        """INSERT INTO campaigns_campaignmember (campaign_id, person_id, added_by_id, added_at,
            anchor_at, status, next_position, end_reason)
            SELECT DISTINCT ON (c, e.person_id) (SELECT min(id) FROM campaigns_campaign) + c,
                   e.person_id, e.sender_id, e.sent_at, e.sent_at, 'ended', 3, 'completed'
            FROM (SELECT id % 5 c, person_id, sender_id, sent_at FROM emails_salesemail
                  WHERE id % 10 = 0) e""",
        """INSERT INTO campaigns_memberstep (member_id, step_id, position, type, title, due_at,
            ran_at, result, detail, subject, body, email_id)
            SELECT DISTINCT ON (m.id, st.id) m.id, st.id, st.position, 'email', st.subject,
                   e.sent_at, e.sent_at, 'queued', '', '', '', e.id
            FROM emails_salesemail e
            JOIN campaigns_campaignmember m ON m.person_id = e.person_id
                 AND m.campaign_id = (SELECT min(id) FROM campaigns_campaign) + e.id % 5
            JOIN campaigns_campaignstep st ON st.campaign_id = m.campaign_id
                 AND st.position = (e.id / 10) % 3
            WHERE e.id % 10 = 0
            ORDER BY m.id, st.id, e.id""",
        "ANALYZE campaigns_campaignmember",
        f"""INSERT INTO activities_call (person_id, logged_by_id, outcome, reason, status, notes,
            duration_seconds, phone_number, called_at, created_at)
            SELECT p.id, s.id,
                   (ARRAY['Connected', 'Left voicemail', 'No answer', 'Busy'])[1 + i % 4], '',
                   'completed', '', 120, '', ts, ts
            FROM (SELECT i, now() - random() * interval '{DAYS} days' ts
                  FROM generate_series(1, {args.calls}) i) c
            JOIN bench_people p ON p.n = 1 + c.i % (SELECT count(*) FROM bench_people)
            JOIN bench_sellers s ON s.n = c.i % {SELLERS}""",
        f"""INSERT INTO reminders_remindertask (person_id, assignee_id, created_by_id, type, name,
            status, priority, due_date, details, origin, created_at, updated_at, completed_at,
            salesforce_push, salesforce_id, field_changed_at, synced_values)
            SELECT p.id, s.id, s.id, 'call', 'Follow up', CASE WHEN i % 3 = 0 THEN 'open'
                   ELSE 'complete' END, 'normal', (ts + interval '2 days')::date, '', 'app', ts, ts,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE ts + interval '1 day' END, false, '',
                   '{{}}', '{{}}'
            FROM (SELECT i, now() - random() * interval '{DAYS} days' ts
                  FROM generate_series(1, {args.tasks}) i) t
            JOIN bench_people p ON p.n = 1 + t.i % (SELECT count(*) FROM bench_people)
            JOIN bench_sellers s ON s.n = t.i % {SELLERS}""",
    ]
    with connection.cursor() as cursor:
        for statement in sql:
            label = " ".join(statement.split()[:4])
            step = time.monotonic()
            cursor.execute(statement)
            print(f"  {label[:60]:<60} {cursor.rowcount:>10,} rows "
                  f"{time.monotonic() - step:6.1f} s", flush=True)
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"loaded in {time.monotonic() - started:,.0f} s")


def rebuild() -> None:
    from django.db import connection

    from analytics import services
    from analytics.services import analytics_rebuild
    from emails.models import EmailEvent, SalesEmail

    spent = []
    kept = services.rollups_rebuild

    def timed():
        started = time.monotonic()
        days = kept()
        spent.append(time.monotonic() - started)
        return days

    services.rollups_rebuild = timed
    started = time.monotonic()
    try:
        rebuilt = analytics_rebuild()
    finally:
        services.rollups_rebuild = kept
    took = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE emails_salesemail")
        cursor.execute("VACUUM ANALYZE analytics_emailrollup")
        cursor.execute("VACUUM ANALYZE analytics_activityrollup")
    print(f"\nanalytics_rebuild: {rebuilt.emails:,} emails "
          f"({EmailEvent.objects.count():,} events, {SalesEmail.objects.count():,} emails) "
          f"in {took:,.1f} s, of which the rollups ({rebuilt.rollup_days} days) "
          f"{spent[0]:,.1f} s")


def query_counts() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analytics.params import Period
    from analytics.selectors import (
        ACTIVITY_GROUPS,
        EMAIL_GROUPS,
        activity_report,
        email_report,
        reports_count,
    )

    today = time.strftime("%Y-%m-%d")
    from datetime import date
    from zoneinfo import ZoneInfo

    end = date.fromisoformat(today)
    period = Period(end - timedelta(days=29), end, ZoneInfo("UTC"))
    print("\nqueries per report (the team, 30 days):")
    for name, groups, report in (("emails", EMAIL_GROUPS, email_report),
                                 ("activity", ACTIVITY_GROUPS, activity_report)):
        for group in groups:
            with CaptureQueriesContext(connection) as queries:
                report(period, group)
            print(f"  {name:<9}{group:<15}{len(queries):>3}")
    # The team page's six reports, counted together (each rollup table read once).
    asks = [("activity", "day"), ("emails", "day"), ("emails", "template"),
            ("emails", "campaign_step"), ("emails", "sender"), ("activity", "seller")]
    with CaptureQueriesContext(connection) as queries:
        reports_count(period, asks)
    rollup_reads = sum("_emailrollup" in query["sql"] or "_activityrollup" in query["sql"]
                       for query in queries.captured_queries)
    print(f"  the page's six together: {len(queries)} ({rollup_reads} on the email and "
          "activity rollups)")


# --------------------------------------------------------------------------- the web


def web(base: str, count: int, *, cached: int) -> None:
    """Each report alone (one client; five periods ending on different days, so each is
    counted: none is in the cache yet), then from 20 clients at once asking the same report
    (``cached`` seconds: after one request counted it, they are served from the cache while
    it lasts, then one request counts it again while the others wait for it; 0: every request
    counts it, ``ANALYTICS_CACHE_SECONDS=0``)."""
    from accounts.models import User

    seller = User.objects.get(username="seller07")
    admin_session, seller_session = login(base, "bench-admin"), login(base, "seller07")
    emails, activity = "/api/v1/analytics/emails/?", "/api/v1/analytics/activity/?"
    # References measured the same way: what 20 clients make of a trivial API request and
    # of a plain page (the people list) on this machine in this run.
    reports = [("reference: trivial API request", admin_session, 0, "/api/v1/calls/outcomes/?"),
               ("reference: a plain page (people)", admin_session, 0, "/people/?")]
    for days in (30, 90):
        for group in ("template", "campaign_step", "sender", "day"):
            reports.append((f"emails {group} team {days} d", admin_session, days,
                            f"{emails}group_by={group}"))
        for group in ("seller", "day", "week"):
            reports.append((f"activity {group} team {days} d", admin_session, days,
                            f"{activity}group_by={group}"))
        reports.append((f"emails day, a seller {days} d", seller_session, days,
                        f"{emails}group_by=day"))
        reports.append((f"emails template, one seller {days} d", admin_session, days,
                        f"{emails}group_by=template&sender={seller.pk}"))
        reports.append((f"activity day, a seller {days} d", seller_session, days,
                        f"{activity}group_by=day"))
        reports.append((f"page, the team {days} d", admin_session, days,
                        "/analytics/?preset=custom"))
        reports.append((f"page, a seller {days} d", seller_session, days,
                        "/analytics/?preset=custom"))
    reports.append(("emails template team 90 d, CSV", admin_session, 90,
                    f"{emails}group_by=template&format=csv"))

    print(f"\nms per request: alone (one client, counted; median of 5), then {CLIENTS} "
          f"concurrent clients sending {count} requests "
          + (f"(cached for {cached} s after a count):" if cached
             else "(uncached: each one counted):"))
    print(f"  {'report':<38}{'alone':>8}{'p50':>8}{'p95':>8}{'max':>8}")
    for label, session, days, path in reports:
        def url(back: int, days=days, path=path) -> str:
            if not days:  # a reference: no period
                return f"{base}{path}"
            return f"{base}{path}&from={_day(-back - days + 1)}&to={_day(-back)}"

        serial = []
        for back in range(1, 6):
            started = time.monotonic()
            session.get(url(back), timeout=300).raise_for_status()
            serial.append((time.monotonic() - started) * 1000)
        target = url(0)
        session.get(target, timeout=300).raise_for_status()

        def one(_, session=session, target=target):
            started = time.monotonic()
            session.get(target, timeout=300).raise_for_status()
            return (time.monotonic() - started) * 1000

        with ThreadPoolExecutor(CLIENTS) as pool:
            times = sorted(pool.map(one, range(count)))
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(f"  {label:<38}{statistics.median(serial):>8.0f}"
              f"{statistics.median(times):>8.0f}{p95:>8.0f}{times[-1]:>8.0f}", flush=True)


def _day(offset: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + offset * 86400))


def login(base: str, username: str) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=CLIENTS, pool_maxsize=CLIENTS)
    session.mount("http://", adapter)
    page = session.get(f"{base}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(f"{base}/login/", data={"username": username, "password": PASSWORD,
                                         "csrfmiddlewaretoken": token},
                 headers={"Referer": f"{base}/login/"}, timeout=30).raise_for_status()
    return session


# --------------------------------------------------------------------------- recording


def recording_cost(samples: int = 300) -> None:
    """One open recorded with ``events_apply`` (its own transaction), and inside it what the
    analytics add: the outcome update (``_outcome_times``) and the recount of the email's
    rollups (``_rollups_recount``), timed separately."""
    from django.utils import timezone

    from emails import events
    from emails.models import SalesEmail

    print("\nrecording one open (events_apply, its own transaction):")
    spent: dict[str, list[float]] = {"_outcome_times": [], "_rollups_recount": []}
    kept = {name: getattr(events, name) for name in spent}

    def timer(name):
        def timed(*args):
            started = time.perf_counter()
            kept[name](*args)
            spent[name].append((time.perf_counter() - started) * 1000)
        return timed

    for name in spent:
        setattr(events, name, timer(name))
    emails = list(SalesEmail.objects.select_related("person").order_by("?")[:samples])
    whole = []
    try:
        for email in emails:
            started = time.perf_counter()
            events.events_apply([events.EventIn(email=email, kind="opened", at=timezone.now(),
                                                source="tracking")])
            whole.append((time.perf_counter() - started) * 1000)
    finally:
        for name, function in kept.items():
            setattr(events, name, function)
    for label, values in (("events_apply, one open", whole),
                          ("  of which the outcome update", spent["_outcome_times"]),
                          ("  of which the rollups' recount", spent["_rollups_recount"])):
        values.sort()
        print(f"  {label:<44}p50 {statistics.median(values):6.2f} ms   "
              f"p95 {values[int(len(values) * 0.95) - 1]:6.2f} ms")



def recording_batch_cost(rounds: int = 3, size: int = 500) -> None:
    """A tracking buffer's batch (500 hits) at its worst for the rollups: opens of 500 random
    emails, so 500 (hour × seller) slices to recount, with the recount timed apart."""
    from django.utils import timezone

    from emails import events
    from emails.models import SalesEmail

    print(f"\nrecording a batch of {size} opens of {size} random emails (events_apply):")
    spent: list[float] = []
    kept = events._rollups_recount

    def timed(*args):
        started = time.perf_counter()
        kept(*args)
        spent.append((time.perf_counter() - started) * 1000)

    events._rollups_recount = timed
    try:
        for _ in range(rounds):
            emails = list(SalesEmail.objects.select_related("person").order_by("?")[:size])
            started = time.perf_counter()
            events.events_apply([events.EventIn(email=email, kind="opened", at=timezone.now(),
                                                source="tracking") for email in emails])
            print(f"  {(time.perf_counter() - started) * 1000:7.0f} ms, of which the rollups' "
                  f"recount {spent[-1]:7.0f} ms", flush=True)
    finally:
        events._rollups_recount = kept


if __name__ == "__main__":
    main()
