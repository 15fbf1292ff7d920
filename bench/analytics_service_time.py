"""Service time of the analytics reports and page, one request at a time, in-process (Django's
test client: the whole middleware stack, no HTTP or gunicorn), on the data of
``bench/analytics.py`` (run it first). For each: the median wall time and the median CPU time
of this process (the Python side; PostgreSQL's CPU is in its own process), uncached.

    python bench/analytics_service_time.py                  # this tree
    git archive main | tar -x -C /tmp/main-tree
    python bench/analytics_service_time.py /tmp/main-tree   # another tree's code, same venv

Run two trees alternately (A B A B) to compare them under the same load: on a shared
machine the wall times move with the load, the CPU times much less.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
DATABASE = "salesactions_bench_analytics"
SAMPLES = int(os.environ.get("SAMPLES", "9"))


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        DJANGO_SETTINGS_MODULE="salesactions.settings", ANALYTICS_CACHE_SECONDS="0",
        DEBUG="false", LOG_LEVEL="ERROR",
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-" + os.urandom(32).hex())
    import django

    django.setup()
    import analytics

    assert Path(analytics.__file__).is_relative_to(ROOT), analytics.__file__
    from django.conf import settings
    from django.test import Client

    from accounts.models import User

    settings.ALLOWED_HOSTS = ["*"]
    admin, seller = Client(), Client()
    admin.force_login(User.objects.get(username="bench-admin"))
    seller.force_login(User.objects.get(username="seller07"))
    end = date.today() - timedelta(days=1)
    print(f"{ROOT}: load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for days in (30, 90):
        query = f"from={end - timedelta(days=days - 1)}&to={end}"
        for label, client, path in (
                ("activity seller, team", admin, "/api/v1/analytics/activity/?group_by=seller"),
                ("activity day, team", admin, "/api/v1/analytics/activity/?group_by=day"),
                ("activity week, team", admin, "/api/v1/analytics/activity/?group_by=week"),
                ("emails template, team", admin, "/api/v1/analytics/emails/?group_by=template"),
                ("page, the team", admin, "/analytics/?preset=custom"),
                ("page, a seller", seller, "/analytics/?preset=custom")):
            url = f"{path}&{query}"
            assert client.get(url).status_code == 200
            walls, cpus = [], []
            for _ in range(SAMPLES):
                wall, cpu = time.perf_counter(), time.process_time()
                client.get(url)
                walls.append((time.perf_counter() - wall) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            print(f"  {label + f', {days} d':<30} wall {statistics.median(walls):6.1f} ms   "
                  f"Python CPU {statistics.median(cpus):6.1f} ms", flush=True)


if __name__ == "__main__":
    main()
