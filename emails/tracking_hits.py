"""A hit on the open pixel or the click redirect, as it travels through the Redis buffer
(``tracking_buffer``): one short JSON line, its moment in whole microseconds (exact in JSON
and in the database, so a re-applied hit is recognised as the same event)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ID = 2**63 - 1
#: 9999-12-31, in microseconds since the epoch.
MAX_US = 253402300799 * 10**6


def now_us() -> int:
    """Now, in whole microseconds since the epoch (exact in JSON and in the database)."""
    return time.time_ns() // 1000


def us_to_datetime(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class Hit:
    """One open or click, as the request saw it."""

    kind: str  # "opened" or "clicked"
    email_id: int
    at_us: int
    url: str = ""

    def line(self) -> str:
        return json.dumps([self.kind, self.email_id, self.at_us, self.url],
                          separators=(",", ":"))

    @classmethod
    def parse(cls, line: bytes | str) -> Hit | None:
        try:
            kind, email_id, at_us, url = json.loads(line)
            if kind not in ("opened", "clicked") or not isinstance(url, str):
                raise ValueError(kind)
            if not (isinstance(email_id, int) and 1 <= email_id <= MAX_ID
                    and isinstance(at_us, int) and 0 < at_us < MAX_US):
                raise ValueError("out of range")
            return cls(kind, email_id, at_us, url)
        except (ValueError, TypeError) as error:
            log.warning("dropping a malformed tracking line %r: %s", line, error)
            return None
