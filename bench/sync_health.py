"""Sync health benchmark: the API and the page with a realistic history.

    python bench/sync_health.py                         # 30 days, 1,000,000 delivery attempts
    python bench/sync_health.py --attempts 200000 --requests 20

Seeds PostgreSQL (database ``salesactions_bench_health``) with 30 days of history, as a busy
install keeps it (``SYNC_HISTORY_DAYS``): an incremental people pass a minute (43,200 runs), a
reminder task pass every 5 minutes and a nightly unsubscribe pass (logged passes), and
deliveries of calls, reminder tasks and unsubscribes to both systems with two attempts each
(a retry, then delivered), a few hundred waiting (under two minutes), retrying and failed. Then asks
``GET /api/v1/sync/health/`` and ``/settings/health/`` as an admin, in this process through
Django's test client (the whole stack but the socket), and prints p50/p95 and the queries each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from common import database_url

DAYS = 30


def seed(attempts: int) -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from syncing.models import MarketoConnection, SalesforceConnection, SyncSettings

    deliveries = attempts // 2
    record_type = ContentType.objects.get(app_label="activities", model="call").pk
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE syncing_deliveryattempt, syncing_delivery, syncing_syncrun, "
                       "syncing_streampass, syncing_syncstream")
        # Deliveries spread evenly over 30 days; kinds and targets in turn.
        cursor.execute(f"""
            INSERT INTO syncing_delivery (target, kind, record_type_id, record_id, status,
                skip_reason, attempts, next_attempt_at, claim_token, outcome_unknown, remote_id,
                last_error_code, last_error_message, created_at, first_attempt_at,
                last_attempt_at, delivered_at)
            SELECT CASE WHEN n % 4 = 0 THEN 'marketo' ELSE 'salesforce' END,
                   CASE n % 4 WHEN 2 THEN 'reminder_task' WHEN 3 THEN 'unsubscribe'
                              ELSE 'call' END,
                   {record_type}, n, 'delivered', '', 2, NULL, '', false, 'r' || n, '', '',
                   t, t + interval '10 seconds', t + interval '40 seconds',
                   t + interval '40 seconds'
            FROM (SELECT n, now() - interval '{DAYS} days' * (1 - n::float / {deliveries}) AS t
                  FROM generate_series(1, {deliveries}) AS n) AS spread""")
        cursor.execute("""
            INSERT INTO syncing_deliveryattempt (delivery_id, started_at, duration_ms, outcome,
                error_code, error_message)
            SELECT id, first_attempt_at, 300, 'retry', 'UNABLE_TO_LOCK_ROW',
                   'unable to obtain exclusive access to this record'
            FROM syncing_delivery
            UNION ALL
            SELECT id, last_attempt_at, 250, 'delivered', '', '' FROM syncing_delivery""")
        # The newest few hundred are still open: waiting, retrying, failed.
        cursor.execute("""
            UPDATE syncing_delivery SET status = CASE WHEN id % 3 = 0 THEN 'failed'
                                                      ELSE 'pending' END,
                   attempts = CASE WHEN id % 3 = 1 THEN 0 ELSE attempts END,
                   delivered_at = NULL,
                   created_at = CASE WHEN id % 3 = 0 THEN created_at
                                     ELSE now() - interval '1 second' * (id % 120) END
            WHERE id > (SELECT max(id) - 600 FROM syncing_delivery)""")
        cursor.execute(f"""
            INSERT INTO syncing_syncrun (kind, status, method, created_at, started_at,
                finished_at, heartbeat_at, leads_read, people_written, people_left,
                people_removed, records_skipped, skipped_examples, windows_total, windows_done,
                api_calls, error, failures, state)
            SELECT 'incremental', CASE WHEN n % 500 = 0 THEN 'failed' ELSE 'succeeded' END, '',
                   t, t, t + interval '3 seconds', t, n % 40, n % 40, 0, 0, 0, '[]', 0, 0, 3,
                   CASE WHEN n % 500 = 0 THEN '606: Max rate limit' ELSE '' END, 0, '{{}}'
            FROM (SELECT n, now() - interval '1 minute' * n AS t
                  FROM generate_series(1, {DAYS * 1440}) AS n) AS passes""")
        cursor.execute("""
            INSERT INTO syncing_syncrun (kind, status, method, created_at, started_at,
                finished_at, leads_read, people_written, people_left, people_removed,
                records_skipped, skipped_examples, windows_total, windows_done, api_calls,
                error, failures, state)
            VALUES ('initial', 'succeeded', 'bulk', now() - interval '31 days',
                    now() - interval '31 days', now() - interval '31 days', 100000, 80000, 0,
                    0, 0, '[]', 4, 4, 150, '', 0, '{}')""")
        cursor.execute(f"""
            INSERT INTO syncing_streampass (stream, started_at, finished_at, ok, rows, error)
            SELECT 'reminder_tasks_in', t, t + interval '2 seconds', n % 200 <> 0, n % 15,
                   CASE WHEN n % 200 = 0 THEN 'UNABLE_TO_LOCK_ROW' ELSE '' END
            FROM (SELECT n, now() - interval '5 minutes' * n AS t
                  FROM generate_series(1, {DAYS * 288}) AS n) AS passes
            UNION ALL
            SELECT 'unsubscribes_in', t, t + interval '40 seconds', true, 120, ''
            FROM (SELECT now() - interval '1 day' * n AS t
                  FROM generate_series(1, {DAYS}) AS n) AS nights""")
        cursor.execute("""
            INSERT INTO syncing_syncstream (name, status, cursor, last_attempt_at,
                last_success_at, caught_up_to, last_error, consecutive_failures, state)
            VALUES ('people', 'healthy', '{"lead_changes": "x"}', now(), now(), now(), '', 0,
                    '{}'),
                   ('reminder_tasks', 'healthy', '{}', now(), now(), NULL, '', 0, '{}'),
                   ('unsubscribes', 'healthy', '{}', now(), now() - interval '5 hours', NULL,
                    '', 0, '{}'),
                   ('salesforce_deliveries', 'healthy', '{}', now(), now(), NULL, '', 0, '{}'),
                   ('marketo_deliveries', 'healthy', '{}', now(), now(), NULL, '', 0, '{}')""")
        cursor.execute("ANALYZE")
    MarketoConnection(base_url="http://127.0.0.1:9", client_id="id", client_secret="s").save()
    SalesforceConnection(url="http://127.0.0.1:9", client_id="id", client_secret="s").save()
    SyncSettings(reminder_task_sync_enabled=True, unsubscribe_sync_enabled=True).save()


def measure(client, path: str, requests: int) -> tuple[list[float], int]:
    from django.db import connection

    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    # An execute wrapper outlives the reconnect each request makes (CONN_MAX_AGE 0).
    with connection.execute_wrapper(count):
        assert client.get(path).status_code == 200  # warm: connections, templates
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    return timings, len(queries)


def figures(timings: list[float]) -> str:
    cuts = statistics.quantiles(timings, n=100)
    return f"p50 {cuts[49] * 1000:.0f} ms, p95 {cuts[94] * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = database_url("salesactions_bench_health")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesactions.settings")
    import django

    django.setup()
    from django.test import Client

    from accounts.models import User

    started = time.perf_counter()
    seed(args.attempts)
    print(f"seeded {args.attempts:,} delivery attempts, {DAYS} days of passes in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    admin = (User.objects.filter(username="bench-admin").first()
             or User.objects.create_user("bench-admin", role="admin"))
    client = Client()
    client.force_login(admin)
    for label, path in (("API  GET /api/v1/sync/health/", "/api/v1/sync/health/"),
                        ("page GET /settings/health/", "/settings/health/")):
        timings, queries = measure(client, path, args.requests)
        print(f"{label}: {figures(timings)} over {args.requests} requests, {queries} queries",
              flush=True)
    body = client.get("/api/v1/sync/health/").json()
    print("status:", body["status"], "·", ", ".join(
        f"{stream['name']}={stream['status']}" for stream in body["streams"]))


if __name__ == "__main__":
    sys.exit(main())
