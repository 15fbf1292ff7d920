"""A real subset of SOQL: parse, check against the schema, and evaluate over records.

Supported: ``SELECT`` field lists (with one level of parent relationships such as
``Owner.Email`` or ``Who.Name``), ``COUNT()`` and ``COUNT(field)``, ``FROM``, ``WHERE`` with
``= != <> < > <= >= LIKE IN NOT IN AND OR NOT`` and parentheses, string (with escapes), number,
boolean, null, date, datetime and relative date literals (``TODAY``, ``LAST_N_DAYS:n`` ...),
``ORDER BY`` (``ASC``/``DESC``, ``NULLS FIRST``/``LAST``), ``LIMIT`` and ``OFFSET``.

Errors carry the error codes Salesforce uses: MALFORMED_QUERY for syntax, INVALID_TYPE for an
unknown object, INVALID_FIELD for an unknown field and INVALID_QUERY_FILTER_OPERATOR for a
literal of the wrong type. Records are plain dicts whose datetimes are Salesforce's
``2024-01-31T12:00:00.000+0000`` strings (all UTC), so they compare correctly as strings.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cmp_to_key

from sandbox.salesforce.schema import Field, SObjectType
from sandbox.seed import sf_id_suffix, sf_number

MAX_OFFSET = 2000
STRING_TYPES = {"string", "email", "phone", "picklist", "combobox", "textarea"}
ID_TYPES = {"id", "reference"}
NUMBER_TYPES = {"int", "currency"}


class QueryError(Exception):
    """A query Salesforce would refuse: ``code`` is the REST ``errorCode``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------
# Tokens

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<string>')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),:])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"',
            "\\": "\\"}


@dataclass
class Token:
    kind: str
    value: str
    pos: int


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _syntax(text, pos, f"unexpected token: '{text[pos]}'")
        kind = match.lastgroup
        if kind == "string":
            value, pos = _read_string(text, pos)
            tokens.append(Token("string", value, match.start()))
            continue
        if kind != "ws":
            tokens.append(Token(kind, match.group(), match.start()))
        pos = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """A quoted literal; ``\\%`` and ``\\_`` stay escaped so LIKE can tell them from wildcards."""
    out = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "'":
            return "".join(out), pos + 1
        if char == "\\":
            if pos + 1 >= len(text):
                break
            escaped = text[pos + 1]
            if escaped in _ESCAPES:
                out.append(_ESCAPES[escaped])
            elif escaped in "%_":
                out.append("\\" + escaped)
            else:
                raise _syntax(text, pos, "Invalid string literal: unknown escape sequence "
                              f"'\\{escaped}'")
            pos += 2
            continue
        out.append(char)
        pos += 1
    raise _syntax(text, start, "unexpected token: unterminated string literal")


def _locate(text: str, pos: int) -> str:
    """Salesforce's error preamble: the query line, a caret and ``ERROR at Row:r:Column:c``."""
    row = text.count("\n", 0, pos) + 1
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start:line_end if line_end >= 0 else len(text)]
    column = pos - line_start + 1
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n"


def _syntax(text: str, pos: int, message: str) -> QueryError:
    return QueryError("MALFORMED_QUERY", _locate(text, pos) + message)


# ---------------------------------------------------------------------------------------------
# Syntax tree

@dataclass
class FieldPath:
    parts: list[str]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass
class Literal:
    kind: str  # string, number, boolean, null, date, datetime, relative
    value: object
    pos: int
    amount: int | None = None  # for LAST_N_DAYS:n and friends


@dataclass
class Compare:
    path: FieldPath
    op: str
    value: Literal


@dataclass
class InList:
    path: FieldPath
    values: list[Literal]
    negated: bool


@dataclass
class Like:
    path: FieldPath
    pattern: Literal


@dataclass
class Not:
    operand: object


@dataclass
class BoolOp:
    op: str  # AND / OR
    operands: list


@dataclass
class Count:
    path: FieldPath | None
    alias: str | None


@dataclass
class OrderItem:
    path: FieldPath
    descending: bool
    nulls_first: bool


@dataclass
class Query:
    text: str
    select: list  # FieldPath | Count
    sobject: str
    sobject_pos: int
    where: object | None
    order: list[OrderItem]
    limit: int | None
    offset: int | None


