"""The people export's file formats: CSV and NDJSON lines from
:func:`people.selectors.person_export_rows`, for ``GET /api/v1/people/export/`` and the people
list's export of ticked rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from itertools import islice
from operator import itemgetter, methodcaller

from django.utils import timezone

from .selectors import EXPORT_FIELDS

# Spreadsheets run a cell that starts like a formula; such text is exported with a leading '.
# Phone numbers ("+1 415 …") are left as they are: a spreadsheet shows them as text anyway.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSUBSCRIBED = EXPORT_FIELDS.index("unsubscribed")
_UPDATED = EXPORT_FIELDS.index("updated_at")
# The text columns (all but id, marketo_id, phone, unsubscribed, updated_at).
_GUARDED = [index for index, name in enumerate(EXPORT_FIELDS)
            if name not in ("id", "marketo_id", "phone", "unsubscribed", "updated_at")]
_looks_like_formula = methodcaller("startswith", _FORMULA_START)
_guarded_values = itemgetter(*_GUARDED)


def _moments() -> Callable:
    """A datetime as DRF writes it (``people/`` does): ISO 8601 in the current time zone, UTC
    as Z, without DRF's per-value machinery (an export writes a hundred thousand)."""
    zone = timezone.get_current_timezone()

    def text(value) -> str:
        if value is None:
            return ""
        written = value.astimezone(zone).isoformat()
        return written[:-6] + "Z" if written.endswith("+00:00") else written

    return text


def _csv_rows(rows) -> Iterator[tuple]:
    moment = _moments()
    for row in rows:
        row = (*row[:_UNSUBSCRIBED], "true" if row[_UNSUBSCRIBED] else "false",
               moment(row[_UPDATED]))
        if any(map(_looks_like_formula, _guarded_values(row))):  # rare: the slow way
            row = tuple("'" + value if index in _GUARDED and _looks_like_formula(value)
                        else value for index, value in enumerate(row))
        yield row


def person_csv_lines(rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    rows = _csv_rows(rows)
    while chunk := list(islice(rows, 1000)):
        writer.writerows(chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def person_ndjson_lines(rows) -> Iterator[str]:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    moment = _moments()
    chunk = []
    for row in rows:
        record = dict(zip(EXPORT_FIELDS, row, strict=True))
        if row[_UPDATED] is not None:
            record["updated_at"] = moment(row[_UPDATED])
        chunk.append(dumps(record))
        if len(chunk) == 1000:
            yield "\n".join(chunk) + "\n"
            chunk = []
    if chunk:
        yield "\n".join(chunk) + "\n"
