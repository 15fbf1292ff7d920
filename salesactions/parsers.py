"""The API's body parser (its own module: ``rest_framework.views`` reads the parser setting
when imported, so the parser cannot live beside code that imports the views)."""

from __future__ import annotations

import io
import re

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 32  # the deepest body the API takes has 3 levels (a campaign's steps)
_JSON_STRINGS = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_INNERMOST_PAIRS = re.compile(rb"\[\]|\{\}")


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays and objects more than ``limit`` deep, found without parsing
    it (the parser recurses and would overflow the stack first): strings dropped, brackets
    kept, then the innermost pairs removed one level a pass — ``limit`` passes in C at most,
    and usually one or two: more than ``limit`` openers in a row settle it at once.
    A body whose brackets do not pair is left to the parser to refuse."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _JSON_STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    openers_in_a_row = re.compile(rb"[\[{]{%d}" % (limit + 1))
    for _round in range(limit):
        if openers_in_a_row.search(brackets):
            return True
        brackets, removed = _INNERMOST_PAIRS.subn(b"", brackets)
        if not brackets or not removed:
            return False
    return True


class JSONParser(parsers.JSONParser):
    """DRF's parser with the nesting depth bounded before parsing: any depth answers 400 in
    DRF's shape, never a ``RecursionError``."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        if json_depth_exceeds(body):
            raise ParseError(_("JSON parse error - nested deeper than %(levels)s levels.")
                             % {"levels": MAX_JSON_DEPTH})
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError as error:
            raise ParseError(_("JSON parse error - nested too deeply.")) from error
