"""Initial people sync benchmark: the whole `manage.py sync --full` into PostgreSQL.

    python bench/people_sync.py --leads 100000                 # bulk extract, real limits
    python bench/people_sync.py --leads 100000 --unthrottled   # limits raised (as for tap-marketo)
    python bench/people_sync.py --leads 20000 --method leads   # leads.json fallback
    python bench/people_sync.py --leads 100000 --unthrottled --versus-tap
        # side by side: then singer's tap-marketo extracts the same leads from the same sandbox
    python bench/people_sync.py --leads 100000 --unthrottled --versus-tap \
        --before /work/wt-main --export-rows-per-second 5000
        # before/after in one run: first the sync of another checkout (main), same sandbox;
        # each export job paced at 5,000 rows/s (the sandbox's default: as fast as it can)

Prints people/s, leads/s, peak RSS of the sync process and the Marketo API calls used; with
--versus-tap also the tap's extraction time (bench/tap_marketo.py) and how many times faster
our whole sync into PostgreSQL is than the tap's extraction alone. First it times the export
jobs alone on the same sandbox (bench/export_pace.py: the same windows, queue kept full, two
processing at a time, nothing downloaded), the pace no sync can beat, and prints the sync's
wall time as a multiple of it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import tap_marketo
from common import (
    PYTHON,
    ROOT,
    Sandbox,
    app_env,
    database_url,
    marketo_connect,
    people_reset,
    psql,
    run_measured,
)
from export_pace import export_seconds, sync_fields

UNTHROTTLED = {"rate_limit_calls": 1_000_000, "daily_quota": 100_000_000,
               "bulk_daily_quota_mb": 1_000_000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--method", choices=["bulk", "leads"], default="bulk")
    parser.add_argument("--unthrottled", action="store_true",
                        help="raise the sandbox's limits and the app's share of them")
    parser.add_argument("--database", default="salesactions_bench_sync")
    parser.add_argument("--versus-tap", action="store_true",
                        help="then run tap-marketo against the same sandbox and compare")
    parser.add_argument("--tap-created-at", action="store_true",
                        help="with --versus-tap: the tap exports by createdAt windows, as ours "
                             "does (by default it picks updatedAt windows)")
    parser.add_argument("--export-rows-per-second", type=int, default=0,
                        help="pace of each export job in the sandbox (0: its default, as fast "
                             "as the sandbox writes)")
    parser.add_argument("--no-export-alone", action="store_true",
                        help="skip timing the export jobs alone first (at 10,000,000 leads it "
                             "takes minutes of its own)")
    parser.add_argument("--before", type=Path,
                        help="first run the sync of this checkout (e.g. main) the same way")
    args = parser.parse_args()

    url = database_url(args.database)
    sandbox = Sandbox("marketo", args.leads)
    export = None
    try:
        config = dict(UNTHROTTLED) if args.unthrottled else {}
        config["bulk_rows_per_second"] = args.export_rows_per_second
        if args.method == "leads":
            config["bulk_extract_enabled"] = False
        sandbox.control("POST", "config", json=config)
        if args.method == "bulk" and args.unthrottled and not args.no_export_alone:
            export = export_seconds(sandbox.url, sync_fields())
            print(f"export jobs alone ({export[1]} jobs, two processing at a time, "
                  f"{args.export_rows_per_second or 'unpaced'} rows/s per job): "
                  f"{export[2]:,} records in {export[0]:.1f} s", flush=True)
        # DEBUG off, as in production (with it on Django keeps up to 9,000 queries in memory).
        env = app_env(url, MARKETO_BULK_POLL_MAX_SECONDS="2", DEBUG="false")
        if args.unthrottled:
            env |= {"MARKETO_CALLS_PER_WINDOW": "1000000", "MARKETO_MAX_IN_FLIGHT": "10"}
        for checkout in ([args.before] if args.before else []) + [ROOT]:
            people_reset(url)
            marketo_connect(url, sandbox)
            sandbox.control("DELETE", "counters")
            seconds, code, rss_mb = run_measured([PYTHON, "manage.py", "sync", "--full"], env,
                                                 cwd=checkout)
            calls = sandbox.control("GET", "counters")
            if code:
                raise SystemExit(f"sync of {checkout} failed with exit code {code}")
            report(url, args, checkout, seconds, rss_mb, calls, export)
        tap = (tap_marketo.measure(args.leads, sandbox.url, real_limits=not args.unthrottled,
                                   profile=False, created_at=args.tap_created_at)
               if args.versus_tap else None)
    finally:
        sandbox.stop()

    if tap:
        windows = "createdAt" if args.tap_created_at else "updatedAt"
        print(f"tap-marketo, same sandbox and limits (bulk export by {windows} windows): "
              f"{tap['records']:,} leads extracted in {tap['seconds']:.1f} s | "
              f"{tap['records'] / tap['seconds']:,.0f} leads/s | Marketo calls "
              f"{tap['calls']['total']} | peak RSS {tap['rss_mb']} MB")
        print(f"ours (extract + load into PostgreSQL) is {tap['seconds'] / seconds:.1f}x faster "
              f"than the tap's extraction alone")
        if tap["exit_code"] or tap["distinct"] != args.leads:
            raise SystemExit(f"tap-marketo did not extract all leads: {tap['distinct']:,} of "
                             f"{args.leads:,} (exit code {tap['exit_code']})")


def report(url: str, args, checkout: Path, seconds: float, rss_mb: int, calls: dict,
           export: tuple | None) -> None:
    written, leads_read, method = psql(
        url, "SELECT people_written, leads_read, method FROM syncing_syncrun "
             "WHERE kind='initial' ORDER BY id DESC LIMIT 1").split("|")
    people = int(psql(url, "SELECT count(*) FROM people_person WHERE in_workspace"))
    written, leads_read = int(written), int(leads_read)
    limits = "unthrottled" if args.unthrottled else "real Marketo limits, app share 50/20 s"
    which = "this checkout" if checkout == ROOT else str(checkout)
    pace = f" | {seconds / export[0]:.2f}x the export jobs alone" if export else ""
    print(f"initial sync of {which} ({method}, {limits}): {args.leads:,} leads -> {people:,} "
          f"people in {seconds:.1f} s{pace} | {people / seconds:,.0f} people/s, "
          f"{leads_read / seconds:,.0f} leads/s | peak RSS {rss_mb} MB | "
          f"Marketo calls {calls['total']} ({calls['total'] * 1000 / max(people, 1):.2f} "
          f"per 1,000 people)", flush=True)
    by_endpoint = sorted(calls["by_endpoint"].items(), key=lambda item: -item[1])
    print("  calls: " + ", ".join(f"{name} {count}" for name, count in by_endpoint))
    assert written == people, f"run says {written} written but {people} are in the workspace"


if __name__ == "__main__":
    main()
