"""Marketo's call budget with several processes: paced per process, or shared in Redis.

    python bench/marketo_budget.py                    # 4 processes, 40 s each way
    python bench/marketo_budget.py --processes 8 --seconds 60

The Marketo sandbox runs with Marketo's own limits (100 calls per sliding 20 s, 10 at once) and
answers after ``--delay-ms``. N processes (as N workers, or workers on several machines) each
hold the app's Marketo client with the app's default share of the limits (50 calls per 20 s, 5
at once, ``MARKETO_CALLS_PER_WINDOW`` / ``MARKETO_MAX_IN_FLIGHT``) and call as fast as it lets
them (Get Custom Activity Types, one attempt, so every refusal is seen):

- **per process**: each client paces itself (``CallLimiter``), as every process did before;
- **shared**: every client takes its calls from one count in Redis (``SharedCallLimiter``), as
  the app's clients do when ``REDIS_URL`` is set.

Prints, per way: calls answered, calls Marketo refused (606 rate limit, 615 concurrency) and
the answered calls per 20 s against the budget. Needs a Redis (``--redis-url``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from collections import Counter

from common import PYTHON, ROOT, Sandbox

sys.path.insert(0, str(ROOT))
from sandbox.marketo.app import CONFIG_DEFAULTS  # noqa: E402
from syncing.clients.marketo import MarketoClient, MarketoError  # noqa: E402
from syncing.clients.shared_limiter import SharedCallLimiter  # noqa: E402

# The app's defaults (salesactions/settings.py).
CALLS_PER_WINDOW, WINDOW_SECONDS, MAX_IN_FLIGHT = 50, 20, 5
THREADS = MAX_IN_FLIGHT  # as many callers per process as calls it may have in flight


def child(url: str, seconds: float, redis_url: str | None, name: str) -> None:
    """One process: THREADS threads calling through one client until ``seconds`` pass."""
    import threading

    limiter = None
    if redis_url:
        limiter = SharedCallLimiter(redis_url, name, CALLS_PER_WINDOW, WINDOW_SECONDS,
                                    MAX_IN_FLIGHT, lease_seconds=30)
    client = MarketoClient(url, CONFIG_DEFAULTS["client_id"], CONFIG_DEFAULTS["client_secret"],
                           calls_per_window=CALLS_PER_WINDOW, window_seconds=WINDOW_SECONDS,
                           max_in_flight=MAX_IN_FLIGHT, max_attempts=1, limiter=limiter)
    client.authenticate()
    outcomes: Counter = Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def call() -> None:
        while True:
            with client.deadline(max(0.0, stop_at - time.monotonic())):
                if time.monotonic() >= stop_at:
                    return
                try:
                    client.custom_activity_types()
                    outcome = "answered"
                except MarketoError as error:
                    outcome = error.code or "error"
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=call) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(outcomes))


def run(url: str, processes: int, seconds: float, redis_url: str | None) -> Counter:
    name = f"bench-{uuid.uuid4().hex}"
    command = [PYTHON, __file__, "--child", url, "--seconds", str(seconds),
               "--name", name, *(["--redis-url", redis_url] if redis_url else [])]
    children = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
    total: Counter = Counter()
    for process in children:
        output, _ = process.communicate(timeout=seconds + 120)
        if process.returncode:
            sys.exit(f"a caller failed ({process.returncode})")
        total.update(json.loads(output))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--delay-ms", type=int, default=100,
                        help="the sandbox answers after this long (a remote round trip)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.seconds, args.redis_url if args.name and args.redis_url != "-"
              else None, args.name)
        return

    sandbox = Sandbox("marketo", 10)
    try:
        sandbox.control("POST", "config", json={"answer_delay_ms": args.delay_ms})
        print(f"{args.processes} processes x {THREADS} threads, {args.seconds:g} s each way; "
              f"Marketo allows 100 calls / 20 s and 10 at once; each client's budget "
              f"{CALLS_PER_WINDOW} / {WINDOW_SECONDS} s and {MAX_IN_FLIGHT} at once; answers "
              f"after {args.delay_ms} ms\n")
        print(f"{'limits':<12} {'answered':>9} {'606 refused':>12} {'615 refused':>12} "
              f"{'answered per 20 s':>19}")
        for label, redis_url in (("per process", "-"), ("shared", args.redis_url)):
            time.sleep(WINDOW_SECONDS)  # Marketo's window empties between the two
            outcomes = run(sandbox.url, args.processes, args.seconds, redis_url)
            per_window = outcomes["answered"] / args.seconds * 20
            print(f"{label:<12} {outcomes['answered']:>9} {outcomes['606']:>12} "
                  f"{outcomes['615']:>12} {per_window:>19.0f}", flush=True)
            other = set(outcomes) - {"answered", "606", "615", "BUSY"}
            if other:
                print(f"{'':<12} other outcomes: {dict((key, outcomes[key]) for key in other)}")
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
