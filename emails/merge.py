"""Merge fields in a subject or body: ``{{first_name}}``, ``{{last_name}}``, ``{{company}}``,
``{{title}}``, ``{{sender_name}}`` (plus what a caller passes as ``extra``).

An empty value takes the fallback written after a bar: ``{{first_name|there}}`` gives "there"
for a person with no first name; with no fallback it becomes the empty string. A field that is
not known raises ``UnknownMergeField`` (naming every unknown field) before anything is sent.
Spaces inside the braces are allowed (``{{ first_name | there }}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

KNOWN_FIELDS = ("first_name", "last_name", "company", "title", "sender_name")

FIELD = re.compile(r"\{\{\s*([^{}|]*?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")


class UnknownMergeField(ValueError):
    """``fields``: the unknown names, in the order they appear."""

    def __init__(self, fields: list[str]):
        self.fields = fields
        names = ", ".join("{{" + name + "}}" for name in fields)
        known = ", ".join("{{" + name + "}}" for name in KNOWN_FIELDS)
        super().__init__(f"Unknown merge field{'s' if len(fields) > 1 else ''} {names}; "
                         f"known fields are {known}.")


def sender_name(sender) -> str:
    return (sender.get_full_name() or sender.username).strip()


def merge_values(*, person, sender, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    values = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "company": person.company,
        "title": person.title,
        "sender_name": sender_name(sender),
    }
    values.update(extra or {})
    return {key: str(value or "").strip() for key, value in values.items()}


def unknown_fields(text: str, known) -> list[str]:
    return list(dict.fromkeys(match.group(1) for match in FIELD.finditer(text or "")
                              if match.group(1) not in known))


def merge_with(text: str, values: Mapping[str, str]) -> str:
    unknown = unknown_fields(text, values)
    if unknown:
        raise UnknownMergeField(unknown)
    return FIELD.sub(lambda match: values[match.group(1)] or (match.group(2) or ""), text or "")


def merge(text: str, *, person, sender, extra: Mapping[str, str] | None = None) -> str:
    """``text`` with every merge field filled for ``person`` from ``sender``."""
    return merge_with(text, merge_values(person=person, sender=sender, extra=extra))
