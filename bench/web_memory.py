"""Memory of the web workers: gunicorn with gunicorn.conf.py (the production settings), after
serving some requests, as PSS and private dirty memory per worker (from /proc/PID/smaps_rollup).

    python bench/web_memory.py                        # the people bench database, 400 requests
    python bench/web_memory.py --database salesactions_bench_calls --requests 1000

Workers forked from one master share the pages the master filled (the preloaded app) until one
of them writes to a page; PSS counts a shared page a fraction per sharer, private dirty what a
worker holds alone. The requests alternate the health check and the login page (a template, a
form, the session middleware), so each worker has imported what a request needs.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from common import app_env, database_url, gunicorn


def rollup(pid: str) -> dict[str, int]:
    """kB per field of /proc/PID/smaps_rollup."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as lines:
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    return fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="salesactions_bench_people_gen_10000000",
                        help="an existing, migrated database (default: %(default)s, made by "
                             "bench/people_api.py --generate --people 10000000)")
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()

    env = app_env(database_url(args.database), DEBUG="false", LOG_LEVEL="ERROR",
                  ALLOWED_HOSTS="*")
    with tempfile.TemporaryDirectory() as folder:
        pid_file = Path(folder) / "gunicorn.pid"
        with gunicorn(env, "salesactions.wsgi", "--pid", str(pid_file)) as base:
            for n in range(args.requests):
                requests.get(f"{base}/healthz" if n % 2 else f"{base}/login/",
                             timeout=10)
            time.sleep(1)
            workers = subprocess.run(["pgrep", "-P", pid_file.read_text().strip()],
                                     capture_output=True, text=True, check=True).stdout.split()
            totals = {"Rss": 0, "Pss": 0, "Private_Dirty": 0}
            for pid in workers:
                fields = rollup(pid)
                for name in totals:
                    totals[name] += fields[name]
    each = {name: value / len(workers) / 1024 for name, value in totals.items()}
    print(f"{len(workers)} workers after {args.requests} requests: per worker RSS "
          f"{each['Rss']:.1f} MB, PSS {each['Pss']:.1f} MB, private dirty "
          f"{each['Private_Dirty']:.1f} MB; all workers PSS {totals['Pss'] / 1024:.0f} MB")


if __name__ == "__main__":
    main()
