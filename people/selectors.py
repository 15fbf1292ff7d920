"""Reads of people: the filtered list, keyset pages over it, counts, one person (SPEC sections
2, 3 and 10). The live Marketo activity panel is ``people/marketo_panel.py``.

Fast at a million people: pages are keyset pages (``WHERE (sort key, id) > (last row's key)
ORDER BY sort key, id LIMIT n``), never ``OFFSET``, so the last page costs what the first does;
counts are exact up to a cap (the page's small one; the API's a million rows), beyond it
PostgreSQL's estimate. On PostgreSQL every
sort order has a partial index over the workspace and search uses a trigram index
(``people/migrations/0002_list_indexes.py``), with statistics that let the planner choose well
(``0003_list_statistics.py``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    F,
    Func,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from psycopg.errors import QueryCanceled

from salesactions.caching import (
    cache_delete_quietly,
    cache_get_quietly,
    cache_set_quietly,
    cached_or_built,
)
from syncing.queueing import task_named
from syncing.settings.selectors import salesforce_connection_get
from unsubscribes.selectors import (
    people_filter_unsubscribed,
    people_with_unsubscribed,
    suppression_keys,
)

from .list_cache import people_data_version
from .models import ListColumns, Person, SavedView
from .search_narrowing import narrowed_pattern

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Up to this many matches a list shows an exact count; beyond it, the planner's estimate.
COUNT_CAP = 1000
# The API counts exactly whenever PostgreSQL expects fewer matches than this (so always on a
# table that holds fewer people), and counts at most this many rows; a longer list is the
# planner's estimate, flagged inexact.
API_EXACT_COUNT_LIMIT = 1_000_000
# ... unless counting in the request takes longer than this (the planner expected a short list
# and it is long): the answer is then the estimate, inexact, and a worker counts it, rather
# than hold the request (and a web worker) for seconds.
API_COUNT_TIME_LIMIT_MS = 1000
# A count the planner expects to be long (``PEOPLE_COUNT_INLINE_LIMIT`` matches or more) that is
# not made within ``PEOPLE_COUNT_INLINE_MS`` in the request is made by a worker instead
# (:func:`person_count_in_background`), which may take this long. (A filter
# PostgreSQL can only count by probing every person, unsubscribed at ten million people: 90 s,
# stays the estimate.)
BACKGROUND_COUNT_TIME_LIMIT_MS = 60_000
# The Celery task that makes it (``people/tasks.py``), enqueued by name.
COUNT_TASK = "people.tasks.people_count_task"
# Sorting by "last updated" puts people Marketo gave no date first (ascending).
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidCursor(ValueError):
    """A page cursor that was not made by :func:`person_page` for this sort order."""


# --------------------------------------------------------------------------------- the list


@dataclass(frozen=True)
class PersonCriteria:
    """What narrows the people list. Empty values do not filter."""

    search: str = ""
    owner_email: str = ""          # lower-cased; "" is everyone's people
    company: str = ""              # case-insensitive exact match
    source: str = ""
    unsubscribed: bool | None = None
    marketo_id: int | None = None
    email: str = ""                # case-insensitive exact match
    ids: tuple[int, ...] = ()      # only these people (rows ticked on the list)


def person_get(pk: int) -> Person:
    """One person in the workspace, with ``unsubscribed``; raises ``Person.DoesNotExist``."""
    return people_with_unsubscribed(Person.workspace.all()).get(pk=pk)


# What lists show (the API shows the most): the rest of a row is left in the database.
LIST_FIELDS = ("marketo_id", "first_name", "last_name", "email", "company", "title", "phone",
               "linkedin_url", "source", "sfdc_contact_id", "sfdc_lead_id", "sfdc_account_id",
               "sfdc_opportunity_id", "owner_email", "owner_first_name", "owner_last_name",
               "marketo_updated_at")


def person_list(criteria: PersonCriteria, *, narrowed: bool = False) -> QuerySet[Person]:
    """The people matching ``criteria`` with the fields lists show and ``unsubscribed``,
    unordered (:func:`person_page` orders and pages). ``narrowed``: see :func:`_matching`."""
    return people_with_unsubscribed(_matching(criteria, narrowed=narrowed).only(*LIST_FIELDS))


def _matching(criteria: PersonCriteria, *, narrowed: bool = False) -> QuerySet[Person]:
    """``narrowed``: a long search reads fewer trigram lists
    (``people/search_narrowing.py``), for a query that reads its matches through the trigram
    index. Not for one the planner is asked about: the narrowed condition misleads its
    estimate."""
    people = Person.workspace.all()
    term = criteria.search.strip()
    if term:
        index_pattern = narrowed_pattern(term) if narrowed else None
        people = people.filter(_SearchMatch(term, index_pattern=index_pattern))
    if criteria.owner_email:
        people = people.filter(owner_email=criteria.owner_email.lower())
    if criteria.company:
        people = people.filter(company__iexact=criteria.company)
    if criteria.source:
        people = people.filter(source=criteria.source)
    if criteria.unsubscribed is not None:
        people = people_filter_unsubscribed(people, criteria.unsubscribed)
    if criteria.marketo_id is not None:
        people = people.filter(marketo_id=criteria.marketo_id)
    if criteria.email:
        people = people.filter(email__iexact=criteria.email)
    if criteria.ids:
        people = people.filter(pk__in=criteria.ids)
    return people


# The columns search looks in; the trigram index on PostgreSQL is built on the same expression.
SEARCH_DOCUMENT = ("first_name", "last_name", "email", "company")


class _SearchMatch(Func):
    """``first_name || ' ' || last_name || ' ' || email || ' ' || company`` contains the term,
    ignoring case. One expression over all searched columns lets "olivia smith" match a full name
    and lets PostgreSQL answer from one trigram index."""

    output_field = BooleanField()

    def __init__(self, term: str, *, index_pattern: str | None = None):
        """``index_pattern`` (PostgreSQL): a pattern every match also matches, made of fewer
        trigrams, for the index to answer; the term is then checked on the rows it finds."""
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", term) + "%"
        self.index_pattern = index_pattern
        super().__init__(*[F(name) for name in SEARCH_DOCUMENT], Value(pattern))

    def as_sql(self, compiler, connection, **extra_context):
        *columns, pattern = self.get_source_expressions()
        parts, params = [], []
        for column in columns:
            sql, column_params = compiler.compile(column)
            parts.append(sql)
            params += column_params
        pattern_sql, pattern_params = compiler.compile(pattern)
        # The separators are inlined so the expression is literally the indexed one. SQLite's
        # LIKE ignores (ASCII) case; its escape character must be named.
        operator = "ILIKE" if connection.vendor == "postgresql" else "LIKE"
        escape = "" if connection.vendor == "postgresql" else " ESCAPE '\\'"
        document = " || ' ' || ".join(parts)
        if self.index_pattern and connection.vendor == "postgresql":
            # "|| ''" makes the term's expression differ from the indexed one, so the
            # planner leaves it to a filter on the rows the narrower pattern finds.
            return (f"(({document}) ILIKE %s AND ({document} || '') ILIKE {pattern_sql})",
                    [*params, self.index_pattern, *params, *pattern_params])
        return f"({document}) {operator} {pattern_sql}{escape}", [*params, *pattern_params]


# --------------------------------------------------------------------------------- keyset pages


@dataclass(frozen=True)
class SortKey:
    """One sort order: the columns after which ``id`` breaks ties, and how nulls sort."""

    label: str
    columns: tuple[str, ...]
    nulls_as: object = None          # what a null column sorts as (only "updated" has nulls)

    def expressions(self) -> list:
        if self.nulls_as is None:
            return [F(name) for name in self.columns]
        return [Coalesce(F(name), Value(self.nulls_as)) for name in self.columns]

    def key_of(self, person: Person) -> list:
        values = [getattr(person, name) for name in self.columns]
        if self.nulls_as is not None:
            values = [self.nulls_as if value is None else value for value in values]
        return [*values, person.pk]


SORTS: dict[str, SortKey] = {
    "name": SortKey(pgettext_lazy("person name", "Name"), ("last_name", "first_name")),
    "company": SortKey(gettext_lazy("Company"), ("company",)),
    "title": SortKey(pgettext_lazy("job title", "Title"), ("title",)),
    "email": SortKey(gettext_lazy("Email"), ("email",)),
    "owner": SortKey(gettext_lazy("Owner"), ("owner_last_name", "owner_first_name")),
    "updated": SortKey(gettext_lazy("Last updated"), ("marketo_updated_at",), nulls_as=NEVER),
}
# The accepted values of a sort parameter: "name", "-name" (descending), ...
SORT_CHOICES = [value for key in SORTS for value in (key, f"-{key}")]


@dataclass(frozen=True)
class PersonPage:
    """One page of people plus the cursors of its neighbours (``None``: there is none).

    ``last_cursor`` opens the last page directly: the order reversed, its first rows.
    """

    people: list[Person]
    sort: str
    next_cursor: str | None
    previous_cursor: str | None
    # PostgreSQL's estimate of the matches, when reading a search asked for it (the count then
    # need not ask again).
    matches_estimate: int | None = None
    # How many people match, when reading the page read every match anyway (the count then
    # need not read them again).
    matches_counted: int | None = None

    @property
    def first_page(self) -> bool:
        return self.previous_cursor is None

    @property
    def last_cursor(self) -> str | None:
        return _encode_cursor(self.sort, "previous", None) if self.next_cursor else None


def person_page(criteria: PersonCriteria, *, sort: str = "name", cursor: str | None = None,
                size: int = PAGE_SIZE) -> PersonPage:
    """The page of the people matching ``criteria``, in ``sort`` order, that ``cursor`` points
    at (the first page if none), each person with ``unsubscribed``. Raises
    :class:`InvalidCursor` for a cursor of another sort order or a forged one.

    Costs index range scans (the page and a one-row look in the other direction), however deep
    the page is: no ``OFFSET``, no ``COUNT``.
    """
    sort_key, descending = _sort(sort)
    direction, key = _decode_cursor(cursor, sort) if cursor else ("next", None)
    backwards = direction == "previous"
    columns = [*sort_key.expressions(), F("pk")]

    estimate = None
    if criteria.search and connection.vendor == "postgresql":
        estimate = _planner_estimate(_bare(criteria))
    # Walking backwards is walking forwards in the reversed order.
    rows, counted = _rows_after(criteria, sort_key, columns, key, descending != backwards,
                                size + 1, estimate)
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    if not rows:
        return PersonPage([], sort, None, None, estimate, counted)
    people = _matching(criteria)
    first, last = sort_key.key_of(rows[0]), sort_key.key_of(rows[-1])
    if backwards:
        has_previous = more
        has_next = key is not None and _any_beyond(people, columns, last, descending)
    else:
        has_next = more
        has_previous = key is not None and _any_beyond(people, columns, first, not descending)
    return PersonPage(
        people=rows, sort=sort,
        next_cursor=_encode_cursor(sort, "next", last) if has_next else None,
        previous_cursor=_encode_cursor(sort, "previous", first) if has_previous else None,
        matches_estimate=estimate, matches_counted=counted)


# A search first walks at most this many people in sort order (a few milliseconds).
SEARCH_WINDOW = 5000
# Reading every match of a common search (the rest of a page, an exact count): with the default
# 4 MB the bitmap of a few hundred thousand matches among ten million people goes lossy, and
# PostgreSQL rechecks every row of each lossy page: 3.9 M rows instead of 0.3 M, 4x the time.
MATCHES_WORK_MEM = "SET LOCAL work_mem = '32MB'"


def _rows_after(criteria: PersonCriteria, sort_key: SortKey, columns: list, key: list | None,
               reverse: bool, limit: int,
               estimate: int | None) -> tuple[list[Person], int | None]:
    """The first ``limit`` matching people after ``key`` in sort order (reversed if asked), and
    how many people match when reading them read every match anyway (else None).

    Without a search that is one index range scan. A search is either common (a page of
    matches lies within a few thousand people in sort order) or rare, or its matches sit
    together far along the order, like a last name sorted by name. Left to itself PostgreSQL
    walks the sort index in every case, reading up to the whole table for the last two. So a
    search walks a bounded window first, and only when that does not fill the page reads the
    remaining matches through the trigram index (bounded by their number) and sorts them. A
    search the planner expects to be rare (``estimate`` matches) skips the window.

    Reading a rare search's first (or last) page that way reads every match, so the same query
    counts them (``COUNT(*) OVER ()``): the count need not read them all again (at ten million
    people, the 3,345 matches of "smith12": page and count in 21 ms instead of 29). Only for a
    search the planner expects to be short (under ``PEOPLE_COUNT_INLINE_LIMIT``), which the
    count would read in the request anyway; a long one's rows would all be held for the count.
    """
    order = [column.desc() if reverse else column.asc() for column in columns]
    before, after = (">=", "<") if reverse else ("<=", ">")

    def following(people: QuerySet, start: list | None) -> QuerySet:
        people = people.order_by(*order)
        return people if start is None else people.filter(_row_compare(columns, start, after))

    matching = person_list(criteria)
    if not criteria.search or connection.vendor != "postgresql":
        return list(following(matching, key)[:limit]), None
    counting = key is None and estimate is not None \
        and estimate < settings.PEOPLE_COUNT_INLINE_LIMIT
    if _window_futile(criteria, estimate, limit):
        return _matches_sorted(following(_narrowed(criteria), key), limit, counting=counting)

    edge = list(following(_matching(replace(criteria, search="")), key)
                .only("pk", *sort_key.columns)[SEARCH_WINDOW - 1:SEARCH_WINDOW])
    if not edge:  # fewer people than the window remain: walking them is bounded
        return list(following(matching, key)[:limit]), None
    edge_key = sort_key.key_of(edge[0])
    rows = list(following(matching, key).filter(_row_compare(columns, edge_key, before))[:limit])
    if len(rows) == limit:
        return rows, None
    # The window's matches are all in ``rows``: the ones beyond it make up the rest.
    beyond, counted = _matches_sorted(following(_narrowed(criteria), edge_key),
                                      limit - len(rows), counting=counting)
    return rows + beyond, None if counted is None else len(rows) + counted


def _narrowed(criteria: PersonCriteria) -> QuerySet[Person]:
    """:func:`person_list` for a query that reads the matches through the trigram index: a long
    search reads fewer of its lists. Built only when such a query runs (choosing the trigrams
    may take a sample)."""
    return person_list(criteria, narrowed=True)


def _matches_sorted(people: QuerySet, limit: int, *,
                    counting: bool = False) -> tuple[list[Person], int | None]:
    """The first ``limit`` of ``people`` (a search, ordered) read through the trigram index
    (or, for a pattern too short for trigrams, the table) and sorted, instead of walking the
    sort index on: index scans off. With ``counting``, also how many of ``people`` there are
    (the query reads them all to sort them anyway)."""
    if counting:
        people = people.annotate(matches_read=Window(Count("pk")))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
        cursor.execute(MATCHES_WORK_MEM)
        rows = list(people[:limit])
        transaction.set_rollback(True)  # it only read; rolling back undoes the SET LOCALs
    if not counting:
        return rows, None
    return rows, rows[0].matches_read if rows else 0


def _window_futile(criteria: PersonCriteria, matches: int, limit: int) -> bool:
    """Whether the planner expects the search's first window (:data:`SEARCH_WINDOW` people in
    sort order) to hold fewer than a quarter of a page of its ``matches``. Then the window is
    skipped: it would not fill the page, and PostgreSQL reads it through the trigram index
    anyway, so walking it first only builds the matches' bitmap twice (at ten million people,
    "olivia smith": 7,600 matches, ~175 ms each time)."""
    everyone = _planner_estimate(_bare(replace(criteria, search="")))
    return matches * SEARCH_WINDOW < everyone * limit / 4


def _bare(criteria: PersonCriteria, *, narrowed: bool = False) -> QuerySet:
    """The ids of the people matching ``criteria``, unordered: what counts and estimates read
    (``narrowed`` only for counting, see :func:`_matching`)."""
    return _matching(criteria, narrowed=narrowed).order_by().values("pk")


def _any_beyond(people: QuerySet, columns: list, key: list, descending: bool) -> bool:
    return people.filter(_row_compare(columns, key, "<" if descending else ">")).exists()


def _row_compare(columns: Sequence, values: Sequence, operator: str) -> Func:
    """``(c1, c2, id) > (v1, v2, v3)``: a row comparison, which PostgreSQL answers with one range
    scan of the matching index (an OR-chain of column comparisons it cannot)."""
    values = [Value(value) for value in values]
    return Func(Func(*columns, function="", output_field=CharField()),
                Func(*values, function="", output_field=CharField()),
                arg_joiner=f" {operator} ", template="%(expressions)s",
                output_field=BooleanField())


def _sort(sort: str) -> tuple[SortKey, bool]:
    descending = sort.startswith("-")
    try:
        return SORTS[sort.removeprefix("-")], descending
    except KeyError:
        raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(SORT_CHOICES)}") \
            from None


def _encode_cursor(sort: str, direction: str, key: list | None) -> str:
    if key is not None:
        key = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    text = json.dumps({"s": sort, "d": direction, "k": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[str, list | None]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        direction, key = data["d"], data["k"]
        matches = data["s"] == sort and direction in ("next", "previous")
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidCursor(_("this page link is not valid")) from None
    if not matches:
        raise InvalidCursor(_("this page link belongs to another sort order"))
    if key is None:
        if direction != "previous":
            raise InvalidCursor(_("this page link is not valid"))
        return direction, None
    return direction, _parse_key(key, SORTS[sort.removeprefix("-")])


def _parse_key(key, sort_key: SortKey) -> list:
    if not isinstance(key, list) or len(key) != len(sort_key.columns) + 1:
        raise InvalidCursor(_("this page link is not valid"))
    *values, pk = key
    if not isinstance(pk, int) or isinstance(pk, bool) or not 0 <= pk < 2**63:
        raise InvalidCursor(_("this page link is not valid"))
    parsed = []
    for value in values:
        # PostgreSQL text cannot hold NUL: such a key cannot have come from a row.
        if not isinstance(value, str) or "\x00" in value:
            raise InvalidCursor(_("this page link is not valid"))
        if sort_key.nulls_as is not None:
            try:
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError("naive")
                value = value.astimezone(UTC)
            except (ValueError, OverflowError):
                raise InvalidCursor(_("this page link is not valid")) from None
        parsed.append(value)
    return [*parsed, pk]


# --------------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class PeopleCount:
    """How many people a list holds: exact up to :data:`COUNT_CAP`, then an estimate."""

    value: int
    exact: bool
    # The estimate of a long list a worker is counting: a later request gets the exact count
    # (so an answer carrying this one is not kept, see ``people/api.py``).
    pending: bool = False

    def __str__(self) -> str:
        if self.exact:
            return ngettext("%(count)s person", "%(count)s people", self.value) % {
                "count": number_format(self.value, force_grouping=True)}
        if self.value > COUNT_CAP + 1:
            return ngettext("about %(count)s person", "about %(count)s people", self.value) % {
                "count": number_format(self.value, force_grouping=True)}
        return ngettext("more than %(count)s person", "more than %(count)s people",
                        COUNT_CAP) % {"count": number_format(COUNT_CAP, force_grouping=True)}


def person_count(criteria: PersonCriteria, page: PersonPage, *,
                 exact_up_to: int | None = COUNT_CAP) -> PeopleCount:
    """How many people match ``criteria`` (``page`` is their first page shown), at a bounded
    cost.

    A list that fits on its first page is counted by that page, and so is a rare search whose
    first or last page read every match (``page.matches_counted``). Otherwise PostgreSQL's row
    estimate for the query (its plan, from table statistics) is asked first. For the page
    (``exact_up_to`` a number) a large list is "about N" (two significant digits) without
    reading it, and smaller ones are counted, reading at most ``exact_up_to + 1`` rows.

    The API passes ``exact_up_to=None``: see :func:`_api_count_kept`.
    """
    if page.first_page and page.next_cursor is None:
        return PeopleCount(len(page.people), exact=True)
    if page.matches_counted is not None:
        return PeopleCount(page.matches_counted, exact=True)
    bare = _bare(criteria)
    if exact_up_to is None:
        return _api_count_kept(criteria, bare, page.matches_estimate)
    if connection.vendor == "postgresql":
        estimate = page.matches_estimate
        if estimate is None:
            estimate = _planner_estimate(bare)
        if estimate > 2 * exact_up_to:
            return _estimated(estimate)
    counted = _bare(criteria, narrowed=True)[:exact_up_to + 1].count()
    return PeopleCount(counted, exact=counted <= exact_up_to)


def _api_count_kept(criteria: PersonCriteria, bare: QuerySet,
                    estimate: int | None) -> PeopleCount:
    """The API's count: exact whenever the planner expects fewer than
    :data:`API_EXACT_COUNT_LIMIT` matches (and on SQLite, which has no estimate, always);
    otherwise the estimate with ``exact=False``. Kept for the current version of the people
    data (see :func:`_count_key`).

    Counting reads every match: a few hundred thousand of them (a common search at ten million
    people) take seconds, where the whole table at a million takes ~75 ms. So a list the
    planner expects to hold ``PEOPLE_COUNT_INLINE_LIMIT`` matches or more is counted in the
    request for at most ``PEOPLE_COUNT_INLINE_MS``, by one request at a time (the others,
    meanwhile, answer the estimate); a count that takes longer is cancelled there, the answer
    is the estimate, inexact, and a worker counts it (:func:`person_count_in_background`, once
    per list and data version): the next request for the same list gets the exact count.
    Shorter lists are counted in the request, for up to :data:`API_COUNT_TIME_LIMIT_MS`, and
    handed to the worker the same way past it (the estimate was far too low). With the list
    cache off (``PEOPLE_LIST_CACHE_SECONDS`` 0) nothing can be kept or guarded, so a long list
    answers the estimate without trying."""
    if connection.vendor != "postgresql":
        return _count_cached(criteria, lambda: _api_count(criteria))
    try:
        version = people_data_version() if settings.PEOPLE_LIST_CACHE_SECONDS else None
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the database answers
        log.warning("people count cache unavailable", exc_info=True)
        version = None
    key = None if version is None else _count_key(criteria, version)
    if key is not None:
        try:
            kept = cache.get(key)
        except Exception:  # noqa: BLE001 - any cache backend's connection error
            log.warning("people count cache unavailable", exc_info=True)
            key = None
        else:
            if kept is not None:
                return PeopleCount(*kept)  # (value, exact)
    if estimate is None:
        estimate = _planner_estimate(bare)
    if settings.PEOPLE_COUNT_INLINE_LIMIT <= estimate < API_EXACT_COUNT_LIMIT:
        return _long_count(criteria, estimate, version, key)
    count = _api_count(criteria, estimate=estimate)
    if count is None:  # the estimate was far too low: a worker counts
        if key is None:
            return _estimated(estimate)
        if _count_claim(key):
            _count_enqueue(criteria, version, key)
        return replace(_estimated(estimate), pending=True)
    if key is not None:
        cache_set_quietly(key, _kept(count), settings.PEOPLE_LIST_CACHE_SECONDS)
    return count


def _long_count(criteria: PersonCriteria, estimate: int, version: str | None,
                key: str | None) -> PeopleCount:
    """A list the planner expects to be long and nobody has counted for this version: the
    request that claims it counts it for up to ``PEOPLE_COUNT_INLINE_MS``, then hands it to a
    worker; a request that finds it claimed answers the estimate (twenty clients opening one
    new search count it once, not twenty times)."""
    if key is None:
        return _estimated(estimate)
    # Claimed for the try only: should this process die counting, the next request claims it
    # again seconds later, not once a worker's time is up.
    if not _count_claim(key, seconds=settings.PEOPLE_COUNT_INLINE_MS // 1000 + 5):
        return replace(_estimated(estimate), pending=True)
    kept = cache_get_quietly(key)  # made by the request that held the claim just before
    if kept is not None:
        _count_release(key)
        return PeopleCount(*kept)
    count = None
    if settings.PEOPLE_COUNT_INLINE_MS > 0:
        try:
            count = _api_count(criteria, estimate=estimate,
                               time_limit_ms=settings.PEOPLE_COUNT_INLINE_MS)
        except BaseException:
            _count_release(key)  # not counting: the next request may
            raise
    if count is None:
        _count_enqueue(criteria, version, key)
        return replace(_estimated(estimate), pending=True)
    cache_set_quietly(key, _kept(count), settings.PEOPLE_LIST_CACHE_SECONDS)
    _count_release(key)
    return count


def _api_count(criteria: PersonCriteria, *, estimate: int | None = None,
               time_limit_ms: int | None = None) -> PeopleCount | None:
    """Exact if the planner expects fewer than :data:`API_EXACT_COUNT_LIMIT` matches, else the
    estimate, inexact. An estimate far too low (a rare-looking search that is common) still
    reads at most ``API_EXACT_COUNT_LIMIT + 1`` rows and then gives the estimate, inexact.
    None when counting takes more than ``time_limit_ms`` (cancelled there;
    :data:`API_COUNT_TIME_LIMIT_MS` by default)."""
    if connection.vendor != "postgresql":
        return PeopleCount(_bare(criteria).count(), exact=True)
    if estimate is None:
        estimate = _planner_estimate(_bare(criteria))
    if estimate >= API_EXACT_COUNT_LIMIT:
        return _estimated(estimate)
    if time_limit_ms is None:
        time_limit_ms = API_COUNT_TIME_LIMIT_MS
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(MATCHES_WORK_MEM)
            cursor.execute(f"SET LOCAL statement_timeout = {int(time_limit_ms)}")
            counted = _count_rows(_bare(criteria, narrowed=True)[:API_EXACT_COUNT_LIMIT + 1])
            transaction.set_rollback(True)  # it only read; rolling back undoes the SET LOCALs
    except OperationalError as error:
        if not isinstance(error.__cause__, QueryCanceled):
            raise
        log.warning("people count over %s ms (estimate %s)", time_limit_ms, estimate)
        return None
    if counted > API_EXACT_COUNT_LIMIT:
        return _estimated(max(counted, estimate))
    return PeopleCount(counted, exact=True)


def _count_rows(query: QuerySet) -> int:
    return query.count()


def _count_key(criteria: PersonCriteria, version: str) -> str:
    # The count depends on nothing but the criteria: not the page, the page size, the order or
    # who asks.
    digest = hashlib.blake2b(repr(criteria).encode(), digest_size=16).hexdigest()
    return f"people:count:{version}:{digest}"


def _count_cached(criteria: PersonCriteria, count: Callable[[], PeopleCount]) -> PeopleCount:
    """``count()``, kept for the current version of the people data (as the lists are, see
    ``people/list_cache.py``; ``PEOPLE_LIST_CACHE_SECONDS`` 0 turns both off).

    An exact count of a few hundred thousand matches reads them all (a common search, at ten
    million people, most of the table), while it depends on nothing but the criteria. So
    paging through a list, re-sorting it, or another seller opening the same search counts
    once per change of the data."""
    seconds = settings.PEOPLE_LIST_CACHE_SECONDS
    if not seconds:
        return count()
    try:
        key = _count_key(criteria, people_data_version())
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the database answers
        return count()
    value, exact = cached_or_built(key, seconds, lambda: _kept(count()))
    return PeopleCount(value, exact)


def _kept(count: PeopleCount) -> tuple[int, bool]:
    return count.value, count.exact


# How long a claim handed to a worker is held: as long as its count may take; should the worker
# die, a later request claims it again once it expires.
WORKER_CLAIM_SECONDS = BACKGROUND_COUNT_TIME_LIMIT_MS // 1000 + 60
# With the broker down, how long a list waits before a request tries to count it again (each
# try costs a request ``PEOPLE_COUNT_INLINE_MS`` and the broker's connect timeout).
ENQUEUE_RETRY_SECONDS = 10


def _count_claim(key: str, *, seconds: int = WORKER_CLAIM_SECONDS) -> bool:
    """Claim the count behind ``key`` for this request (and the worker it may hand it to),
    unless another has: many readers of one new search count it once. False when the cache
    is down (nothing could keep the count anyway)."""
    try:
        return bool(cache.add(_claim_key(key), 1, timeout=seconds))
    except Exception:  # noqa: BLE001 - any cache backend's connection error
        log.warning("people count cache unavailable; not counting in the background",
                    exc_info=True)
        return False


def _claim_key(key: str) -> str:
    return f"{key}:pending"


def _count_release(key: str) -> None:
    """Give up the claim on the count behind ``key``: made, or not to be made for now."""
    cache_delete_quietly(_claim_key(key))


def _count_enqueue(criteria: PersonCriteria, version: str, key: str) -> None:
    """Enqueue the background count of a claimed ``criteria`` for ``version``, holding the
    claim for as long as the worker may take. Never raises: with the broker down the answer
    stays the estimate, and a request ``ENQUEUE_RETRY_SECONDS`` later tries again."""
    pending = _claim_key(key)
    cache_set_quietly(pending, 1, WORKER_CLAIM_SECONDS)
    try:
        task_named(COUNT_TASK).apply_async((asdict(criteria), version), retry=False)
    except Exception:  # noqa: BLE001 - the broker's connection errors
        log.warning("could not enqueue a people count; the estimate stands", exc_info=True)
        cache_set_quietly(pending, 1, ENQUEUE_RETRY_SECONDS)


def person_count_in_background(criteria_fields: dict, version: str) -> PeopleCount | None:
    """The worker's half of :func:`_api_count_kept`: count the people matching the criteria
    (``PersonCriteria`` as a dict, as the task message carries it) and keep the count for the
    people data's ``version``, which the count's key names. Returns the count, or None when the
    data has moved on since the request (a count for a version no list is read at any more
    would be wasted). Runs in a Celery worker: the cache failing fails the task (it is logged;
    a later request enqueues again)."""
    criteria = PersonCriteria(**{**criteria_fields, "ids": tuple(criteria_fields["ids"])})
    key = _count_key(criteria, version)
    if people_data_version() != version:
        _count_release(key)
        return None
    # A second message for the same count (enqueued again after the first waited in a long
    # queue past its guard): counted once is enough.
    kept = cache.get(key)
    if kept is not None:
        return PeopleCount(*kept)
    count = _api_count(criteria, time_limit_ms=BACKGROUND_COUNT_TIME_LIMIT_MS)
    # Over even this limit, the estimate is kept: counting again would take as long.
    count = count or _estimated(_planner_estimate(_bare(criteria)))
    cache_set_quietly(key, _kept(count), settings.PEOPLE_LIST_CACHE_SECONDS)
    _count_release(key)
    return count


def _estimated(estimate: int) -> PeopleCount:
    """An estimate to two significant digits, flagged inexact."""
    return PeopleCount(round(estimate, 2 - len(str(estimate))), exact=False)


def _planner_estimate(query: QuerySet) -> int:
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def person_sources() -> list[str]:
    """The lead sources people in the workspace have, for the source filter (cached: a distinct
    over a million rows is not for every page view; per version of the people data, so a sync
    that adds a source shows it on the next page, as it does the lists)."""
    try:
        key = f"people:sources:{people_data_version()}"
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the database answers
        key = "people:sources:unversioned"
    return cached_or_built(key, 600, lambda: sorted(
        Person.workspace.exclude(source="").order_by().values_list("source", flat=True)
        .distinct()))


def person_ids_stored(marketo_ids: Iterable[int]) -> set[int]:
    """Which of ``marketo_ids`` are stored people ``person_apply_changes`` can change (all
    but those deleted in Marketo)."""
    marketo_ids = list(marketo_ids)
    if connection.vendor != "postgresql":
        return set(Person.objects.filter(marketo_id__in=marketo_ids)
                   .exclude(removed_reason=Person.RemovedReason.DELETED)
                   .values_list("marketo_id", flat=True))
    # Every incremental batch asks this for up to a few thousand ids: one array parameter
    # costs a fraction of an IN list with a parameter per id.
    with connection.cursor() as cursor:
        cursor.execute("SELECT marketo_id FROM people_person WHERE marketo_id = ANY(%s) "
                       "AND removed_reason <> %s", [marketo_ids, Person.RemovedReason.DELETED])
        return {marketo_id for (marketo_id,) in cursor.fetchall()}


# --------------------------------------------------------------------------------- one person


@dataclass(frozen=True)
class SalesforceRecord:
    label: str      # the record's kind and "id", in the reader's language ("Lead id")
    record_id: str  # "" when the person has none
    url: str        # "" when Salesforce is not connected or the id is not a Salesforce id


_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")


def person_salesforce_records(person: Person) -> list[SalesforceRecord]:
    """The person's Salesforce lead, contact, account and opportunity, each linked into the
    org's Lightning UI (``<My Domain URL>/lightning/r/<object>/<id>/view``)."""
    base_url = salesforce_connection_get().url.rstrip("/")
    records = []
    for sobject, label, record_id in (
            ("Lead", _("Lead id"), person.sfdc_lead_id),
            ("Contact", _("Contact id"), person.sfdc_contact_id),
            ("Account", _("Account id"), person.sfdc_account_id),
            ("Opportunity", _("Opportunity id"), person.sfdc_opportunity_id)):
        # Ids come from Marketo: only a well-formed one goes into a URL.
        linkable = base_url and _SALESFORCE_ID.fullmatch(record_id)
        url = f"{base_url}/lightning/r/{sobject}/{quote(record_id)}/view" if linkable else ""
        records.append(SalesforceRecord(label, record_id, url))
    return records


