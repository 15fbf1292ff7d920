"""Incremental people sync benchmark: changes applied per second, and the lag from a change in
Marketo to its visibility through the API under the default schedule.

    python bench/people_incremental.py                     # 10,000 changes, real limits
    python bench/people_incremental.py --unthrottled       # limits raised
    python bench/people_incremental.py --lag-samples 3     # also measure the lag (worker+beat)
    python bench/people_incremental.py --changes 100000    # 100,000 changes (125,000 leads)
    python bench/people_incremental.py --changes 100000 --burst-lag   # the burst's own lag

Starts its own Marketo sandbox (20,000 leads), syncs them, then changes leads in the sandbox
as a Marketo user would and runs ``manage.py sync`` (one pass) to apply them. It reports the
pass's own throughput (its run's ``started_at`` to ``finished_at``, as stored) beside the
whole command's wall time, which adds Python and Django start-up and the outbox flush. For
the lag it runs the real thing: web (gunicorn), a Celery worker and beat on Redis, default
schedule.

With ``--burst-lag`` the changes are not applied by ``manage.py sync``: the app runs as in
production (gunicorn, worker, beat, default schedule), and once a pass has just ended the
benchmark makes the changes and then one more (the probe, to a lead outside them): the time
until the API shows the probe is the lag of a burst's last change when the burst has to wait
about a whole interval, with the passes that applied it (their time and Marketo calls).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator

import requests
from common import (
    PYTHON,
    ROOT,
    Sandbox,
    app_env,
    database_url,
    free_port,
    manage,
    marketo_connect,
    people_reset,
    psql,
    run_measured,
)
from people_sync import UNTHROTTLED

from sandbox import seed


def owned_ids(total: int, count: int) -> list[int]:
    ids = [i for i in range(1, total + 1) if seed.lead(i, 1, total)["sfdcLeadOwnerId"]]
    return ids[:count]


@contextlib.contextmanager
def app_running(url: str, redis_url: str) -> Iterator[tuple[str, requests.Session]]:
    """gunicorn, a Celery worker and beat on the default schedule; yields the API's base URL
    and a session with an admin's token."""
    port = free_port()
    env = app_env(url, REDIS_URL=redis_url)
    manage(url, "shell", "-c", (
        "from accounts.models import User; User.objects.filter(username='bench')"
        ".exists() or User.objects.create_user('bench', role='admin')"), quiet=True)
    token = manage(url, "drf_create_token", "bench", quiet=True, **{}).stdout.split()[2]
    processes = [
        subprocess.Popen([PYTHON, "-m", "gunicorn", "salesactions.wsgi", "--bind",
                          f"127.0.0.1:{port}", "--workers", "2"], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([PYTHON, "-m", "celery", "-A", "salesactions", "worker", "--pool",
                          "solo", "--loglevel", "WARNING"], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([PYTHON, "-m", "celery", "-A", "salesactions", "beat", "--loglevel",
                          "WARNING", "--schedule", f"/tmp/bench-celerybeat-schedule-{os.getpid()}"],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL),
    ]
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    try:
        time.sleep(5)
        yield f"http://127.0.0.1:{port}", api
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def change_and_wait(sandbox: Sandbox, base: str, api: requests.Session, marketo_id: int,
                    since: float | None = None) -> float:
    """Change the lead's title in Marketo; seconds from ``since`` (default: the change) until
    the API shows it."""
    title = f"Lag probe {uuid.uuid4().hex[:8]}"
    sandbox.control("PATCH", f"leads/{marketo_id}", json={"fields": {"title": title}})
    since = time.monotonic() if since is None else since
    while time.monotonic() - since < 600:
        reply = api.get(f"{base}/api/v1/people/", params={"marketo_id": marketo_id}, timeout=10)
        results = reply.json().get("results", []) if reply.ok else []
        if results and results[0]["title"] == title:
            return time.monotonic() - since
        time.sleep(0.2)
    raise SystemExit(f"change to lead {marketo_id} not visible after 600 s")


def measure_lag(url: str, sandbox: Sandbox, lead_ids: list[int], samples: int,
                redis_url: str) -> list[float]:
    """Change a lead in Marketo; time until the API shows the change (worker + beat running)."""
    lags = []
    with app_running(url, redis_url) as (base, api):
        for sample in range(samples):
            lags.append(change_and_wait(sandbox, base, api, lead_ids[sample]))
            print(f"  lag sample {sample + 1}: {lags[-1]:.1f} s", flush=True)
    return lags


def last_pass_end(url: str) -> str:
    return psql(url, "SELECT coalesce(max(finished_at)::text, '') FROM syncing_syncrun "
                     "WHERE kind = 'incremental'")


def measure_burst_lag(url: str, sandbox: Sandbox, ids: list[int], probe_id: int,
                      redis_url: str) -> None:
    """Right after a pass ends, change ``ids`` and then the probe lead; print the time until
    the API shows the probe, and the passes that applied the burst."""
    with app_running(url, redis_url) as (base, api):
        while True:  # just after a pass, with none queued behind it: the worst moment
            ended = last_pass_end(url)
            while last_pass_end(url) == ended:
                time.sleep(0.1)
            last_run = int(psql(url, "SELECT max(id) FROM syncing_syncrun"))
            time.sleep(2)
            if int(psql(url, "SELECT max(id) FROM syncing_syncrun")) == last_run:
                break
        sandbox.control("DELETE", "counters")
        burst_at, burst_epoch = time.monotonic(), time.time()
        sandbox.control("POST", "leads/change-many",
                        json={"ids": ids, "fields": {"title": "Changed by the benchmark"}})
        changed_in = time.monotonic() - burst_at
        lag = change_and_wait(sandbox, base, api, probe_id)
        counters = sandbox.control("GET", "counters")
    runs = psql(url, "SELECT count(*), coalesce(sum(api_calls), 0), coalesce(sum(leads_read), 0), "
                     "coalesce(max(extract(epoch FROM finished_at - started_at)), 0), "
                     "coalesce(min(extract(epoch FROM started_at)), 0) "
                     f"FROM syncing_syncrun WHERE kind = 'incremental' AND id > {last_run} "
                     "AND leads_read > 0").split("|")
    applied = int(psql(url, "SELECT count(*) FROM people_person "
                            "WHERE title = 'Changed by the benchmark'"))
    passes, calls, read, longest = int(runs[0]), int(runs[1]), int(runs[2]), float(runs[3])
    waited = float(runs[4]) - burst_epoch
    by_endpoint = ", ".join(f"{key} {count}" for key, count
                            in sorted(counters["by_endpoint"].items()))
    print(f"burst of {len(ids):,} changes ({changed_in:.1f} s to make in the sandbox), then the "
          f"probe, 2 s after a pass ended (default 60 s schedule; the pass applying them "
          f"started {waited:.1f} s after the burst began):\n"
          f"  lag of the probe (the burst's last change) -> API: {lag:.1f} s\n"
          f"  {applied:,} of {len(ids):,} changes applied by {passes} pass(es) that read "
          f"{read:,} leads; the longest {longest:.1f} s\n"
          f"  their Marketo calls: {calls} ({calls * 1000 / max(applied, 1):.2f} per 1,000 "
          f"changes); all calls until the probe showed: {counters['total']} ({by_endpoint})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--unthrottled", action="store_true")
    parser.add_argument("--lag-samples", type=int, default=0)
    parser.add_argument("--burst-lag", action="store_true",
                        help="measure the lag of a burst of --changes instead (see above)")
    parser.add_argument("--export-rows-per-second", type=int, default=0,
                        help="pace of each export job in the sandbox (0: its default, as fast "
                             "as the sandbox writes)")
    parser.add_argument("--database", default="salesactions_bench_incremental")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL",
                                                              "redis://127.0.0.1:6379/7"),
                        help="the broker and cache of the lag run (default: $REDIS_URL)")
    args = parser.parse_args()
    # 80% of the seed's leads have an owner: enough leads for the changes asked for.
    args.leads = max(args.leads, args.changes * 5 // 4 + 100)

    url = database_url(args.database)
    people_reset(url)
    sandbox = Sandbox("marketo", args.leads)
    try:
        sandbox.control("POST", "config", json=UNTHROTTLED
                        | {"bulk_rows_per_second": args.export_rows_per_second})
        marketo_connect(url, sandbox)
        manage(url, "sync", "--full", quiet=True, MARKETO_CALLS_PER_WINDOW="1000000",
               MARKETO_BULK_POLL_MAX_SECONDS="1")
        synced_at = time.monotonic()
        if not args.unthrottled:
            sandbox.control("POST", "config", json={"rate_limit_calls": 100,
                                                    "daily_quota": 50_000})
        ids = owned_ids(args.leads, args.changes + 1)
        ids, probe_id = ids[:args.changes], ids[-1]
        if args.burst_lag:
            measure_burst_lag(url, sandbox, ids, probe_id, args.redis_url)
            return
        sandbox.control("POST", "leads/change-many",
                        json={"ids": ids, "fields": {"title": "Changed by the benchmark"}})
        sandbox.control("DELETE", "counters")
        env = app_env(url)
        if args.unthrottled:
            env |= {"MARKETO_CALLS_PER_WINDOW": "1000000", "MARKETO_MAX_IN_FLIGHT": "10"}
        else:
            # The setup's initial sync ran with the limits raised; let its calls age out of
            # Marketo's 20 s window, so the pass meets the limits as a periodic pass does.
            time.sleep(max(0.0, synced_at + 21 - time.monotonic()))
        seconds, code, rss_mb = run_measured([PYTHON, "manage.py", "sync"], env)
        counters = sandbox.control("GET", "counters")
        if code:
            raise SystemExit(f"sync failed with exit code {code}")
        applied = int(psql(url, "SELECT count(*) FROM people_person "
                                "WHERE title = 'Changed by the benchmark'"))
        pass_seconds = float(psql(url, (
            "SELECT extract(epoch FROM finished_at - started_at) FROM syncing_syncrun "
            "WHERE kind = 'incremental' ORDER BY id DESC LIMIT 1")))
        limits = "unthrottled" if args.unthrottled else "real Marketo limits, app share 50/20 s"
        by_endpoint = ", ".join(f"{key} {count}" for key, count
                                in sorted(counters["by_endpoint"].items()))
        print(f"incremental ({limits}): {applied:,} of {len(ids):,} changes applied\n"
              f"  the pass:         {pass_seconds:6.3f} s | {applied / pass_seconds:8,.0f} "
              f"changes/s\n"
              f"  `manage.py sync`: {seconds:6.3f} s | {applied / seconds:8,.0f} changes/s | "
              f"peak RSS {rss_mb} MB\n"
              f"  Marketo calls: {counters['total']} "
              f"({counters['total'] * 1000 / max(applied, 1):.2f} per 1,000 changes: "
              f"{by_endpoint})")
        if args.lag_samples:
            lags = measure_lag(url, sandbox, ids[::97], args.lag_samples, args.redis_url)
            print(f"lag Marketo change -> API (default 60 s schedule): "
                  f"mean {sum(lags) / len(lags):.1f} s, max {max(lags):.1f} s "
                  f"over {len(lags)} changes")
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
