"""A small client for the sandboxes' control surface (``/_sandbox/...``), for tests and benches.

The control surface is how a test plays the remote side: reseed, change records as a remote
user would, inject faults, and read per-endpoint call counters.
"""

from __future__ import annotations

import requests


class SandboxControl:
    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()

    def call(self, method: str, path: str, json=None, **params):
        response = self.http.request(method, f"{self.base_url}/_sandbox/{path.lstrip('/')}",
                                     json=json, params=params or None, timeout=60)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self, **config) -> dict:
        """Forget every change, token, fault and counter; reseed with ``config`` (e.g. leads=N)."""
        return self.call("POST", "reset", json=config)

    def configure(self, **config) -> dict:
        """Change settings (token TTL, limits, credentials, ...) without reseeding."""
        return self.call("POST", "config", json=config)

    def fault(self, kind: str, **options) -> dict:
        """Inject a fault; see each sandbox's FAULTS for kinds and options."""
        return self.call("POST", "faults", json={"kind": kind, **options})

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    def counters(self) -> dict:
        """``{"total": n, "by_endpoint": {"GET /rest/v1/leads.json": n, ...}}``"""
        return self.call("GET", "counters")

    def reset_counters(self) -> None:
        self.call("DELETE", "counters")
