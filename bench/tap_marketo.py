"""Singer's tap-marketo extracting the sandbox's leads (bulk export), for comparison with
bench/people_sync.py. Extraction only: its RECORD messages are counted, not stored.

    .venv/bin/python bench/tap_marketo.py --leads 100000                # sandbox limits raised
    .venv/bin/python bench/tap_marketo.py --leads 100000 --real-limits  # Marketo's real limits
    .venv/bin/python bench/tap_marketo.py --leads 100000 --marketo-url http://127.0.0.1:8010

Without --marketo-url it starts ``python -m sandbox.marketo --leads N`` on a free loopback port
and stops it at the end; with it, the sandbox must hold N leads and gets its config back after.
tap-marketo lives in its own virtualenv, bench/.venv-tap (created here on first use: its pins
conflict with the app's), and runs through bench/tap_marketo_runner.py, which points its
hard-coded host at the sandbox; its 1 s poll interval is plain config.

Prints leads extracted, wall seconds, leads/s, Marketo API calls (sandbox counters, discovery
excluded), peak RSS of the tap process, and where its time went. The tap's log, with arrival
times, goes to bench/results/tap_marketo-N.log.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from common import ROOT, Sandbox

sys.path.insert(0, str(ROOT))
from sandbox.marketo.app import CONFIG_DEFAULTS  # noqa: E402

VENV = ROOT / "bench" / ".venv-tap"
TAP_PYTHON = VENV / "bin" / "python"
RUNNER = ROOT / "bench" / "tap_marketo_runner.py"
RESULTS = ROOT / "bench" / "results"
CLIENT_ID = CONFIG_DEFAULTS["client_id"]
CLIENT_SECRET = CONFIG_DEFAULTS["client_secret"]
# Raised far above what either tool uses, so the comparison is about the tools, not the quota.
RAISED_LIMITS = {"rate_limit_calls": 100_000, "daily_quota": 10_000_000,
                 "bulk_daily_quota_mb": 100_000}
LIMIT_KEYS = ("rate_limit_calls", "rate_limit_seconds", "max_concurrent", "daily_quota",
              "bulk_daily_quota_mb", "bulk_max_processing", "bulk_max_queued")
# Seed leads are created from 2023-01-01 on (sandbox/seed.py), so this covers all of them.
START_DATE = "2023-01-01T00:00:00Z"
# tap-marketo requires an endpoint with a Munchkin id (123-ABC-456) and builds
# https://<id>.mktorest.com from it; the runner replaces that host, so this is a placeholder.
PLACEHOLDER_ENDPOINT = "https://123-ABC-456.mktorest.com/rest"
RECORD = b'{"type": "RECORD", "stream": "leads", "record": '
RECORD_ID = RECORD + b'{"id": '


def ensure_tap() -> None:
    """Create bench/.venv-tap with tap-marketo from PyPI unless it is already there."""
    if TAP_PYTHON.exists() and subprocess.run(
            [TAP_PYTHON, "-c", "import tap_marketo"], capture_output=True).returncode == 0:
        return
    print("installing tap-marketo into bench/.venv-tap ...", file=sys.stderr, flush=True)
    subprocess.run(["python3", "-m", "venv", VENV], check=True)
    subprocess.run([VENV / "bin" / "pip", "install", "--quiet", "tap-marketo"], check=True)


def control(base_url: str, method: str, path: str, body=None):
    """Call the sandbox's /_sandbox/ control surface."""
    response = requests.request(method, f"{base_url}/_sandbox/{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json() if response.content else None


def properties_file(base_url: str, config_path: Path, directory: Path) -> Path:
    """Run the tap's --discover and select the leads stream with every field of it."""
    discovery = subprocess.run(
        [TAP_PYTHON, RUNNER, "--base-url", base_url, "--", "--config", config_path,
         "--discover"], capture_output=True)
    if discovery.returncode:
        raise SystemExit("tap-marketo --discover failed:\n" + discovery.stderr.decode()[-2000:])
    discovered = discovery.stdout
    leads = next(s for s in json.loads(discovered)["streams"] if s["tap_stream_id"] == "leads")
    for entry in leads["metadata"]:  # breadcrumb [] is the stream, the others its fields
        entry["metadata"]["selected"] = True
    path = directory / "properties.json"
    path.write_text(json.dumps({"streams": [leads]}))
    return path


class LogTimeline(threading.Thread):
    """Copy the tap's stderr to a log file, each line with its arrival time, and keep the
    times of the lines that mark export windows."""

    def __init__(self, stream, path: Path, started: float):
        super().__init__(daemon=True)
        self.stream, self.path, self.started = stream, path, started
        self.windows = 0
        self.wait_seconds = 0.0
        self._scheduled: float | None = None

    def run(self) -> None:
        with open(self.path, "w", encoding="utf-8") as log:
            for raw in self.stream:
                now = time.monotonic() - self.started
                line = raw.decode("utf-8", "replace").rstrip("\n")
                log.write(f"{now:9.3f} {line}\n")
                if "Scheduling export job" in line:
                    self.windows += 1
                    self._scheduled = now
                elif line.endswith("status is Completed") and self._scheduled is not None:
                    self.wait_seconds += now - self._scheduled
                    self._scheduled = None


def run_tap(base_url: str, leads: int, directory: Path) -> dict:
    """Run the tap's sync of the leads stream; count its records and measure it."""
    config_path = directory / "config.json"
    config_path.write_text(json.dumps({
        "start_date": START_DATE, "endpoint": PLACEHOLDER_ENDPOINT,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "poll_interval": 1}))
    properties = properties_file(base_url, config_path, directory)
    phases_path = directory / "phases.json"
    control(base_url, "DELETE", "counters")

    RESULTS.mkdir(exist_ok=True)
    log_path = RESULTS / f"tap_marketo-{leads}.log"
    started = time.monotonic()
    tap = subprocess.Popen(
        [TAP_PYTHON, RUNNER, "--base-url", base_url, "--phases", phases_path, "--",
         "--config", config_path, "--properties", properties],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 20)
    timeline = LogTimeline(tap.stderr, log_path, started)
    timeline.start()
    records = duplicates = unexpected = 0
    seen = bytearray(leads + 1)
    for line in tap.stdout:
        if not line.startswith(RECORD):
            continue
        records += 1
        if line.startswith(RECORD_ID):  # the id is the schema's first field: no JSON parse
            lead_id = int(line[len(RECORD_ID):line.index(b",", len(RECORD_ID))])
        else:
            lead_id = json.loads(line)["record"]["id"]
        if not 1 <= lead_id <= leads:
            unexpected += 1
        elif seen[lead_id]:
            duplicates += 1
        else:
            seen[lead_id] = 1
    _, status, usage = os.wait4(tap.pid, 0)
    seconds = time.monotonic() - started
    tap.returncode = os.waitstatus_to_exitcode(status)
    timeline.join(timeout=10)
    calls = control(base_url, "GET", "counters")
    phases = json.loads(phases_path.read_text()) if phases_path.exists() else {"phases": {}}
    return {"exit_code": tap.returncode, "records": records, "distinct": records - duplicates
            - unexpected, "duplicates": duplicates, "unexpected": unexpected,
            "seconds": seconds, "rss_mb": usage.ru_maxrss // 1024, "calls": calls,
            "phases": phases["phases"], "windows": timeline.windows,
            "job_wait_seconds": timeline.wait_seconds, "log": log_path}


def measure(leads: int, marketo_url: str | None = None, real_limits: bool = False) -> dict:
    """Start (or use) a sandbox, set its limits, run the tap; the figures as a dict."""
    ensure_tap()
    sandbox = None if marketo_url else Sandbox("marketo", leads)
    base_url = (marketo_url or sandbox.url).rstrip("/")
    before = control(base_url, "GET", "config")
    limits = ({key: CONFIG_DEFAULTS[key] for key in LIMIT_KEYS} if real_limits
              else RAISED_LIMITS)
    try:
        control(base_url, "POST", "config", limits)
        with tempfile.TemporaryDirectory(prefix="bench-tap-marketo-") as directory:
            return run_tap(base_url, leads, Path(directory))
    finally:
        if sandbox:
            sandbox.stop()
        else:  # someone else's sandbox: leave its limits as they were
            control(base_url, "POST", "config", {key: before[key] for key in limits})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--marketo-url", help="an already running sandbox holding N leads")
    parser.add_argument("--real-limits", action="store_true",
                        help="Marketo's real limits instead of raised ones")
    args = parser.parse_args()

    result = measure(args.leads, args.marketo_url, args.real_limits)
    seconds = result["seconds"]
    limits = "real Marketo limits" if args.real_limits else "sandbox limits raised"
    print(f"tap-marketo leads (bulk export, {limits}): {result['records']:,} of "
          f"{args.leads:,} leads extracted in {seconds:.1f} s | "
          f"{result['records'] / seconds:,.0f} leads/s | Marketo calls "
          f"{result['calls']['total']} | peak RSS {result['rss_mb']} MB (tap process)")
    print(f"  {result['windows']} export windows; job waits (create -> Completed, "
          f"from the log) {result['job_wait_seconds']:.1f} s")
    phases = sorted(result["phases"].items(), key=lambda item: -item[1])
    print("  tap main thread: " + ", ".join(f"{name} {value:.1f} s" for name, value in phases))
    by_endpoint = sorted(result["calls"]["by_endpoint"].items(), key=lambda item: -item[1])
    print("  calls: " + ", ".join(f"{name} {count}" for name, count in by_endpoint))
    print(f"  log: {result['log'].relative_to(ROOT)}")

    problems = []
    if result["exit_code"]:
        problems.append(f"tap exited with code {result['exit_code']}")
    if result["records"] != args.leads or result["distinct"] != args.leads:
        problems.append(f"expected {args.leads:,} leads, got {result['records']:,} records "
                        f"({result['distinct']:,} distinct, {result['duplicates']:,} duplicates, "
                        f"{result['unexpected']:,} unknown ids)")
    if problems:
        raise SystemExit("NOT ALL LEADS EXTRACTED: " + "; ".join(problems))


if __name__ == "__main__":
    main()
