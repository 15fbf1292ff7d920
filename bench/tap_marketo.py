"""Singer's tap-marketo extracting the sandbox's leads (bulk export), for comparison with
bench/people_sync.py. Extraction only: its RECORD messages are counted, not stored.

    .venv/bin/python bench/tap_marketo.py --leads 100000                # sandbox limits raised
    .venv/bin/python bench/tap_marketo.py --leads 100000 --real-limits  # Marketo's real limits
    .venv/bin/python bench/tap_marketo.py --leads 100000 --created-at   # createdAt windows
    .venv/bin/python bench/tap_marketo.py --leads 100000 --marketo-url http://127.0.0.1:8010

By default the tap finds the sandbox supports updatedAt filters ("Corona") and exports by
updatedAt windows; the sandbox finds those leads by scanning ~430 days of createdAt per window,
far slower than a createdAt window. --created-at turns that filter off in the sandbox (the tap
then gets 1035 and exports by createdAt windows, as our sync does), to compare like with like.

Without --marketo-url it starts ``python -m sandbox.marketo --leads N`` on a free loopback port
and stops it at the end; with it, the sandbox must hold N leads and gets its config back after.
tap-marketo lives in its own virtualenv, bench/.venv-tap (created here on first use: its pins
conflict with the app's), and runs through bench/tap_marketo_runner.py, which points its
hard-coded host at the sandbox; its 1 s poll interval is plain config.

Prints leads extracted, wall seconds, leads/s, Marketo API calls (sandbox counters, discovery
excluded), peak RSS of the tap process, and where its time went: py-spy (installed beside the
tap) samples it from outside at 100 Hz, pausing it for microseconds per sample, so nothing
inside the tap changes (--no-profile skips it). The tap's log, with arrival times, goes to
bench/results/tap_marketo-N.log.
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
PYSPY = VENV / "bin" / "py-spy"
# Phases of the tap's main thread, from py-spy's stacks (see phase_of).
OTHER_CALLS = "other API calls (token, usage, Corona test, create job)"
_OUTER_PHASES = {"wait_for_export": "job wait (status polls + 1 s sleeps)",
                 "create_export": OTHER_CALLS, "test_corona": OTHER_CALLS,
                 "refresh_token": OTHER_CALLS, "update_calls_today": OTHER_CALLS}
_NETWORK = ("urllib3/", "requests/", "http/client.py", "socket.py", "ssl.py")


def ensure_tap() -> None:
    """Create bench/.venv-tap with tap-marketo from PyPI unless it is already there."""
    if TAP_PYTHON.exists() and subprocess.run(
            [TAP_PYTHON, "-c", "import tap_marketo"], capture_output=True).returncode == 0:
        return
    print("installing tap-marketo into bench/.venv-tap ...", file=sys.stderr, flush=True)
    subprocess.run(["python3", "-m", "venv", VENV], check=True)
    subprocess.run([VENV / "bin" / "pip", "install", "--quiet", "tap-marketo"], check=True)


def ensure_pyspy() -> bool:
    """py-spy beside the tap (a sampling profiler that reads the process from outside)."""
    if not PYSPY.exists():
        subprocess.run([VENV / "bin" / "pip", "install", "--quiet", "py-spy"], check=False)
    return PYSPY.exists()


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


def phase_of(stack: list[str]) -> str:
    """The phase of one sampled stack (py-spy frames "function (file:line)", outermost first)."""
    functions = [frame.split(" (", 1)[0] for frame in stack]
    for function in functions:
        if function in _OUTER_PHASES:
            return _OUTER_PHASES[function]
    if "sync_leads" not in functions:
        return "start-up and state"
    # Innermost first: what the extraction loop is doing at that moment.
    for frame, function in zip(reversed(stack), reversed(functions), strict=True):
        if any(part in frame for part in _NETWORK):
            return "download: HTTP/socket reads"
        if function == "readinto":
            return "download: IterStream re-chunking"
        if "singer/messages.py" in frame or "simplejson/" in frame:
            return "emit: RECORD JSON to stdout"
        if "pendulum/" in frame or function in ("format_value", "format_values"):
            return "parse: typing and dates (format_values, pendulum)"
        if function in ("stream_rows", "<genexpr>"):
            return "parse: decode + CSV"
    return "parse: record loop"


def phases_from(raw_path: Path, seconds: float) -> dict[str, float]:
    """Seconds per phase from py-spy's raw (folded) output, scaled to the wall time."""
    counts: dict[str, int] = {}
    if raw_path.exists():
        for line in raw_path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            phase = phase_of(stack.split(";"))
            counts[phase] = counts.get(phase, 0) + int(count)
    total = sum(counts.values()) or 1
    return {phase: seconds * count / total for phase, count in counts.items()}


