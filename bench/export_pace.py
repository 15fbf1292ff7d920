"""How long Marketo's export jobs alone take: the pace the initial sync cannot beat.

    python bench/export_pace.py --leads 100000

Creates the same 31-day ``createdAt`` export jobs the initial sync does (first lead's createdAt
to now), keeps Marketo's queue full (at most ``--ahead`` jobs queued or processing; Marketo
processes two at a time) and times the first enqueue to the last job Completed, polling the job
listing every 50 ms. Nothing is downloaded. bench/people_sync.py runs this on its own sandbox
to put the sync's wall time beside the export's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from common import ROOT, Sandbox, app_env

sys.path.insert(0, str(ROOT))
from sandbox.marketo.app import CONFIG_DEFAULTS  # noqa: E402
from syncing.clients.marketo import MarketoClient  # noqa: E402

WINDOW = timedelta(days=31)


def windows(client: MarketoClient) -> list[tuple[datetime, datetime]]:
    leads = client.leads_by_filter("id", range(1, 301), ["createdAt"])
    start = min(datetime.fromisoformat(lead["createdAt"]) for lead in leads)
    now = datetime.now(UTC).replace(microsecond=0)
    spans = []
    while start <= now:
        end = min(start + WINDOW - timedelta(seconds=1), now)
        spans.append((start, end))
        start = end + timedelta(seconds=1)
    return spans


def sync_fields() -> list[str]:
    """The fields the app's initial sync exports (Django set up in this process to read them)."""
    import django
    os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")
    os.environ.update(app_env(os.environ["DATABASE_URL"]))
    django.setup()
    from people.services import SYNCED_MARKETO_FIELDS
    return SYNCED_MARKETO_FIELDS


def export_seconds(base_url: str, fields: list[str], ahead: int = 10) -> tuple[float, int, int]:
    """(seconds from first enqueue to last Completed, jobs, records) on the sandbox at
    ``base_url`` (its limits raised by the caller)."""
    client = MarketoClient(base_url, CONFIG_DEFAULTS["client_id"],
                           CONFIG_DEFAULTS["client_secret"], calls_per_window=1_000_000,
                           max_in_flight=10)
    pending = windows(client)
    jobs = [client.bulk_export_create(fields, start, end)["exportId"] for start, end in pending]
    waiting: list[str] = []
    records = 0
    started = time.monotonic()
    while jobs or waiting:
        while jobs and len(waiting) < ahead:
            client.bulk_export_enqueue(jobs[0])
            waiting.append(jobs.pop(0))
        statuses = {job["exportId"]: job for job in client.bulk_exports()}
        for export_id in list(waiting):
            if statuses[export_id]["status"] == "Completed":
                records += statuses[export_id]["numberOfRecords"]
                waiting.remove(export_id)
        if waiting:
            time.sleep(0.05)
    return time.monotonic() - started, len(pending), records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--ahead", type=int, default=10)
    parser.add_argument("--export-rows-per-second", type=int, default=0,
                        help="pace of each job (0: the sandbox's default, as fast as it writes)")
    args = parser.parse_args()
    sandbox = Sandbox("marketo", args.leads)
    try:
        sandbox.control("POST", "config", json={"rate_limit_calls": 1_000_000,
                                                "daily_quota": 100_000_000,
                                                "bulk_daily_quota_mb": 1_000_000,
                                                "bulk_rows_per_second":
                                                    args.export_rows_per_second})
        seconds, jobs, records = export_seconds(sandbox.url, sync_fields(), args.ahead)
    finally:
        sandbox.stop()
    print(f"export jobs alone: {jobs} jobs, {records:,} records in {seconds:.1f} s "
          f"({records / seconds:,.0f} records/s, two processing at a time)")


if __name__ == "__main__":
    main()
