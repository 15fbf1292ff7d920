"""Run singer's tap-marketo (installed in bench/.venv-tap) against a local Marketo sandbox.

    bench/.venv-tap/bin/python bench/tap_marketo_runner.py --base-url http://127.0.0.1:PORT \
        [--phases FILE] -- --config config.json --catalog catalog.json

Everything after ``--`` goes to tap-marketo's own ``main()`` unchanged. Exactly one thing of the
tap is patched, its host (see ``_patch_host``); the bulk poll interval needs no patch because
``Client.__init__`` takes ``poll_interval`` from the config file (``Client(**config)``).

``--phases FILE`` samples the tap's main thread every 10 ms and writes, at exit, how many
seconds it spent in each phase (job waits, downloading, CSV parsing, formatting, emitting).
Sampling only reads stack frames; it changes nothing the tap does.
"""

from __future__ import annotations

import argparse
import atexit
import json
import sys
import threading
import time
from pathlib import Path

# bench/tap_marketo.py (the benchmark) sits beside this file, and the script's folder comes
# first on sys.path: without this, "import tap_marketo" would find the benchmark.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import tap_marketo  # noqa: E402
from tap_marketo.client import Client  # noqa: E402

SAMPLE_SECONDS = 0.01
# Outer frames that say which phase the tap is in, looked for from the outermost inwards.
_PHASE_FUNCTIONS = {
    "wait_for_export": "job wait (status polls + poll_interval sleeps)",
    "test_corona": "other API calls (token, usage, Corona test, create job)",
    "create_export": "other API calls (token, usage, Corona test, create job)",
    "refresh_token": "other API calls (token, usage, Corona test, create job)",
    "update_calls_today": "other API calls (token, usage, Corona test, create job)",
}
_NETWORK_MODULES = ("/urllib3/", "/requests/", "/http/client.py", "/socket.py", "/ssl.py")


def _patch_host(base_url: str) -> None:
    """Send every request of the tap to the sandbox.

    ``Client.get_url`` hard-codes ``https://{domain}.mktorest.com/{path}`` (the domain is the
    Munchkin id taken from the ``endpoint`` config key), and both the token request and
    ``Client._request`` build their URLs with it, so this one method is the whole host: the
    replacement keeps the tap's path and swaps only scheme, host and port.
    """
    base = base_url.rstrip("/")

    def get_url(self, url):
        return f"{base}/{url}"

    Client.get_url = get_url


def _classify(frame) -> str:
    """The phase a stack belongs to, from its frames (innermost first in ``frame``)."""
    frames = []
    while frame is not None:
        frames.append((frame.f_code.co_filename, frame.f_code.co_name))
        frame = frame.f_back
    names = {name for _, name in frames}
    for name, phase in _PHASE_FUNCTIONS.items():
        if name in names:
            return phase
    if "sync_leads" not in names:
        return "start-up, discovery and state"
    for filename, name in frames:  # innermost first: what the extraction loop is doing now
        if any(part in filename for part in _NETWORK_MODULES):
            return "download: HTTP/socket reads"
        if name == "readinto" and filename.endswith("tap_marketo/sync.py"):
            return "download: IterStream re-chunking (bytes slicing)"
        if filename.endswith("singer/messages.py") or "json" in filename:
            return "emit: RECORD JSON to stdout"
        if "/pendulum/" in filename or name in ("format_value", "format_values"):
            return "parse: format values (types, dates)"
        if filename.endswith("tap_marketo/sync.py") and name in ("stream_rows", "<genexpr>"):
            return "parse: decode + CSV"
        if name == "sync_leads":
            return "parse: record loop"
    return "start-up, discovery and state"


def _start_sampler(path: str) -> None:
    """Sample the main thread's stack; write seconds per phase to ``path`` at exit."""
    main_id = threading.main_thread().ident
    counts: dict[str, int] = {}
    started = time.monotonic()

    def sample() -> None:
        while True:
            time.sleep(SAMPLE_SECONDS)
            frame = sys._current_frames().get(main_id)
            if frame is not None:
                phase = _classify(frame)
                counts[phase] = counts.get(phase, 0) + 1

    def write() -> None:
        total = sum(counts.values()) or 1
        elapsed = time.monotonic() - started
        # Scale sample counts to the wall time: sleeps overshoot, so counts undercount it.
        phases = {phase: round(elapsed * count / total, 2) for phase, count in counts.items()}
        with open(path, "w", encoding="utf-8") as out:
            json.dump({"seconds": round(elapsed, 2), "phases": phases}, out, indent=1)

    threading.Thread(target=sample, daemon=True, name="phase-sampler").start()
    atexit.register(write)


def main() -> None:
    """Patch the host, optionally start the phase sampler, then run tap-marketo's main()."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="the sandbox, e.g. http://127.0.0.1:8010")
    parser.add_argument("--phases", help="write seconds per phase (JSON) to this file")
    parser.add_argument("tap_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    tap_args = args.tap_args[1:] if args.tap_args[:1] == ["--"] else args.tap_args
    _patch_host(args.base_url)
    if args.phases:
        _start_sampler(args.phases)
    sys.argv = ["tap-marketo", *tap_args]
    tap_marketo.main()


if __name__ == "__main__":
    main()