_KEYWORDS = {"select", "from", "where", "and", "or", "not", "like", "in", "order", "by", "asc",
             "desc", "nulls", "first", "last", "limit", "offset", "true", "false", "null",
             "group", "having", "for", "with", "includes", "excludes", "using"}


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def _keyword(self, token: Token) -> str | None:
        return token.value.lower() if token.kind == "ident" else None

    def at(self, *keywords: str) -> bool:
        return self._keyword(self.token) in keywords

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def unexpected(self) -> QueryError:
        token = self.token
        shown = token.value if token.kind != "eof" else "<EOF>"
        return _syntax(self.text, token.pos, f"unexpected token: '{shown}'")

    def expect_keyword(self, keyword: str) -> Token:
        if not self.at(keyword):
            raise self.unexpected()
        return self.advance()

    def expect_punct(self, value: str) -> Token:
        if self.token.kind != "punct" or self.token.value != value:
            raise self.unexpected()
        return self.advance()

    def is_punct(self, value: str) -> bool:
        return self.token.kind == "punct" and self.token.value == value

    def parse(self) -> Query:
        self.expect_keyword("select")
        select = [self.select_item()]
        while self.is_punct(","):
            self.advance()
            select.append(self.select_item())
        self.expect_keyword("from")
        if self.token.kind != "ident" or self._keyword(self.token) in _KEYWORDS:
            raise self.unexpected()
        sobject_token = self.advance()
        where = None
        if self.at("where"):
            self.advance()
            where = self.condition()
        order: list[OrderItem] = []
        if self.at("order"):
            self.advance()
            self.expect_keyword("by")
            order.append(self.order_item())
            while self.is_punct(","):
                self.advance()
                order.append(self.order_item())
        limit = offset = None
        if self.at("limit"):
            self.advance()
            limit = self.integer()
        if self.at("offset"):
            self.advance()
            offset = self.integer()
        if self.token.kind != "eof":
            raise self.unexpected()
        return Query(self.text, select, sobject_token.value, sobject_token.pos, where, order,
                     limit, offset)

    def integer(self) -> int:
        token = self.token
        if token.kind != "number" or not token.value.isdigit():
            raise self.unexpected()
        self.advance()
        return int(token.value)

    def field_path(self) -> FieldPath:
        token = self.token
        if token.kind != "ident" or self._keyword(token) in _KEYWORDS:
            raise self.unexpected()
        self.advance()
        return FieldPath(token.value.split("."), token.pos)

    def select_item(self):
        if self.at("count") and self.tokens[self.index + 1].value == "(":
            self.advance()
            self.expect_punct("(")
            path = None if self.is_punct(")") else self.field_path()
            self.expect_punct(")")
            alias = None
            if self.token.kind == "ident" and self._keyword(self.token) not in _KEYWORDS:
                alias = self.advance().value
            return Count(path, alias)
        return self.field_path()

    def order_item(self) -> OrderItem:
        path = self.field_path()
        descending = False
        if self.at("asc", "desc"):
            descending = self.advance().value.lower() == "desc"
        nulls_first = not descending
        if self.at("nulls"):
            self.advance()
            if not self.at("first", "last"):
                raise self.unexpected()
            nulls_first = self.advance().value.lower() == "first"
        return OrderItem(path, descending, nulls_first)

    def condition(self):
        """``a AND b AND c`` or ``a OR b OR c``; SOQL wants parentheses to mix the two."""
        first = self.term()
        if not self.at("and", "or"):
            return first
        op = self.token.value.upper()
        operands = [first]
        while self.at("and", "or"):
            if self.token.value.upper() != op:
                raise self.unexpected()
            self.advance()
            operands.append(self.term())
        return BoolOp(op, operands)

    def term(self):
        if self.at("not"):
            self.advance()
            return Not(self.term())
        if self.is_punct("("):
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        path = self.field_path()
        if self.at("like"):
            self.advance()
            pattern = self.literal()
            return Like(path, pattern)
        if self.at("not"):
            self.advance()
            self.expect_keyword("in")
            return InList(path, self.literal_list(), negated=True)
        if self.at("in"):
            self.advance()
            return InList(path, self.literal_list(), negated=False)
        if self.token.kind != "op":
            raise self.unexpected()
        op = self.advance().value
        return Compare(path, "!=" if op == "<>" else op, self.literal())

    def literal_list(self) -> list[Literal]:
        self.expect_punct("(")
        values = [self.literal()]
        while self.is_punct(","):
            self.advance()
            values.append(self.literal())
        self.expect_punct(")")
        return values

    def literal(self) -> Literal:
        token = self.token
        if token.kind == "string":
            self.advance()
            return Literal("string", token.value, token.pos)
        if token.kind == "number":
            self.advance()
            number = float(token.value) if "." in token.value else int(token.value)
            return Literal("number", number, token.pos)
        if token.kind == "date":
            self.advance()
            try:
                return Literal("date", date.fromisoformat(token.value), token.pos)
            except ValueError:
                raise _syntax(self.text, token.pos, f"line 1:{token.pos} no viable alternative "
                              f"at character '{token.value}'") from None
        if token.kind == "datetime":
            self.advance()
            try:
                return Literal("datetime", parse_datetime(token.value), token.pos)
            except ValueError:
                raise _syntax(self.text, token.pos, f"line 1:{token.pos} no viable alternative "
                              f"at character '{token.value}'") from None
        keyword = self._keyword(token)
        if keyword in ("true", "false"):
            self.advance()
            return Literal("boolean", keyword == "true", token.pos)
        if keyword == "null":
            self.advance()
            return Literal("null", None, token.pos)
        if token.kind == "ident" and token.value.upper() in RELATIVE_DATES:
            self.advance()
            name = token.value.upper()
            amount = None
            if name.endswith("_N_DAYS"):
                self.expect_punct(":")
                amount = self.integer()
            return Literal("relative", name, token.pos, amount)
        raise self.unexpected()


