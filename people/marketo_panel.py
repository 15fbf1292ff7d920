"""The live Marketo activity panel of a person's page (SPEC section 3): the lead's recent
activity read from Marketo at view time (not stored), cached briefly, within a time budget.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import groupby

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from syncing.budget import MARKETO_WINDOW_LIMIT, marketo_window_full_for
from syncing.clients.marketo import MarketoBusy, MarketoClient, MarketoError
from syncing.settings.selectors import marketo_connection_get
from syncing.settings.services import client_kept

from .models import Person

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------- Marketo panel

# What the panel shows (Marketo's standard activity type names; ids differ per instance).
PANEL_ACTIVITY_TYPES = (
    "Send Email", "Email Delivered", "Email Bounced", "Open Email", "Click Email",
    "Unsubscribe Email", "Visit Webpage", "Fill Out Form", "Click Link", "Interesting Moment",
)
# Newest activity matters most, but Marketo pages oldest first from a date: if a long window
# holds more than the page budget, the short one is read instead.
PANEL_WINDOWS = (timedelta(days=180), timedelta(days=14))
PANEL_PAGES_PER_WINDOW = 2
PANEL_BATCH_SIZE = 300
PANEL_SHOWN = 200
# Per Marketo call, one attempt: a page view must not wait out retries.
PANEL_TIMEOUT_SECONDS = 2.5
# The whole panel answers within this: no call waits on Marketo or on the call limiter past
# it, and what was read by then is shown (marked incomplete).
PANEL_BUDGET_SECONDS = 3.0
# Marketo allows 100 calls per 20 s per instance; the panel leaves the last few to the syncs
# and says "busy" instead (counted across the app's processes, syncing/budget.py).
PANEL_WINDOW_HEADROOM = 10
# Marketo's own "too many calls" (606) and "too many at once" (615): when to try again.
BUSY_RETRY_SECONDS = {"606": 20.0, "615": 5.0}
PANEL_CACHE_SECONDS = 60
ACTIVITY_TYPES_CACHE_SECONDS = 3600
# Attributes worth a line under the activity, in order of preference.
DETAIL_ATTRIBUTES = ("Description", "Link", "Webpage URL", "Details", "Referrer URL")


@dataclass(frozen=True)
class MarketoActivity:
    marketo_id: int
    occurred_at: datetime
    type_name: str
    summary: str           # the primary attribute: mailing, web page, form, link
    detail: str            # one telling attribute, e.g. the clicked link
    attributes: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class MarketoPanel:
    """The person's recent Marketo activity, newest first, or why it cannot be shown."""

    OK = "ok"
    NOT_CONNECTED = "not_connected"
    SLOW = "slow"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"

    status: str
    message: str = ""
    retry_after: int = 60  # seconds, when not ok
    activities: list[MarketoActivity] = field(default_factory=list)
    since: datetime | None = None
    truncated: bool = False
    fetched_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status == self.OK

    @property
    def days(self) -> list[tuple[date, list[MarketoActivity]]]:
        """Activities grouped by (local) day, newest day first."""
        return [(day, list(items)) for day, items in groupby(
            self.activities, key=lambda a: timezone.localdate(a.occurred_at))]


def person_marketo_activities(person: Person) -> MarketoPanel:
    """The person's Marketo activity, fetched live (``pagingtoken.json`` then ``activities.json
    ?leadIds=``) and cached for a minute. Never raises for Marketo's sake: when Marketo is slow,
    failing or not connected the panel says so."""
    connection = marketo_connection_get()
    if not connection.is_configured:
        return MarketoPanel(MarketoPanel.NOT_CONNECTED, _(
            "Marketo is not connected, so marketing activity cannot be shown."))
    instance = hashlib.sha256(connection.base_url.encode()).hexdigest()[:12]
    cache_key = f"people:marketo-activities:{instance}:{person.marketo_id}"
    panel = cache.get(cache_key)
    if panel is not None:
        return panel

    busy_for = marketo_window_full_for(MARKETO_WINDOW_LIMIT - PANEL_WINDOW_HEADROOM)
    if busy_for:
        return _busy(busy_for)
    # The process's kept client: its token (shared with the workers) and connections serve
    # every page view, and its calls count in the deployment's Marketo limits.
    client = client_kept(connection, timeout=PANEL_TIMEOUT_SECONDS, max_attempts=1)
    started = time.monotonic()
    try:
        with client.deadline(PANEL_BUDGET_SECONDS):
            type_names = _activity_type_names(client, instance)
            activities, since, truncated = _recent_activities(
                client, person.marketo_id, type_names, deadline=started + PANEL_BUDGET_SECONDS)
    except MarketoBusy as busy:
        return _busy(busy.retry_after)
    except MarketoError as error:
        log.warning("Marketo activity panel for lead %s failed: %s", person.marketo_id, error)
        if error.code in BUSY_RETRY_SECONDS:
            return _busy(BUSY_RETRY_SECONDS[error.code])
        timed_out = error.status is None and error.code is None and (
            time.monotonic() - started >= min(PANEL_TIMEOUT_SECONDS, PANEL_BUDGET_SECONDS))
        if timed_out:
            return MarketoPanel(MarketoPanel.SLOW, _(
                "Marketo is taking too long to answer, so marketing activity cannot be shown "
                "right now."), retry_after=30)
        return MarketoPanel(MarketoPanel.UNAVAILABLE, _(
            "Marketo is not available right now, so marketing activity cannot be shown."))
    panel = MarketoPanel(MarketoPanel.OK, activities=activities[:PANEL_SHOWN], since=since,
                         truncated=truncated or len(activities) > PANEL_SHOWN,
                         fetched_at=timezone.now())
    cache.set(cache_key, panel, PANEL_CACHE_SECONDS)
    return panel


