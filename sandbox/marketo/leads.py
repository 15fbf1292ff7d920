"""The Marketo lead database: seed leads computed on demand, plus what remote users changed.

Only changes are stored (changed fields of seed leads, leads created after the reset, deleted
ids), so a million seed leads cost nothing until someone edits them. Lookups by a searchable
field never scan: seed values embed the lead number (emails ``name{i}@domain``, Salesforce ids),
so candidates come from the value itself plus an index of changed and created values, and every
candidate is verified against the lead's current value.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

from sandbox import seed as seedlib

from .catalog import FIELDS_BY_NAME, LEAD_FIELDS, SEARCHABLE_FIELDS

# The lead number a seed email embeds: "first.last{i}@domain" (or "...{i}-at-domain").
_EMAIL_NUMBER = re.compile(r"(\d+)(?:@|-at-)[^@]*$")
_SF_PREFIX_OF_FIELD = {"sfdcLeadId": seedlib.SF_PREFIX["Lead"],
                       "sfdcContactId": seedlib.SF_PREFIX["Contact"],
                       "sfdcOpptyId": seedlib.SF_PREFIX["Opportunity"]}
_STRING_TYPES = frozenset({"string", "email", "phone", "url"})


def normalized(field: str, value) -> str:
    """How a searchable value compares: emails ignore case, everything else is exact."""
    text = str(value).strip()
    return text.lower() if field == "email" else text


class LeadStore:
    """Seed leads ``1..total`` plus changes. Not thread-safe: the sandbox holds its lock."""

    def __init__(self, total: int, seed: int):
        self.total = total
        self.seed = seed
        self.changes: dict[int, dict] = {}  # seed lead number -> changed fields
        self.created: dict[int, dict] = {}  # lead id -> the whole lead
        self.deleted: set[int] = set()
        self.next_id = total + 1
        self._index: dict[str, dict[str, set[int]]] = {
            name: {} for name in SEARCHABLE_FIELDS if name != "id"}

    def exists(self, lead_id: int) -> bool:
        """Whether the lead is in the database now (seeded or created, not deleted)."""
        if lead_id in self.deleted:
            return False
        return 1 <= lead_id <= self.total or lead_id in self.created

    def get(self, lead_id: int) -> dict | None:
        """The current lead with every field (None values included), or None if absent."""
        if lead_id in self.deleted:
            return None
        created = self.created.get(lead_id)
        if created is not None:
            return dict(created)
        if not 1 <= lead_id <= self.total:
            return None
        lead = seedlib.lead(lead_id, self.seed, self.total)
        changed = self.changes.get(lead_id)
        if changed:
            lead.update(changed)
        return lead

    def seed_lead(self, lead_id: int) -> dict | None:
        """The lead as seeded (before any change), for seed leads that still exist."""
        if lead_id in self.deleted or not 1 <= lead_id <= self.total:
            return None
        return seedlib.lead(lead_id, self.seed, self.total)

    @staticmethod
    def validate(fields: dict) -> None:
        """Raise ValueError unless ``fields`` are writable lead fields with fitting values."""
        for name, value in fields.items():
            field = FIELDS_BY_NAME.get(name)
            if field is None:
                raise ValueError(f"unknown field {name!r}")
            if field.read_only:
                raise ValueError(f"field {name!r} is read-only")
            if value is None:
                continue
            if field.data_type == "boolean" and not isinstance(value, bool):
                raise ValueError(f"field {name!r} takes true or false")
            if field.data_type in _STRING_TYPES:
                if not isinstance(value, str):
                    raise ValueError(f"field {name!r} takes a string")
                if field.length is not None and len(value) > field.length:
                    raise ValueError(f"field {name!r} is longer than {field.length}")

    def create(self, fields: dict, now: str) -> dict:
        """Add a lead with the next id, as a remote user would; return it."""
        lead = {field.name: None for field in LEAD_FIELDS}
        lead.update(fields)
        lead.update(id=self.next_id, createdAt=now, updatedAt=now)
        if lead["unsubscribed"] is None:
            lead["unsubscribed"] = False
        self.next_id += 1
        self.created[lead["id"]] = lead
        for name, value in fields.items():
            self._remember(name, value, lead["id"])
        return dict(lead)

    def update(self, lead_id: int, fields: dict, now: str) -> list[tuple[str, object, object]]:
        """Apply ``fields``; return ``(field, old, new)`` for each value that really changed."""
        lead = self.get(lead_id)
        if lead is None:
            raise KeyError(lead_id)
        changes = [(name, lead[name], value) for name, value in fields.items()
                   if lead[name] != value]
        if not changes:
            return []
        # A new dict replaces the old one, so an export reading without the lock sees either.
        is_created = lead_id in self.created
        target = dict(self.created[lead_id] if is_created else self.changes.get(lead_id, {}))
        for name, _old, new in changes:
            target[name] = new
            self._remember(name, new, lead_id)
        target["updatedAt"] = now
        (self.created if is_created else self.changes)[lead_id] = target
        return changes

    def delete(self, lead_id: int) -> dict:
        """Remove a lead from the database; return it as it was."""
        lead = self.get(lead_id)
        if lead is None:
            raise KeyError(lead_id)
        self.deleted.add(lead_id)
        return lead

    def _remember(self, name: str, value, lead_id: int) -> None:
        index = self._index.get(name)
        if index is not None and value is not None:
            index.setdefault(normalized(name, value), set()).add(lead_id)

    def find(self, field: str, value) -> set[int]:
        """Ids of existing leads whose ``field`` currently equals ``value``."""
        wanted = normalized(field, value)
        if field == "id":
            try:
                lead_id = int(wanted)
            except ValueError:
                return set()
            return {lead_id} if self.exists(lead_id) else set()
        candidates = set(self._index[field].get(wanted, ()))
        candidates.update(self._seed_candidates(field, wanted))
        found = set()
        for lead_id in candidates:
            lead = self.get(lead_id)
            if lead is not None and lead[field] is not None \
                    and normalized(field, lead[field]) == wanted:
                found.add(lead_id)
        return found

    def _seed_candidates(self, field: str, wanted: str) -> list[int]:
        if field == "email":
            match = _EMAIL_NUMBER.search(wanted)
            if not match:
                return []
            number = int(match.group(1))
            # Every 50th lead reuses the email of the lead before it.
            numbers = [number, number + 1] if (number + 1) % 50 == 0 else [number]
            return [n for n in numbers if 1 <= n <= self.total]
        try:
            prefix, number = seedlib.sf_number(wanted)
        except ValueError:
            return []
        if prefix != _SF_PREFIX_OF_FIELD[field] or not 1 <= number <= self.total:
            return []
        return [number]

    def export_plan(self, field: str, start: str, end: str) -> tuple[int, int, list[int]]:
        """Which ids may have ``field`` (createdAt/updatedAt) within [start, end].

        Taken with the sandbox lock held; the export then walks it without the lock.
        ISO-8601 UTC strings compare like the moments they name. createdAt grows with the seed
        lead number, so a window is a range of numbers; a seed updatedAt lies within about 400
        days after createdAt, so its window is a wider range; changed and created leads are
        added. Returns (first seed number, last seed number, other ids ascending).
        """
        low_created = start if field == "createdAt" else _shift_seconds(start, -402 * 86400)
        low = self._first_created_at_or_after(low_created)
        high = self._first_created_at_or_after(_shift_seconds(end, 1)) - 1
        extra = set(self.created)
        if field == "updatedAt":
            extra.update(self.changes)
        return low, high, sorted(lead_id for lead_id in extra if not low <= lead_id <= high)

    @staticmethod
    def export_ids(plan: tuple[int, int, list[int]]) -> Iterator[int]:
        """The ids of an export plan, ascending."""
        low, high, extra = plan
        position = 0
        for lead_id in range(low, high + 1):
            while position < len(extra) and extra[position] < lead_id:
                yield extra[position]
                position += 1
            yield lead_id
        yield from extra[position:]

    def _first_created_at_or_after(self, moment: str) -> int:
        """Smallest seed number whose createdAt is >= ``moment`` (total + 1 if none)."""
        numbers = range(1, self.total + 1)
        return 1 + bisect.bisect_left(
            numbers, moment, key=lambda i: seedlib.iso(seedlib.created_at(i, self.total)))


def _shift_seconds(moment: str, seconds: int) -> str:
    parsed = datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ")
    return (parsed + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
