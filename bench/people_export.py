"""People export benchmark (issue 15): ``GET /api/v1/people/export/`` streamed as CSV and NDJSON.

    python bench/people_export.py                      # 150,000 seed leads (~120,000 people)
    python bench/people_export.py --people 1000000

Loads the seed people into a PostgreSQL database of its own (as bench/people_api.py does; later
runs reuse it), starts gunicorn with gunicorn.conf.py (DEBUG off, one worker) on a loopback port
and downloads the whole export as an admin, each format twice (everyone, then one owner's
people). Prints rows/s, MB/s, time to the first byte and the gunicorn worker's peak memory
(VmHWM) after each export: it stays flat however many rows stream (server-side cursor).

Needs PostgreSQL and Redis on localhost (as in CI).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import requests
from common import ROOT, app_env, database_url, free_port, wait_for_url
from people_api import people_load

REDIS_URL = "redis://127.0.0.1:6379/9"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=150_000,
                        help="seed leads to load (about 80%% have an owner and become people)")
    parser.add_argument("--database", default="salesactions_bench_export")
    args = parser.parse_args()

    url = database_url(args.database)
    os.environ.update(app_env(url, REDIS_URL=REDIS_URL))
    import django

    django.setup()
    people_load(args.people)
    token = admin_token()

    port = free_port()
    server_env = app_env(url, REDIS_URL=REDIS_URL, DEBUG="false", LOG_LEVEL="ERROR",
                         WEB_CONCURRENCY="1")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config",
         str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "--access-logfile",
         "/dev/null", "--chdir", str(ROOT), "--log-level", "warning", "--timeout", "600",
         "salesactions.wsgi"], env=server_env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_url(f"{base}/healthz", "gunicorn", seconds=60)
        worker = worker_pid(server.pid)
        print(f"\ngunicorn worker at start: peak memory {peak_mb(worker):.0f} MB\n")
        print(f"{'export':<34}{'rows':>10}{'seconds':>9}{'rows/s':>10}{'MB/s':>8}"
              f"{'1st byte':>10}{'peak MB':>9}")
        from people.models import Person

        owner = (Person.workspace.values_list("owner_email", flat=True)
                 .order_by("owner_email").first())
        for kind in ("csv", "ndjson"):
            for label, query in (("everyone", ""), ("one owner", f"&owner={owner}")):
                measure(base, token, kind, label, query, worker)
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(base: str, token: str, kind: str, label: str, query: str, worker: int) -> None:
    started = time.monotonic()
    first_byte = None
    size = lines = 0
    with requests.get(f"{base}/api/v1/people/export/?format={kind}{query}", stream=True,
                      headers={"Authorization": f"Token {token}"}, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_content(chunk_size=1 << 16):
            if first_byte is None:
                first_byte = time.monotonic() - started
            size += len(chunk)
            lines += chunk.count(b"\n")
    seconds = time.monotonic() - started
    rows = lines - (1 if kind == "csv" else 0)
    print(f"{kind + ', ' + label:<34}{rows:>10,}{seconds:>9.2f}{rows / seconds:>10,.0f}"
          f"{size / seconds / 1e6:>8.1f}{first_byte * 1000:>8.0f}ms{peak_mb(worker):>9.0f}")


def admin_token() -> str:
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    user, _ = User.objects.get_or_create(username="bench-admin", defaults={
        "email": "bench-admin@example.com", "role": User.Role.ADMIN})
    return Token.objects.get_or_create(user=user)[0].key


def worker_pid(master: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                                  text=True).stdout.split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("no gunicorn worker")


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
