"""Merge fields in a subject or body: ``{{first_name}}``, ``{{last_name}}``, ``{{company}}``,
``{{title}}``, ``{{sender_name}}`` (plus what a caller passes as ``extra``; campaigns pass
``{{sales_campaign_name}}``).

An empty value takes the fallback written after a bar: ``{{first_name|there}}`` gives "there"
for a person with no first name; with no fallback it becomes the empty string. Spaces inside
the braces are allowed (``{{ first_name | there }}``).

The one check for every place that takes merge fields (preview, send, templates, campaign
steps, the API): ``merge_check`` raises ``MergeFieldError`` naming the first problem, before
anything is saved or sent. A malformed token (``Hi {{first_name``, ``{first_name}}``,
``{{ }}``) is an error like an unknown field: written as is, it would reach the person
with its braces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

KNOWN_FIELDS = ("first_name", "last_name", "company", "title", "sender_name")
#: What a campaign step (and a template, which a campaign step may use) can say.
CAMPAIGN_FIELDS = (*KNOWN_FIELDS, "sales_campaign_name")

FIELD = re.compile(r"\{\{\s*([^{}|]*?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")
# What is left of the text once the good tokens are taken out: stray double braces, and a
# known-looking name in single braces.
STRAY = re.compile(r"\{\{\s*[^{}\s]{0,40}\}?|\{?[^{}\s]{0,40}\}\}|\{\s*[a-z_]+\s*\}")


def _tokens(names: Iterable[str]) -> str:
    return ", ".join("{{" + name + "}}" for name in names)


class MergeFieldError(ValueError):
    """A subject or body whose merge fields cannot be filled; the message says why."""


class UnknownMergeField(MergeFieldError):
    """``fields``: the unknown names, in the order they appear."""

    def __init__(self, fields: list[str], known: Iterable[str] = KNOWN_FIELDS):
        self.fields = fields
        super().__init__(ngettext("Unknown merge field %(fields)s; known fields are %(known)s.",
                                  "Unknown merge fields %(fields)s; known fields are %(known)s.",
                                  len(fields)) % {"fields": _tokens(fields),
                                                  "known": _tokens(known)})


class MalformedMergeField(MergeFieldError):
    """``token``: the text as written (an unclosed, half-opened or empty field)."""

    def __init__(self, token: str, problem: str):
        self.token = token
        super().__init__(_("Malformed merge field “%(token)s”: %(problem)s") % {
            "token": token, "problem": problem})


def _example(name: str) -> str:
    return "{{" + (name or "first_name") + "}}"


def _malformed(text: str, known: Iterable[str]) -> MalformedMergeField | None:
    for match in FIELD.finditer(text):
        if not match.group(1):
            return MalformedMergeField(match.group(0), _("it has no field name; write one "
                                                         "inside the braces, e.g. {{first_name}}."))
    rest = FIELD.sub(" ", text)
    for match in STRAY.finditer(rest):
        token = match.group(0).strip()
        name = re.match(r"\w*", token.strip("{} ")).group(0)
        if token.startswith("{{"):
            return MalformedMergeField(token, _("it is not closed; end it with }}, e.g. "
                                                "%(example)s.") % {"example": _example(name)})
        if token.endswith("}}"):
            return MalformedMergeField(token, _("it needs two opening braces, e.g. %(example)s.")
                                       % {"example": _example(name)})
        if name in known:
            return MalformedMergeField(token, _("a merge field takes two braces on each side: "
                                                "%(example)s.") % {"example": _example(name)})
    return None


def merge_check(text: str, known: Iterable[str] = KNOWN_FIELDS) -> None:
    """Raise MergeFieldError for the first malformed token in ``text``, else for its unknown
    fields (all named); nothing when every field can be filled."""
    known = tuple(known)
    malformed = _malformed(text or "", known)
    if malformed is not None:
        raise malformed
    unknown = list(dict.fromkeys(match.group(1) for match in FIELD.finditer(text or "")
                                 if match.group(1) not in known))
    if unknown:
        raise UnknownMergeField(unknown, known)


def merge_problem(text: str, known: Iterable[str] = KNOWN_FIELDS) -> str:
    """``merge_check``'s message, or "" when the text is fine (for collecting form errors)."""
    try:
        merge_check(text, known)
    except MergeFieldError as error:
        return str(error)
    return ""


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


def merge_with(text: str, values: Mapping[str, str]) -> str:
    """``text`` with its fields filled from ``values``; MergeFieldError when it cannot be."""
    merge_check(text, values)
    return FIELD.sub(lambda match: values[match.group(1)] or (match.group(2) or ""), text or "")


def merge(text: str, *, person, sender, extra: Mapping[str, str] | None = None) -> str:
    """``text`` with every merge field filled for ``person`` from ``sender``."""
    return merge_with(text, merge_values(person=person, sender=sender, extra=extra))
