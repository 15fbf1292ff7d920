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
            if kind not in ("opened", "clicked"):
                raise ValueError(kind)
            return cls(kind, int(email_id), int(at_us), str(url or ""))
        except (ValueError, TypeError) as error:
            log.warning("dropping a malformed tracking line %r: %s", line, error)
            return None
