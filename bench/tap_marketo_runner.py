"""Run singer's tap-marketo (installed in bench/.venv-tap) against a local Marketo sandbox.

    bench/.venv-tap/bin/python bench/tap_marketo_runner.py --base-url http://127.0.0.1:PORT \
        -- --config config.json --properties properties.json

Everything after ``--`` goes to tap-marketo's own ``main()`` unchanged. Exactly one thing of the
tap is patched, its host (see ``_patch_host``). Its bulk poll interval needs no patch:
``Client(**config)`` passes the config key ``poll_interval`` (seconds, default 300) through.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# bench/tap_marketo.py (the benchmark) sits beside this file, and the script's folder comes
# first on sys.path: without this, "import tap_marketo" would find the benchmark.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import tap_marketo  # noqa: E402
from tap_marketo.client import Client  # noqa: E402


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


def main() -> None:
    """Patch the host, then run tap-marketo's main() with the remaining arguments."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="the sandbox, e.g. http://127.0.0.1:8010")
    parser.add_argument("tap_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    tap_args = args.tap_args[1:] if args.tap_args[:1] == ["--"] else args.tap_args
    _patch_host(args.base_url)
    sys.argv = ["tap-marketo", *tap_args]
    tap_marketo.main()


if __name__ == "__main__":
    main()