def _busy(seconds: float) -> MarketoPanel:
    wait = max(1, math.ceil(seconds))
    return MarketoPanel(MarketoPanel.BUSY, _(
        "Marketo is busy: the app has used its calls for the moment. Try again in %(seconds)s s."
    ) % {"seconds": wait}, retry_after=wait)


def _activity_type_names(client: MarketoClient, instance: str) -> dict[int, str]:
    """The panel's activity type ids on this instance, by id (looked up by name, cached)."""
    cache_key = f"people:marketo-activity-types:{instance}"
    names = cache.get(cache_key)
    if names is None:
        wanted = set(PANEL_ACTIVITY_TYPES)
        names = {int(item["id"]): item["name"] for item in client.activity_types()
                 if item.get("name") in wanted and item.get("id") is not None}
        cache.set(cache_key, names, ACTIVITY_TYPES_CACHE_SECONDS)
    return names


def _recent_activities(client: MarketoClient, lead_id: int, type_names: dict[int, str], *,
                       deadline: float) -> tuple[list[MarketoActivity], datetime, bool]:
    """The activities of the longest window whose pages fit the budget, newest first; also the
    window's start and whether Marketo holds activity that is not shown (older, or unread)."""
    if not type_names:
        return [], timezone.now() - PANEL_WINDOWS[0], False
    type_ids = sorted(type_names)
    for window in PANEL_WINDOWS:
        since = timezone.now() - window
        items, complete = _activity_pages(client, lead_id, type_ids, since, deadline)
        if complete or window == PANEL_WINDOWS[-1] or time.monotonic() > deadline:
            break
    activities = [_activity(item, type_names) for item in items]
    activities = [a for a in activities if a is not None]
    activities.sort(key=lambda a: (a.occurred_at, a.marketo_id), reverse=True)
    return activities, since, not complete or window != PANEL_WINDOWS[0]


def _activity_pages(client: MarketoClient, lead_id: int, type_ids: list[int], since: datetime,
                    deadline: float) -> tuple[list[dict], bool]:
    """Up to the page budget of the lead's activities since ``since`` (oldest first), and
    whether that was all of them. A later page Marketo cannot give in time leaves the ones
    read (incomplete)."""
    token = client.paging_token(since)
    items: list[dict] = []
    for _page in range(PANEL_PAGES_PER_WINDOW):
        try:
            page = client.activities(token, type_ids, lead_ids=[lead_id],
                                     batch_size=PANEL_BATCH_SIZE)
        except MarketoError:
            if not items:
                raise
            break
        items += page.results
        token = page.next_page_token
        if not page.more_result:
            return items, True
        if time.monotonic() > deadline:
            break
    return items, False


def _activity(item: dict, type_names: dict[int, str]) -> MarketoActivity | None:
    try:
        occurred_at = datetime.fromisoformat(str(item["activityDate"]))
        type_id = int(item["activityTypeId"])
    except (KeyError, TypeError, ValueError):
        return None
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    attributes = [a for a in item.get("attributes") or []
                  if isinstance(a, dict) and a.get("name")]
    values = {str(a["name"]): "" if a.get("value") is None else str(a["value"])
              for a in attributes}
    detail = next((values[name] for name in DETAIL_ATTRIBUTES if values.get(name)), "")
    summary = str(item.get("primaryAttributeValue") or "")
    if not summary and detail:
        summary, detail = detail, ""
    return MarketoActivity(
        marketo_id=int(item.get("id") or 0), occurred_at=occurred_at,
        type_name=type_names.get(type_id, f"Activity type {type_id}"), summary=summary,
        detail=detail, attributes=[{"name": str(a["name"]), "value": values[str(a["name"])]}
                                   for a in attributes])