# --------------------------------------------------------------------------------- export

#: The columns an export holds, in order: the API's person fields (``people/api.py``).
EXPORT_FIELDS = ("id", "marketo_id", "first_name", "last_name", "email", "company", "title",
                 "phone", "linkedin_url", "source", "sfdc_contact_id", "sfdc_lead_id",
                 "sfdc_account_id", "sfdc_opportunity_id", "owner_email", "owner_name",
                 "unsubscribed", "updated_at")
_EXPORT_COLUMNS = ("pk", "marketo_id", "first_name", "last_name", "email", "company", "title",
                   "phone", "linkedin_url", "source", "sfdc_contact_id", "sfdc_lead_id",
                   "sfdc_account_id", "sfdc_opportunity_id", "owner_email", "owner_first_name",
                   "owner_last_name", "marketo_updated_at")
EXPORT_CHUNK = 2000


def person_export_rows(criteria: PersonCriteria) -> Iterator[tuple]:
    """Every person matching ``criteria``, by id, as tuples of :data:`EXPORT_FIELDS` (owner
    name joined, ``updated_at`` a datetime or None), read lazily in one transaction (one
    snapshot): on PostgreSQL through a server-side cursor, :data:`EXPORT_CHUNK` rows at a time,
    so memory stays flat however many people there are. ``unsubscribed`` follows the
    suppression rule through :func:`unsubscribes.selectors.suppression_keys` rather than a
    subquery per row."""
    with transaction.atomic():
        # Inside a transaction the cursor streams; outside one Django declares it WITH HOLD
        # and PostgreSQL materialises the whole result before the first row.
        suppressed_people, suppressed_addresses = suppression_keys()
        rows = (_matching(criteria).order_by("pk").values_list(*_EXPORT_COLUMNS)
                .iterator(chunk_size=EXPORT_CHUNK))
        for row in rows:
            first, last = row[15], row[16]
            owner = f"{first} {last}" if first and last else first or last
            email = row[4]
            unsubscribed = row[0] in suppressed_people or (
                bool(email) and email.upper() in suppressed_addresses)
            yield (*row[:15], owner, unsubscribed, row[17])


