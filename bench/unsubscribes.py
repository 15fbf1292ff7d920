"""Unsubscribes benchmark at a million people (issue 12).

    python bench/unsubscribes.py                  # 1,000,000 leads, 50,000 Salesforce opt-outs
    python bench/unsubscribes.py --leads 100000 --opt-outs 5000 --changes 200 --push 2000

Loads the seed people into a PostgreSQL database of its own (once: later runs reuse it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from common import app_env, database_url

LOAD_BATCH = 5000


def people_load(total: int) -> None:
    """Seed leads 1..total stored as the sync stores them (no unsubscribes). Resumes where an
    earlier load stopped; the list indexes are dropped while loading and built at the end."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Max

    from people.models import Person
    from people.services import person_apply_leads
    from sandbox import seed

    last_person = next(i for i in range(total, 0, -1) if seed.lead(i, 1, total)["sfdcLeadOwnerId"])
    loaded = Person.objects.aggregate(last=Max("marketo_id"))["last"] or 0
    if loaded >= last_person:
        print(f"{Person.workspace.count():,} people already loaded", flush=True)
        return
    call_command("migrate", "people", "0001", verbosity=0)
    started = time.monotonic()
    for start in range(loaded + 1, total + 1, LOAD_BATCH):
        leads = [seed.lead(i, 1, total) for i in range(start, min(start + LOAD_BATCH, total + 1))]
        person_apply_leads(leads)
        done = start + len(leads) - 1
        print(f"\rloaded {done:,} of {total:,} leads "
              f"({done / (time.monotonic() - started):,.0f}/s)", end="", flush=True)
    print("\nbuilding the list indexes…", flush=True)
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE people_person")
    print(f"{Person.workspace.count():,} people in {time.monotonic() - started:,.0f} s",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--database", default="salesactions_bench_unsubscribes")
    parser.add_argument("--load-only", action="store_true")
    args = parser.parse_args()
    url = database_url(args.database)
    os.environ.update(app_env(url))
    import django

    django.setup()
    people_load(args.leads)
    if args.load_only:
        return


if __name__ == "__main__":
    sys.exit(main())