def run_tap(base_url: str, leads: int, directory: Path, profile: bool) -> dict:
    """Run the tap's sync of the leads stream; count its records and measure it."""
    config_path = directory / "config.json"
    config_path.write_text(json.dumps({
        "start_date": START_DATE, "endpoint": PLACEHOLDER_ENDPOINT,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "poll_interval": 1}))
    properties = properties_file(base_url, config_path, directory)
    RESULTS.mkdir(exist_ok=True)
    raw_profile = RESULTS / f"tap_marketo-{leads}.py-spy.txt"
    raw_profile.unlink(missing_ok=True)  # a previous run's stacks are not this run's phases
    control(base_url, "DELETE", "counters")

    log_path = RESULTS / f"tap_marketo-{leads}.log"
    started = time.monotonic()
    tap = subprocess.Popen(
        [TAP_PYTHON, RUNNER, "--base-url", base_url, "--",
         "--config", config_path, "--properties", properties],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 20)
    # --idle keeps the samples of a waiting tap (its sleeps and socket reads are phases too).
    # py-spy pauses the tap for each sample (microseconds); --nonblocking would not, but then
    # gives torn stacks while the tap is busy.
    spy = subprocess.Popen(
        [PYSPY, "record", "--pid", str(tap.pid), "--rate", "100", "--idle",
         "--format", "raw", "--output", raw_profile],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if profile else None
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
    if spy:
        spy.wait(timeout=60)  # it writes its file when the tap has gone
    return {"exit_code": tap.returncode, "records": records, "distinct": records - duplicates
            - unexpected, "duplicates": duplicates, "unexpected": unexpected,
            "seconds": seconds, "rss_mb": usage.ru_maxrss // 1024, "calls": calls,
            "phases": phases_from(raw_profile, seconds) if spy else {}, "windows": timeline.windows,
            "job_wait_seconds": timeline.wait_seconds, "log": log_path}


def measure(leads: int, marketo_url: str | None = None, real_limits: bool = False,
            profile: bool = True, created_at: bool = False) -> dict:
    """Start (or use) a sandbox, set its limits, run the tap; the figures as a dict."""
    ensure_tap()
    profile = profile and ensure_pyspy()
    sandbox = None if marketo_url else Sandbox("marketo", leads)
    base_url = (marketo_url or sandbox.url).rstrip("/")
    before = control(base_url, "GET", "config")
    limits = ({key: CONFIG_DEFAULTS[key] for key in LIMIT_KEYS} if real_limits
              else dict(RAISED_LIMITS))
    limits["bulk_updated_at_filter"] = not created_at
    try:
        control(base_url, "POST", "config", limits)
        with tempfile.TemporaryDirectory(prefix="bench-tap-marketo-") as directory:
            return run_tap(base_url, leads, Path(directory), profile)
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
    parser.add_argument("--created-at", action="store_true",
                        help="no updatedAt filter in the sandbox: the tap exports by createdAt")
    parser.add_argument("--no-profile", action="store_true", help="do not sample with py-spy")
    args = parser.parse_args()

    result = measure(args.leads, args.marketo_url, args.real_limits, not args.no_profile,
                     args.created_at)
    seconds = result["seconds"]
    limits = "real Marketo limits" if args.real_limits else "sandbox limits raised"
    windows = "createdAt" if args.created_at else "updatedAt"
    print(f"tap-marketo leads (bulk export by {windows}, {limits}): {result['records']:,} of "
          f"{args.leads:,} leads extracted in {seconds:.1f} s | "
          f"{result['records'] / seconds:,.0f} leads/s | Marketo calls "
          f"{result['calls']['total']} | peak RSS {result['rss_mb']} MB (tap process)")
    print(f"  {result['windows']} export windows; job waits (create -> Completed, "
          f"from the log) {result['job_wait_seconds']:.1f} s")
    phases = sorted(result["phases"].items(), key=lambda item: -item[1])
    if phases:
        print("  tap main thread (py-spy): "
              + ", ".join(f"{name} {value:.1f} s" for name, value in phases))
    by_endpoint = sorted(result["calls"]["by_endpoint"].items(), key=lambda item: -item[1])
    print("  calls: " + ", ".join(f"{name} {count}" for name, count in by_endpoint))
    print(f"  log: {result['log'].relative_to(ROOT)}; py-spy stacks beside it")

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