# --------------------------------------------------------------------------------- saved views


def saved_views_for(user) -> QuerySet[SavedView]:
    """The saved views ``user`` may see and use: their own, then the shared ones, by name."""
    return (SavedView.objects.filter(Q(owner=user) | Q(shared=True)).select_related("owner")
            .order_by(Case(When(owner=user, then=0), default=1), "name", "pk"))


def saved_views_visible(user) -> QuerySet[SavedView]:
    """The views the API shows ``user``: their own and shared ones; an admin every view."""
    views = SavedView.objects.select_related("owner").order_by("name", "pk")
    return views if user.is_admin else views.filter(Q(owner=user) | Q(shared=True))


def list_columns_key(user) -> str:
    # With when the user joined: a user id reused (SQLite, a restored database) starts afresh.
    return f"people:columns:{user.pk}:{user.date_joined.timestamp()}"


def list_columns_for(user, default: tuple[str, ...]) -> tuple[str, ...]:
    """The columns ``user`` chose for the people list (``default`` until they choose). Cached:
    every view of the list needs them, and they change when the user says."""
    def stored() -> str:
        chosen = ListColumns.objects.filter(user=user).values_list("columns", flat=True).first()
        return "default" if chosen is None else chosen

    chosen = cached_or_built(list_columns_key(user), 24 * 3600, stored)
    if chosen == "default":
        return default
    return tuple(key for key in chosen.split(",") if key)
