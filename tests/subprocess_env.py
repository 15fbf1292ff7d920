"""Handing the test database to a subprocess (a `sync` command or a Celery worker)."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The URL of the database this test runs on (tests using it need transaction=True)."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict["USER"] or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def subprocess_env(**extra: str) -> dict:
    """The environment for an app subprocess on the test database, with Marketo limits raised
    so it is not paced by the rate limiter."""
    return os.environ | {"DATABASE_URL": database_url(), "MARKETO_CALLS_PER_WINDOW": "100000",
                         "MARKETO_MAX_IN_FLIGHT": "10", "MARKETO_BULK_POLL_MAX_SECONDS": "0.2",
                         **extra}


def celery_worker(queue: str, *, settings_file: Path | None = None,
                  **env: str) -> subprocess.Popen:
    """A real Celery worker process (one, solo pool) on the test database, taking only
    ``queue`` (a test's own, so it takes no stale message of another run); its stderr is kept
    to show why it died. ``settings_file``: a test's own settings module (beside the test);
    ``env``: more of the worker's environment."""
    if settings_file is not None:
        env |= {"DJANGO_SETTINGS_MODULE": settings_file.stem,
                "PYTHONPATH": os.pathsep.join([str(settings_file.parent), str(ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "salesactions", "worker", "-Q", queue,
         "--concurrency", "1", "--pool", "solo", "--without-heartbeat", "--without-gossip",
         "--without-mingle", "--loglevel", "WARNING"],
        env=subprocess_env(**env), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def worker_wait_for(condition: Callable[[], bool], what: str, worker: subprocess.Popen,
                    seconds: float = 60) -> None:
    """Return once ``condition()`` holds; fail with the worker's last words if it died, or
    after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
