"""A report as CSV: the table the page shows, one row per group, then the totals."""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

from .selectors import Report

# Spreadsheets run a cell that starts like a formula (a template's name could): a leading '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_csv(report: Report) -> str:
    """Header ``key,label,<figures>`` (activity adds a ``calls: <outcome>`` column per
    outcome), a row per group, and a last row keyed ``total``."""
    outcomes = sorted(report.totals.get("calls_by_outcome", {}))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["key", "label", *report.columns, *(f"calls: {name}" for name in outcomes)])
    lines = [(row.key, row.label, row.counts) for row in report.rows]
    lines.append(("total", _("Total"), report.totals))
    for key, label, counts in lines:
        by_outcome = counts.get("calls_by_outcome", {})
        writer.writerow([_text(key), _text(label), *(counts[name] for name in report.columns),
                         *(by_outcome.get(name, 0) for name in outcomes)])
    return buffer.getvalue()


def report_filename(kind: str, report: Report) -> str:
    return (f"{kind}-by-{report.group_by}-{report.period.start.isoformat()}"
            f"-{report.period.end.isoformat()}.csv")
