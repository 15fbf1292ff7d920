"""Lead activities: procedural seed history, the append-only log, and paging tokens.

A paging token is an opaque position ``(activity time in ms, activity id)`` in one ordering of
all activities. "After position P" is well defined forever, so a token keeps working for later
polls: the same token returns only activities added since, and when there are none the answer
is ``moreResult: false`` with a token at the end of the log.

Seed leads get 0-12 marketing activities each (sends, deliveries, bounces, opens, clicks, web
visits, form fills, link clicks, interesting moments), computed from the lead number and dated
before ``SEED_END``; they are never stored. Seed history is reachable per lead (``leadIds``);
the instance-wide feed (no ``leadIds``) carries what happened after the reset: New Lead, Change
Data Value, Delete Lead and custom activities.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandbox import seed as seedlib

from .catalog import (
    CLICK_EMAIL,
    CLICK_LINK,
    EMAIL_BOUNCED,
    EMAIL_DELIVERED,
    FILL_OUT_FORM,
    INTERESTING_MOMENT,
    OPEN_EMAIL,
    SEND_EMAIL,
    UNSUBSCRIBE_EMAIL,
    VISIT_WEBPAGE,
    LeadField,
)
from .errors import ApiError

# Activities logged after the reset get ids above every seed activity id (lead * 16 + k).
LOG_ID_BASE = 1_000_000_000
# The instance-wide feed examines at most this many log entries per call, then answers with
# fewer results and moreResult true, as Marketo does on sparse feeds.
SCAN_LIMIT = 20_000

Key = tuple[int, int]


@dataclass(slots=True)
class Entry:
    """One activity. ``change`` is (field, old, new) for Change Data Value."""

    id: int
    lead_id: int
    ts_ms: int
    type_id: int
    primary_id: int | None = None
    primary_value: str | None = None
    attributes: list[dict] = field(default_factory=list)
    campaign_id: int | None = None
    change: tuple[LeadField, object, object] | None = None

    @property
    def key(self) -> Key:
        return (self.ts_ms, self.id)


def now_ms() -> int:
    """The wall clock in epoch milliseconds."""
    return int(time.time() * 1000)


def iso_ms(ts_ms: int) -> str:
    """An activityDate: ISO-8601 UTC to the second."""
    return datetime.fromtimestamp(ts_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime:
    """An ISO-8601 date or datetime; naive values are UTC. Raises ValueError."""
    moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def encode_token(key: Key) -> str:
    """An opaque paging token for a position in the activity order."""
    return base64.b32encode(f"{key[0]},{key[1]}".encode()).decode()


def decode_token(token: str) -> Key:
    """The position a paging token stands for; 1003 if it is not one of ours."""
    try:
        ts_ms, activity_id = base64.b32decode(token.strip()).decode().split(",")
        return int(ts_ms), int(activity_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ApiError("1003", f"Invalid nextPageToken '{token}'") from error


def since_token(since: str) -> str:
    """Get Paging Token: the position just before everything at or after ``since``."""
    try:
        moment = parse_datetime(since)
    except ValueError as error:
        raise ApiError("704", "Invalid date format") from error
    return encode_token((int(moment.timestamp() * 1000), 0))


class ActivityLog:
    """Activities logged after the reset, sorted by position. The sandbox holds its lock."""

    def __init__(self):
        self.entries: list[Entry] = []
        self.keys: list[Key] = []
        self.by_lead: dict[int, list[Entry]] = defaultdict(list)
        self._next_id = LOG_ID_BASE
        self._last_ms = 0

    def add(self, lead_id: int, type_id: int, *, ts_ms: int | None = None, **details) -> Entry:
        """Log an activity dated now (or at ``ts_ms`` for backdated custom activities)."""
        self._next_id += 1
        if ts_ms is None:
            # Never earlier than the last one: the log stays append-only for "now" activities.
            ts_ms = self._last_ms = max(now_ms(), self._last_ms)
        entry = Entry(self._next_id, lead_id, ts_ms, type_id, **details)
        if not self.keys or entry.key > self.keys[-1]:
            self.entries.append(entry)
            self.keys.append(entry.key)
        else:
            position = bisect.bisect_right(self.keys, entry.key)
            self.entries.insert(position, entry)
            self.keys.insert(position, entry.key)
        self.by_lead[lead_id].append(entry)
        return entry

    def end(self) -> Key:
        """The position of the newest activity (where an up-to-date poller stands)."""
        return self.keys[-1] if self.keys else (0, 0)

    def page(self, after: Key, batch_size: int, match: Callable[[Entry], bool],
             lead_ids: list[int] | None = None,
             seed_history: Callable[[int], list[Entry]] | None = None
             ) -> tuple[list[Entry], Key, bool]:
        """Up to ``batch_size`` matching activities after ``after``: (items, next key, more)."""
        if lead_ids is not None:
            candidates = []
            for lead_id in dict.fromkeys(lead_ids):
                if seed_history is not None:
                    candidates.extend(seed_history(lead_id))
                candidates.extend(self.by_lead.get(lead_id, ()))
            candidates = sorted((e for e in candidates if e.key > after and match(e)),
                                key=lambda e: e.key)
            items = candidates[:batch_size]
            if len(candidates) > batch_size:
                return items, items[-1].key, True
            return items, max(after, self.end(), *(e.key for e in items[-1:])), False
        start = bisect.bisect_right(self.keys, after)
        position, items = start, []
        stop = min(len(self.entries), start + SCAN_LIMIT)
        while position < stop and len(items) < batch_size:
            entry = self.entries[position]
            position += 1
            if match(entry):
                items.append(entry)
        if position < len(self.entries):
            return items, self.entries[position - 1].key, True
        return items, max(after, self.end()), False


def _value_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _base(entry: Entry) -> dict:
    return {"id": entry.id, "marketoGUID": str(entry.id), "leadId": entry.lead_id,
            "activityDate": iso_ms(entry.ts_ms), "activityTypeId": entry.type_id}


def render_activity(entry: Entry) -> dict:
    """An item of Get Lead Activities."""
    item = _base(entry)
    if entry.campaign_id is not None:
        item["campaignId"] = entry.campaign_id
    attributes = entry.attributes
    if entry.change is not None:
        lead_field, old, new = entry.change
        item["primaryAttributeValueId"] = lead_field.id
        item["primaryAttributeValue"] = lead_field.display_name
        attributes = [{"name": "New Value", "value": _value_text(new)},
                      {"name": "Old Value", "value": _value_text(old)}] + attributes
    if entry.primary_id is not None:
        item["primaryAttributeValueId"] = entry.primary_id
    if entry.primary_value is not None:
        item["primaryAttributeValue"] = entry.primary_value
    item["attributes"] = attributes
    return item


def render_lead_change(entry: Entry) -> dict:
    """An item of Get Lead Changes: New Lead, or Change Data Value with its ``fields``."""
    item = _base(entry)
    fields = []
    if entry.change is not None:
        lead_field, old, new = entry.change
        fields.append({"id": lead_field.id, "name": lead_field.name,
                       "newValue": _value_text(new), "oldValue": _value_text(old)})
    item["fields"] = fields
    item["attributes"] = entry.attributes
    return item


def render_deleted_lead(entry: Entry) -> dict:
    """An item of Get Deleted Leads (a Delete Lead activity)."""
    item = _base(entry)
    item["primaryAttributeValueId"] = entry.primary_id
    item["primaryAttributeValue"] = entry.primary_value
    item["attributes"] = entry.attributes
    return item


def parse_id_list(values: Iterable[str]) -> list[int]:
    """Ids from repeated and/or comma-separated query values."""
    ids = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                ids.append(int(part))
            except ValueError as error:
                raise ApiError("1001", f"Invalid value '{part}'. Required of type 'Integer'") \
                    from error
    return ids


_MAILINGS = [
    (1041, "2023 Newsletter.January Newsletter"), (1077, "Spring Webinar.Invitation"),
    (1102, "Product Launch.Announcement"), (1150, "Onboarding Nurture.Step 1 - Welcome"),
    (1151, "Onboarding Nurture.Step 2 - Case Study"), (1203, "Trade Show.Thank You"),
]
_PAGES = [
    (201, "www.example.com/pricing"), (202, "www.example.com/product/features"),
    (203, "www.example.com/blog/roi-of-sales-automation"), (204, "www.example.com/customers"),
    (205, "www.example.com/contact"), (206, "go.example.com/webinar-registration.html"),
]
_FORMS = [(301, "Contact Us", 205), (302, "Webinar Registration", 206),
          (303, "Whitepaper Download", 203)]
_LINKS = [(401, "https://www.example.com/assets/roi-whitepaper.pdf"),
          (402, "https://www.example.com/demo"), (403, "https://www.example.com/pricing#plans")]
_MOMENTS = [("Web", "Visited the pricing page"), ("Email", "Clicked the product launch email"),
            ("Milestone", "Requested a demo"), ("Web", "Downloaded the ROI whitepaper")]
_AGENTS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0 Safari/537.36", "Windows", "Desktop", False),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.2 Safari/605.1.15", "Mac OS", "Desktop", False),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Mobile/15E148", "iOS", "iPhone", True),
]
_SEED_END_TS = int(seedlib.SEED_END.timestamp())


def name_values(*pairs) -> list[dict]:
    """Activity attributes ``[{"name", "value"}]``, leaving out the empty ones."""
    return [{"name": name, "value": value} for name, value in pairs if value is not None]


def _event(moment: int, type_id: int, primary: tuple | None, *pairs, campaign_id=None):
    details = {"attributes": name_values(*pairs), "campaign_id": campaign_id}
    if primary:
        details["primary_id"], details["primary_value"] = primary
    return moment, type_id, details


def seed_history(lead: dict, seed: int) -> list[Entry]:
    """The marketing history of seed lead ``lead`` (as seeded): 0-12 activities."""
    lead_id = lead["id"]
    r = seedlib._mix(seed * 0x2545F4914F6CDD1D + lead_id * 0x9E3779B1 + 0x5EED)
    count = r % 13
    start = int(parse_datetime(lead["createdAt"]).timestamp())
    span = _SEED_END_TS - start - 7 * 86400
    if count == 0 or span <= 0:
        return []
    events: list[tuple[int, int, dict]] = []
    while len(events) < count:
        r = seedlib._mix(r)
        moment = start + r % span
        kind = (r >> 20) % 100
        web = [("Client IP Address", f"203.0.113.{(r >> 24) % 254 + 1}"),
               ("Query Parameters", ""), ("User Agent", _AGENTS[(r >> 28) % len(_AGENTS)][0])]
        if kind < 40:
            events.extend(_email_events(r, moment, lead))
        elif kind < 65 or (kind >= 97 and not lead["unsubscribed"]):
            page = _PAGES[(r >> 32) % len(_PAGES)]
            events.append(_event(moment, VISIT_WEBPAGE, page, *web,
                                 ("Referrer URL", "https://www.google.com/"),
                                 ("Webpage URL", "/" + page[1].split("/", 1)[1])))
        elif kind < 75:
            form_id, form, page_id = _FORMS[(r >> 32) % len(_FORMS)]
            events.append(_event(moment, FILL_OUT_FORM, (form_id, form), *web,
                                 ("Form Fields", f"<pre>Email: {lead['email']}</pre>"),
                                 ("Referrer URL", ""), ("Webpage ID", page_id)))
        elif kind < 85:
            events.append(_event(moment, CLICK_LINK, _LINKS[(r >> 32) % len(_LINKS)], *web,
                                 ("Referrer URL", ""),
                                 ("Webpage ID", _PAGES[(r >> 36) % len(_PAGES)][0])))
        elif kind < 97:
            moment_type, description = _MOMENTS[(r >> 32) % len(_MOMENTS)]
            events.append(_event(moment, INTERESTING_MOMENT, None,
                                 ("Date", seedlib.iso(datetime.fromtimestamp(moment, UTC))),
                                 ("Description", description),
                                 ("Source", "Marketo Flow Action"), ("Type", moment_type)))
        else:
            events.append(_event(moment, UNSUBSCRIBE_EMAIL, _MAILINGS[(r >> 32) % len(_MAILINGS)],
                                 *web, ("Webform ID", 299), ("Webpage ID", 207)))
    events = sorted(events[:count], key=lambda event: event[0])
    return [Entry(lead_id * 16 + number + 1, lead_id, min(moment, _SEED_END_TS - 1) * 1000,
                  type_id, **details)
            for number, (moment, type_id, details) in enumerate(events)]


def _email_events(r: int, moment: int, lead: dict) -> list[tuple[int, int, dict]]:
    """A Marketo email's story: sent, then delivered (maybe opened and clicked) or bounced."""
    mailing = _MAILINGS[(r >> 32) % len(_MAILINGS)]
    campaign = 5000 + mailing[0]
    run = [("Campaign Run ID", 70000 + (r >> 36) % 900), ("Choice Number", 0), ("Step ID", 1)]
    events = [_event(moment, SEND_EMAIL, mailing, *run, campaign_id=campaign)]
    if (r >> 40) % 25 == 0:
        events.append(_event(moment + 40, EMAIL_BOUNCED, mailing, *run, ("Category", "1"),
                             ("Details", "550 5.1.1 User unknown"), ("Email", lead["email"]),
                             ("Subcategory", "1003"), campaign_id=campaign))
        return events
    events.append(_event(moment + 30, EMAIL_DELIVERED, mailing, *run, campaign_id=campaign))
    agent, platform, device, mobile = _AGENTS[(r >> 28) % len(_AGENTS)]
    device_attrs = [("Device", device), ("Is Bot Activity", False),
                    ("Is Mobile Device", mobile), ("Platform", platform), ("User Agent", agent)]
    if (r >> 44) % 2:
        opened = moment + 600 + (r >> 46) % (3 * 86400)
        events.append(_event(opened, OPEN_EMAIL, mailing, *run, *device_attrs,
                             campaign_id=campaign))
        if (r >> 52) % 3 == 0:
            events.append(_event(opened + 45, CLICK_EMAIL, mailing, *run, *device_attrs,
                                 ("Link", _LINKS[(r >> 54) % len(_LINKS)][1]),
                                 campaign_id=campaign))
    return events
