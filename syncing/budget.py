"""API budget counters: the calls the app spends of Marketo's and Salesforce's limits.

The clients know the wire only; the client factories (``settings.services``) pass them these
recorders as ``on_call`` / ``on_usage`` hooks, so every request is counted as it leaves, from
any process. Counters live in the cache (Redis in production), one key per window and per day:
an ``incr`` per call, nothing else. Sync health reads them (``budget_snapshot``) without a
call to Marketo or Salesforce.

- Marketo: calls in the current 20-second window (Marketo's limit is 100 per sliding 20 s; the
  counter uses fixed 20-s windows, close enough to show how near the app runs to it) and calls
  today, against ``MARKETO_DAILY_API_QUOTA``. Marketo's day ends at midnight US Central time.
- Salesforce: the org's daily usage from the last ``Sforce-Limit-Info: api-usage=used/limit``
  any client saw (all integrations of the org, a rolling 24 hours), against the admin's share
  (``salesforce_daily_api_share_percent``), and the app's own calls today (UTC).

A cache that fails never fails a call: the recorders log and carry on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

MARKETO_WINDOW_SECONDS = 20
MARKETO_WINDOW_LIMIT = 100
MARKETO_DAY_ZONE = ZoneInfo("America/Chicago")
DAY_SECONDS = 24 * 3600
# Kept a little longer than they count, so a day's total can still be read just after it ends.
KEEP_DAY = 2 * DAY_SECONDS
KEEP_WINDOW = 3 * MARKETO_WINDOW_SECONDS
PREFIX = "syncing:budget"


def _marketo_window_key(moment: float) -> str:
    return f"{PREFIX}:marketo:window:{int(moment // MARKETO_WINDOW_SECONDS)}"


def _marketo_day_key(moment: float) -> str:
    day = datetime.fromtimestamp(moment, MARKETO_DAY_ZONE).date()
    return f"{PREFIX}:marketo:day:{day.isoformat()}"


def _salesforce_day_key(moment: float) -> str:
    return f"{PREFIX}:salesforce:day:{datetime.fromtimestamp(moment, UTC).date().isoformat()}"


SALESFORCE_USAGE_KEY = f"{PREFIX}:salesforce:usage"


def _bump(key: str, keep: int) -> None:
    try:
        cache.incr(key)
    except ValueError:  # the first call of its window or day
        if not cache.add(key, 1, keep):
            cache.incr(key)


def marketo_call_recorded() -> None:
    """``on_call`` hook of every Marketo client: one REST or bulk request left."""
    moment = time.time()
    try:
        _bump(_marketo_window_key(moment), KEEP_WINDOW)
        _bump(_marketo_day_key(moment), KEEP_DAY)
    except Exception:  # the budget is a view on the calls, never a reason to fail one
        log.warning("could not record a Marketo call in the cache", exc_info=True)


def marketo_window_full_for(limit: int) -> float:
    """Seconds until the current 20-s window ends when the app's Marketo calls in it, across
    its processes, have reached ``limit``; 0 when there is room (or the cache cannot say)."""
    moment = time.time()
    try:
        calls = cache.get(_marketo_window_key(moment)) or 0
    except Exception:
        return 0.0
    if calls < limit:
        return 0.0
    return MARKETO_WINDOW_SECONDS - moment % MARKETO_WINDOW_SECONDS


def salesforce_call_recorded() -> None:
    """``on_call`` hook of every Salesforce client: one request left."""
    try:
        _bump(_salesforce_day_key(time.time()), KEEP_DAY)
    except Exception:
        log.warning("could not record a Salesforce call in the cache", exc_info=True)


def salesforce_usage_recorded(usage) -> None:
    """``on_usage`` hook: the org's daily usage from a ``Sforce-Limit-Info`` header."""
    try:
        cache.set(SALESFORCE_USAGE_KEY, (usage.used, usage.limit, time.time()), KEEP_DAY)
    except Exception:
        log.warning("could not record Salesforce API usage in the cache", exc_info=True)


@dataclass(frozen=True)
class MarketoBudget:
    window_calls: int
    window_limit: int        # Marketo's own: 100 per 20 s
    window_share: int        # the app's pace (MARKETO_CALLS_PER_WINDOW)
    window_seconds: int
    today_calls: int
    daily_quota: int

    @property
    def today_share(self) -> float:
        return self.today_calls / self.daily_quota if self.daily_quota else 0.0


@dataclass(frozen=True)
class SalesforceBudget:
    org_used: int | None          # the org's usage at the last header seen (rolling 24 h)
    org_limit: int | None
    seen_at: datetime | None      # when that header was seen
    share_percent: int            # the admin's share of the org's daily limit
    today_calls: int              # the app's own requests today (UTC)

    @property
    def share_limit(self) -> int | None:
        """The calls the app may let the org reach: the admin's share of the daily limit."""
        return self.org_limit * self.share_percent // 100 if self.org_limit else None

    @property
    def share_used(self) -> float | None:
        """Fraction of the admin's share used (1.0: deliveries pause)."""
        limit = self.share_limit
        return self.org_used / limit if limit and self.org_used is not None else None


@dataclass(frozen=True)
class ApiBudget:
    marketo: MarketoBudget
    salesforce: SalesforceBudget


def budget_snapshot(salesforce_share_percent: int, now: float | None = None) -> ApiBudget:
    """What the counters say now: one cache round trip, no remote call."""
    moment = time.time() if now is None else now
    keys = {"window": _marketo_window_key(moment), "marketo_day": _marketo_day_key(moment),
            "salesforce_day": _salesforce_day_key(moment), "usage": SALESFORCE_USAGE_KEY}
    try:
        found = cache.get_many(list(keys.values()))
    except Exception:
        log.warning("could not read the API budget counters", exc_info=True)
        found = {}
    values = {name: found.get(key) for name, key in keys.items()}
    used, limit, seen = values["usage"] or (None, None, None)
    return ApiBudget(
        marketo=MarketoBudget(
            window_calls=int(values["window"] or 0), window_limit=MARKETO_WINDOW_LIMIT,
            window_share=settings.MARKETO_CALLS_PER_WINDOW,
            window_seconds=MARKETO_WINDOW_SECONDS,
            today_calls=int(values["marketo_day"] or 0),
            daily_quota=settings.MARKETO_DAILY_API_QUOTA),
        salesforce=SalesforceBudget(
            org_used=used, org_limit=limit,
            seen_at=datetime.fromtimestamp(seen, UTC) if seen else None,
            share_percent=salesforce_share_percent,
            today_calls=int(values["salesforce_day"] or 0)),
    )