def parse(text: str) -> Query:
    """Parse SOQL ``text``; raises :class:`QueryError` (MALFORMED_QUERY) on bad syntax."""
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------------
# Dates

def parse_datetime(text: str) -> datetime:
    """An ISO 8601 datetime as Salesforce accepts it (``Z``, ``+hh:mm`` or ``+hhmm``; no zone
    means UTC), converted to UTC. Raises ValueError."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,6})?"
                         r"(Z|[+-]\d{2}:?\d{2})?", text.strip())
    if match is None:
        raise ValueError(f"not a datetime: {text!r}")
    day, clock, fraction, zone = match.groups()
    moment = datetime.fromisoformat(f"{day}T{clock}")
    if fraction:
        moment = moment.replace(microsecond=int(fraction[1:].ljust(6, "0")))
    offset = timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (moment - offset).replace(tzinfo=UTC)


def sf_datetime(moment: datetime) -> str:
    """A UTC datetime in the REST API's format: ``2024-01-31T12:00:00.000+0000``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _week_start(day: date) -> date:
    return day - timedelta(days=(day.weekday() + 1) % 7)  # weeks start on Sunday


def _month_start(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _relative_range(name: str, amount: int | None, today: date) -> tuple[date, date]:
    """[start, end) of a relative date literal, in days."""
    day = timedelta(days=1)
    week = timedelta(days=7)
    match name:
        case "TODAY":
            return today, today + day
        case "YESTERDAY":
            return today - day, today
        case "TOMORROW":
            return today + day, today + 2 * day
        case "LAST_N_DAYS":
            return today - amount * day, today + day
        case "NEXT_N_DAYS":
            return today + day, today + (amount + 1) * day
        case "LAST_90_DAYS":
            return today - 90 * day, today + day
        case "NEXT_90_DAYS":
            return today + day, today + 91 * day
        case "THIS_WEEK":
            return _week_start(today), _week_start(today) + week
        case "LAST_WEEK":
            return _week_start(today) - week, _week_start(today)
        case "NEXT_WEEK":
            return _week_start(today) + week, _week_start(today) + 2 * week
        case "THIS_MONTH":
            return _month_start(today), _month_start(today, 1)
        case "LAST_MONTH":
            return _month_start(today, -1), _month_start(today)
        case "NEXT_MONTH":
            return _month_start(today, 1), _month_start(today, 2)
    raise AssertionError(name)


RELATIVE_DATES = {"TODAY", "YESTERDAY", "TOMORROW", "LAST_N_DAYS", "NEXT_N_DAYS", "LAST_90_DAYS",
                  "NEXT_90_DAYS", "THIS_WEEK", "LAST_WEEK", "NEXT_WEEK", "THIS_MONTH",
                  "LAST_MONTH", "NEXT_MONTH"}


# ---------------------------------------------------------------------------------------------
# Checking and evaluation

def normalise_id(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None if it is not an id."""
    try:
        sf_number(value)
    except ValueError:
        return None
    return value if len(value) == 18 else value + sf_id_suffix(value)


Getter = Callable[[dict], object]
Lookup = Callable[[str], "tuple[str, dict] | None"]  # id -> (type, record)


@dataclass
class Column:
    """A selected field, possibly through one parent relationship."""

    field: Field
    relationship: Field | None  # the reference field on the queried object
    getter: Getter


@dataclass
class CompiledQuery:
    sobject: SObjectType
    columns: list[Column]
    predicate: Callable[[dict], bool]
    count_only: bool
    aggregate_alias: str | None  # COUNT(field): one AggregateResult row
    order_key: Callable | None
    limit: int | None
    offset: int
    candidate_ids: set[str] | None  # WHERE pins Id to these values: no need to scan
    lookup: Lookup = field(repr=False)
    compare: Callable | None = field(repr=False, default=None)  # orders two order_key values

    def select(self, rows: Iterable[tuple[object, dict]], include_deleted: bool) -> list:
        """The refs of matching ``(ref, record)`` rows, ordered and cut by ORDER BY/LIMIT/OFFSET.

        Without ORDER BY, matches stream through and only their refs are kept; with ORDER BY and
        LIMIT, a bounded heap keeps the first ``offset + limit``.
        """
        def matching():
            for ref, record in rows:
                if not include_deleted and record.get("IsDeleted"):
                    continue
                if self.predicate(record):
                    yield ref, record

        wanted = None if self.limit is None else self.offset + self.limit
        if self.order_key is None:
            refs = []
            for ref, _record in matching():
                refs.append(ref)
                if wanted is not None and len(refs) >= wanted:
                    break
        else:
            keyed = ((self.order_key(record), ref) for ref, record in matching())
            pair_key = cmp_to_key(lambda a, b: self.compare(a[0], b[0]))
            if wanted is not None:
                ordered = heapq.nsmallest(wanted, keyed, key=pair_key)
            else:
                ordered = sorted(keyed, key=pair_key)
            refs = [ref for _key, ref in ordered]
        return refs[self.offset:]

    def render(self, record: dict, version: str) -> dict:
        """One row of the query response, fields in SELECT order."""
        out = {"attributes": _attributes(self.sobject.name, record["Id"], version)}
        for column in self.columns:
            if column.relationship is None:
                out[column.field.name] = column.getter(record)
                continue
            name = column.relationship.relationship_name
            parent_id = record.get(column.relationship.name)
            found = self.lookup(parent_id) if parent_id else None
            if found is None:
                out[name] = None
                continue
            parent_type, parent = found
            nested = out.get(name)
            if nested is None:
                nested = out[name] = {"attributes": _attributes(parent_type, parent["Id"],
                                                                 version)}
            nested[column.field.name] = _plain_value(parent, column.field)
        return out


def _attributes(type_name: str, record_id: str, version: str) -> dict:
    return {"type": type_name,
            "url": f"/services/data/v{version}/sobjects/{type_name}/{record_id}"}


def _plain_value(record: dict, f: Field):
    value = record.get(f.name)
    if value is None and f.type == "boolean":
        return bool(f.default)
    return value


def compile_query(query: Query, schema: dict[str, SObjectType], lookup: Lookup,
                  today: date) -> CompiledQuery:
    """Check ``query`` against ``schema`` and turn it into Python callables."""
    sobject = next((o for name, o in schema.items() if name.lower() == query.sobject.lower()),
                   None)
    if sobject is None:
        raise QueryError("INVALID_TYPE", _locate(query.text, query.sobject_pos) + (
            f"sObject type '{query.sobject}' is not supported. If you are attempting to use a "
            "custom object, be sure to append the '__c' after the entity name. Please reference "
            "your WSDL or the describe call for the appropriate names."))
    compiler = _Compiler(query, sobject, schema, lookup, today)

    counts = [item for item in query.select if isinstance(item, Count)]
    if counts and len(query.select) > 1:
        other = next(item for item in query.select if not isinstance(item, Count))
        raise QueryError("MALFORMED_QUERY", _locate(query.text, other.pos) +
                         f"Field must be grouped or aggregated: {other.text}")
    columns: list[Column] = []
    seen = set()
    for item in query.select:
        if isinstance(item, Count):
            if item.path is not None:  # COUNT(field) counts the rows where field is not null
                columns.append(compiler.column(item.path))
            continue
        column = compiler.column(item)
        key = (column.relationship.name if column.relationship else None, column.field.name)
        if key in seen:
            raise QueryError("DUPLICATE_FIELD", _locate(query.text, item.pos) +
                             f"duplicate field selected: {item.text}")
        seen.add(key)
        columns.append(column)

    predicate = compiler.predicate(query.where) if query.where is not None else (lambda r: True)
    order_key, compare = _ordering(query.order, compiler) if query.order else (None, None)
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise QueryError("NUMBER_OUTSIDE_VALID_RANGE",
                         f"Maximum SOQL offset allowed is {MAX_OFFSET}")
    return CompiledQuery(
        sobject=sobject,
        columns=columns,
        predicate=predicate,
        count_only=bool(counts) and counts[0].path is None,
        aggregate_alias=(counts[0].alias or "expr0") if counts and counts[0].path else None,
        order_key=order_key,
        limit=query.limit,
        offset=query.offset or 0,
        candidate_ids=_pinned_ids(query.where, sobject),
        lookup=lookup,
        compare=compare,
    )


def _ordering(items: list[OrderItem], compiler: _Compiler) -> tuple[Callable, Callable]:
    """ORDER BY as a key function (a tuple of field values) and a comparison of two keys."""
    columns = [compiler.column(item.path, for_order=True) for item in items]
    # Text sorts case-insensitively; ids and references sort as they are.
    getters = [(column.getter, column.field.type in STRING_TYPES) for column in columns]
    directions = [(item.descending, item.nulls_first) for item in items]

    def order_key(record):
        return tuple(_folded(get(record)) if folds else get(record) for get, folds in getters)

    def compare(left, right):
        for (descending, nulls_first), a, b in zip(directions, left, right, strict=True):
            if a == b:
                continue
            if a is None or b is None:
                return (-1 if a is None else 1) * (1 if nulls_first else -1)
            result = -1 if a < b else 1
            return -result if descending else result
        return 0

    return order_key, compare


def _folded(value):
    return value.lower() if isinstance(value, str) else value


def _pinned_ids(node, sobject: SObjectType) -> set[str] | None:
    """Ids that ``Id = ...`` / ``Id IN (...)`` at the top of the WHERE (or inside an AND)
    restricts the result to, so the store can fetch those records instead of scanning."""
    if isinstance(node, BoolOp) and node.op == "AND":
        for operand in node.operands:
            ids = _pinned_ids(operand, sobject)
            if ids is not None:
                return ids
        return None

    def is_id(path: FieldPath) -> bool:
        parts = path.parts[1:] if (len(path.parts) == 2 and
                                   path.parts[0].lower() == sobject.name.lower()) else path.parts
        return len(parts) == 1 and parts[0].lower() == "id"

    if isinstance(node, Compare) and node.op == "=" and is_id(node.path):
        values = [node.value]
    elif isinstance(node, InList) and not node.negated and is_id(node.path):
        values = node.values
    else:
        return None
    return {normalise_id(v.value) for v in values
            if v.kind == "string" and normalise_id(v.value)}


class _Compiler:
    def __init__(self, query: Query, sobject: SObjectType, schema: dict[str, SObjectType],
                 lookup: Lookup, today: date):
        self.query = query
        self.sobject = sobject
        self.schema = schema
        self.lookup = lookup
        self.today = today

    def error(self, code: str, pos: int, message: str) -> QueryError:
        return QueryError(code, _locate(self.query.text, pos) + message)

    def no_column(self, path: FieldPath, entity: str) -> QueryError:
        return self.error("INVALID_FIELD", path.pos, (
            f"No such column '{path.parts[-1]}' on entity '{entity}'. If you are attempting to "
            "use a custom field, be sure to append the '__c' after the custom field name. Please "
            "reference your WSDL or the describe call for the appropriate names."))

    def column(self, path: FieldPath, for_order: bool = False) -> Column:
        parts = path.parts
        if len(parts) > 1 and parts[0].lower() == self.sobject.name.lower():
            parts = parts[1:]
        if len(parts) == 1:
            f = self.sobject.field(parts[0])
            if f is None:
                raise self.no_column(path, self.sobject.name)
            if for_order and f.type == "textarea":
                raise self.error("INVALID_FIELD", path.pos,
                                 f"field '{f.name}' can not be sorted in a query call")
            return Column(f, None, lambda record, f=f: _plain_value(record, f))
        if len(parts) > 2:
            raise self.error("INVALID_FIELD", path.pos,
                             f"Didn't understand relationship '{'.'.join(parts[:-1])}' in field "
                             f"path. This sandbox follows one parent relationship at most.")
        reference = self.sobject.relationship(parts[0])
        if reference is None:
            raise self.error("INVALID_FIELD", path.pos, (
                f"Didn't understand relationship '{parts[0]}' in field path. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after the "
                "custom relationship name. Please reference your WSDL or the describe call for "
                "the appropriate names."))
        targets = [self.schema[name] for name in reference.reference_to if name in self.schema]
        target_field = next((t.field(parts[1]) for t in targets if t.field(parts[1])), None)
        if target_field is None:
            raise self.no_column(path, targets[0].name if len(targets) == 1 else "Name")
        lookup = self.lookup
        name = target_field.name

        def getter(record, reference=reference, target_field=target_field):
            parent_id = record.get(reference.name)
            found = lookup(parent_id) if parent_id else None
            if found is None:
                return None
            parent_type = self.schema.get(found[0])
            if parent_type is None or parent_type.field(name) is None:
                return None
            return _plain_value(found[1], target_field)

        return Column(target_field, reference, getter)

    def predicate(self, node) -> Callable[[dict], bool]:
        if isinstance(node, BoolOp):
            parts = [self.predicate(operand) for operand in node.operands]
            if node.op == "AND":
                return lambda record: all(p(record) for p in parts)
            return lambda record: any(p(record) for p in parts)
        if isinstance(node, Not):
            inner = self.predicate(node.operand)
            return lambda record: not inner(record)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, InList):
            return self.in_list(node)
        if isinstance(node, Like):
            return self.like(node)
        raise AssertionError(node)

    def filter_column(self, path: FieldPath) -> Column:
        column = self.column(path)
        if column.field.type == "textarea":
            raise self.error("INVALID_FIELD", path.pos,
                             f"field '{column.field.name}' can not be filtered in a query call")
        return column

    def bound(self, f: Field, literal: Literal, op: str):
        """The literal as a value comparable with the field's stored values:
        a scalar, None for null, or a ``(start, end)`` range for relative dates."""
        if literal.kind == "null":
            return None
        kind = f.type

        def wrong(expected: str) -> QueryError:
            shown = literal.value if literal.kind != "string" else f"'{literal.value}'"
            if expected in ("date", "dateTime"):
                return self.error("INVALID_QUERY_FILTER_OPERATOR", literal.pos, (
                    f"value of filter criterion for field '{f.name}' must be of type {expected} "
                    "and should not be enclosed in quotes"))
            return self.error("INVALID_QUERY_FILTER_OPERATOR", literal.pos,
                              f"invalid {expected}: {shown}")

        if kind in STRING_TYPES:
            if literal.kind != "string":
                raise wrong("string")
            return literal.value.lower()
        if kind in ID_TYPES:
            if literal.kind != "string":
                raise wrong("ID field")
            normalised = normalise_id(literal.value)
            if normalised is None:
                if op in ("=", "!="):
                    raise self.error("INVALID_QUERY_FILTER_OPERATOR", literal.pos,
                                     f"invalid ID field: {literal.value}")
                return literal.value
            return normalised
        if kind == "boolean":
            if literal.kind != "boolean":
                raise wrong("boolean")
            if op not in ("=", "!="):
                raise self.error("INVALID_QUERY_FILTER_OPERATOR", literal.pos,
                                 f"invalid operator on boolean field: {f.name}")
            return literal.value
        if kind in NUMBER_TYPES:
            if literal.kind != "number":
                raise wrong("number")
            return literal.value
        if kind == "date":
            if literal.kind == "date":
                return literal.value.isoformat()
            if literal.kind == "relative":
                start, end = _relative_range(literal.value, literal.amount, self.today)
                return start.isoformat(), end.isoformat()
            raise wrong("date")
        if kind == "datetime":
            if literal.kind == "datetime":
                return sf_datetime(literal.value)
            if literal.kind == "relative":
                start, end = _relative_range(literal.value, literal.amount, self.today)
                return (sf_datetime(datetime(start.year, start.month, start.day, tzinfo=UTC)),
                        sf_datetime(datetime(end.year, end.month, end.day, tzinfo=UTC)))
            raise wrong("dateTime")
        raise AssertionError(kind)

    def compare(self, node: Compare) -> Callable[[dict], bool]:
        column = self.filter_column(node.path)
        get = column.getter
        folded = column.field.type in STRING_TYPES
        bound = self.bound(column.field, node.value, node.op)
        op = node.op
        if bound is None:
            if op == "=":
                return lambda record: get(record) is None
            if op == "!=":
                return lambda record: get(record) is not None
            return lambda record: False
        if isinstance(bound, tuple):
            start, end = bound
            tests = {
                "=": lambda v: start <= v < end,
                "!=": lambda v: not start <= v < end,
                "<": lambda v: v < start,
                "<=": lambda v: v < end,
                ">": lambda v: v >= end,
                ">=": lambda v: v >= start,
            }
        else:
            tests = {
                "=": lambda v: v == bound,
                "!=": lambda v: v != bound,
                "<": lambda v: v < bound,
                "<=": lambda v: v <= bound,
                ">": lambda v: v > bound,
                ">=": lambda v: v >= bound,
            }
        test = tests[op]
        null_result = op == "!="  # in SOQL, `field != value` also matches nulls

        def predicate(record):
            value = get(record)
            if value is None:
                return null_result
            return test(value.lower() if folded else value)

        return predicate

    def in_list(self, node: InList) -> Callable[[dict], bool]:
        column = self.filter_column(node.path)
        get = column.getter
        folded = column.field.type in STRING_TYPES
        values = set()
        for literal in node.values:
            bound = self.bound(column.field, literal, "=")
            if isinstance(bound, tuple):
                raise self.error("INVALID_QUERY_FILTER_OPERATOR", literal.pos,
                                 "relative date literals are not supported inside IN")
            values.add(bound)
        negated = node.negated

        def predicate(record):
            value = get(record)
            if value is not None and folded:
                value = value.lower()
            return (value not in values) if negated else (value is not None and value in values)

        return predicate

    def like(self, node: Like) -> Callable[[dict], bool]:
        column = self.filter_column(node.path)
        if column.field.type not in STRING_TYPES and column.field.type not in ID_TYPES:
            raise self.error("INVALID_QUERY_FILTER_OPERATOR", node.pattern.pos,
                             f"invalid operator on field: {column.field.name}")
        if node.pattern.kind != "string":
            raise self.error("INVALID_QUERY_FILTER_OPERATOR", node.pattern.pos,
                             "LIKE operator only valid on string values")
        regex = re.compile(_like_regex(node.pattern.value), re.IGNORECASE | re.DOTALL)
        get = column.getter

        def predicate(record):
            value = get(record)
            return value is not None and regex.fullmatch(value) is not None

        return predicate


def _like_regex(pattern: str) -> str:
    out = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\" and pos + 1 < len(pattern) and pattern[pos + 1] in "%_":
            out.append(re.escape(pattern[pos + 1]))
            pos += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        pos += 1
    return "".join(out)
