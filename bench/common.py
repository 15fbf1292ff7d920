"""Shared plumbing for the benchmarks: a PostgreSQL database of their own, a sandbox
subprocess, running app commands with the bench database, and measuring a child process."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benches run as `python bench/<name>.py` and use the app's code
PYTHON = sys.executable
PG = "postgres://postgres@127.0.0.1:5432"


def database_url(name: str) -> str:
    """Create the bench database if missing and migrate it; returns its URL."""
    exists = subprocess.run(
        ["psql", f"{PG}/postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{name}'"],
        capture_output=True, text=True, check=True).stdout.strip()
    if not exists:
        subprocess.run(["psql", f"{PG}/postgres", "-qc", f'CREATE DATABASE "{name}"'], check=True)
    url = f"{PG}/{name}"
    manage(url, "migrate", "--noinput", quiet=True)
    return url


# Benches run the app with DEBUG off, which needs a strong key of its own (never a fixed one).
BENCH_SECRET_KEY = secrets.token_urlsafe(50)


def app_env(url: str, **extra: str) -> dict:
    return os.environ | {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "salesactions.settings",
                         "SECRET_KEY": os.environ.get("SECRET_KEY") or BENCH_SECRET_KEY,
                         **extra}


def manage(url: str, *args: str, quiet: bool = False, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=app_env(url, **env),
                          check=True, capture_output=quiet, text=True)


def psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", url, "-tAc", sql], capture_output=True, text=True,
                          check=True).stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_url(url: str, what: str, seconds: float) -> None:
    """Return once ``url`` answers at all (any status); fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):  # not up, or busy starting
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


class Sandbox:
    """``python -m sandbox.<name>`` in a subprocess of its own (as in production, the remote
    API does not share our process or its GIL)."""

    def __init__(self, name: str, leads: int, *options: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [PYTHON, "-m", f"sandbox.{name}", "--port", str(self.port), "--leads", str(leads),
             *options],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_url(f"{self.url}/_sandbox/config", f"the {name} sandbox", seconds=30)

    def control(self, method: str, path: str, json=None):
        response = requests.request(method, f"{self.url}/_sandbox/{path}", json=json, timeout=600)
        response.raise_for_status()
        return response.json() if response.content else None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def run_measured(command: list[str], env: dict, cwd: Path = ROOT) -> tuple[float, int, int]:
    """Run a child to completion; (wall seconds, exit code, peak RSS in MB) of that child.
    ``cwd``: the app checkout whose code it runs (another one for a before/after table)."""
    # stderr to a file, not a pipe read after the child ends: a long run's progress bar fills
    # the pipe's 64 KB and the child then blocks on its next write (a 10-million-lead sync did).
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                 stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            errors.seek(max(0, errors.seek(0, os.SEEK_END) - 2000))
            sys.stderr.write(errors.read().decode(errors="replace"))
    return elapsed, child.returncode, usage.ru_maxrss // 1024


def people_list_indexes() -> list[tuple[str, str]]:
    """The people table's list indexes as its migrations make them: (name, definition after
    ``ON people_person``)."""
    import importlib

    sys.path.insert(0, str(ROOT))

    def migration(name):
        return importlib.import_module(f"people.migrations.{name}")

    company = migration("0005_company_filter_covering")
    return [*((name, definition) for name, definition
              in migration("0002_list_indexes").INDEXES.items()
              if name != company.REPLACES[0]),
            migration("0003_list_statistics").EMAIL_INDEX, company.INDEX]


def people_reset(url: str) -> None:
    """Start from an empty workspace: no people, runs, streams or Marketo connection, and every
    list index in place (a sync killed mid-load leaves them dropped, and the next load, into a
    table without them, would not build them)."""
    psql(url, "TRUNCATE people_person, syncing_syncrun, syncing_syncstream, "
              "syncing_marketoconnection RESTART IDENTITY CASCADE")
    psql(url, "; ".join(f"CREATE INDEX IF NOT EXISTS {name} ON people_person {definition}"
                        for name, definition in people_list_indexes()))


def marketo_connect(url: str, sandbox: Sandbox) -> None:
    """Save the app's Marketo connection to the sandbox, as an admin would on Settings."""
    manage(url, "shell", "-c", (
        "from syncing.models import MarketoConnection; MarketoConnection("
        f"base_url='{sandbox.url}', client_id='sandbox-marketo-client', "
        "client_secret='sandbox-marketo-secret').save()"), quiet=True)


@contextmanager
def gunicorn(server_env: dict, app: str = "salesactions.wsgi", *options: str) -> Iterator[str]:
    """gunicorn with gunicorn.conf.py (the production settings) on a free loopback port,
    serving ``app`` (a module of ``bench/`` may serve its own: ``people_api:application``);
    ``options``: more of gunicorn's. Yields its base URL once it answers; stops it after."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config",
         str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "--access-logfile",
         "/dev/null", "--chdir", str(ROOT), "--pythonpath", str(ROOT / "bench"),
         "--log-level", "warning", *options, app], env=server_env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(10):  # a loaded machine: the first answer may take more than 2 s
            try:
                wait_for_url(f"{base}/healthz", "gunicorn", seconds=60)
                break
            except requests.Timeout:
                continue
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
