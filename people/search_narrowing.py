"""Fewer trigrams for a long search on a large table (PostgreSQL).

pg_trgm answers ``ILIKE '%olivia smith%'`` by intersecting the posting lists of every trigram of
the term. At ten million people that is ten lists of 250,000 to 3,000,000 entries each, ~85 ms
before a row is read, while two of them ('ivi', 'smi') give the same 7,687 candidates in 15 ms.
So a long search's index condition is a weaker pattern made only of the trigrams worth reading
(``'%ivi%smi%'``), and the whole term is checked on each candidate row, where the index does not
answer it. The rows found are the same; only the work differs.

Which trigrams are worth reading depends on how common they are, which only the data knows: a
sample of the people's search documents, taken once per :data:`SAMPLE_SECONDS` per process,
says how long each trigram's list is and how many candidates a choice leaves. A choice costs
the entries it reads plus :data:`CANDIDATE_COST` times the candidate rows it fetches (and
:data:`RECHECK_COST` for checking each of them twice); trigrams are added one at a time, the one
lowering that cost most first, and the narrowed pattern is used only when it clearly beats the
whole term. A common word ("ndersso": 300,000 people share every trigram of it) keeps the term:
its cost is in the rows, not the lists.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, field

from django.db import connection, transaction

log = logging.getLogger(__name__)

# Below this many people every trigram list is short: the whole term is the index condition.
NARROW_FROM_PEOPLE = 200_000
# People sampled, and how long a process keeps its sample (the mix of names moves slowly).
SAMPLE_SIZE = 5_000
SAMPLE_SECONDS = 900
# Fetching and checking one candidate row against reading one posting-list entry (at ten
# million people, ~2.6 us per row of a bitmap heap scan against ~20 ns per entry).
CANDIDATE_COST = 130
# Checking a candidate row against the term once more (~0.75 us).
RECHECK_COST = 37
# Narrow only when the estimate saves a quarter of the term's own cost at least.
NARROWING_GAIN = 0.75
# The trigrams of a long term considered (its first ones: an address pasted whole has plenty).
MAX_OFFERED = 24
# Trigram lists a process keeps per sample (one bit per sampled person each: 625 bytes).
KEPT_TRIGRAMS = 4096

# pg_trgm's words: runs of letters and digits (``_`` and punctuation split them).
_WORD = re.compile(r"[^\W_]+")
# The trigram index's expression (people.selectors.SEARCH_DOCUMENT), lower-cased as ILIKE
# compares it.
_DOCUMENT = "lower(first_name || ' ' || last_name || ' ' || email || ' ' || company)"


@dataclass
class PeopleSample:
    """Lower-cased search documents of some people, and how many people there are."""

    documents: list[str]
    people: int
    taken: float = field(default_factory=time.monotonic)
    _having: dict[str, int] = field(default_factory=dict, repr=False)
    _rough: dict[str, float] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        # One text to search with str.find (NUL cannot occur in PostgreSQL text), and where
        # each document starts in it.
        self._text = "\0".join(self.documents)
        self._starts = []
        position = 0
        for document in self.documents:
            self._starts.append(position)
            position += len(document) + 1
        self.everyone = (1 << len(self.documents)) - 1

    def having(self, trigram: str) -> int:
        """The sampled documents containing ``trigram``, as a bit set (bit i: document i)."""
        bits = self._having.get(trigram)
        if bits is None:
            mask = bytearray((len(self.documents) + 7) // 8)
            starts, find = self._starts, self._text.find
            position = find(trigram)
            while position != -1:  # one step per document holding it
                index = bisect_right(starts, position) - 1
                mask[index >> 3] |= 1 << (index & 7)
                following = index + 1
                position = find(trigram, starts[following]) if following < len(starts) else -1
            bits = int.from_bytes(mask, "little")
            if len(self._having) >= KEPT_TRIGRAMS:
                self._having.clear()
            self._having[trigram] = bits
        return bits

    def share(self, bits: int) -> float:
        return bits.bit_count() / max(len(self.documents), 1)

    def rough_share(self, letters: str) -> float:
        """About the share of sampled documents containing ``letters`` (occurrences counted:
        one C-speed pass, where a common " s" would take a step per document)."""
        share = self._rough.get(letters)
        if share is None:
            share = min(self._text.count(letters) / max(len(self.documents), 1), 1.0)
            if len(self._rough) >= KEPT_TRIGRAMS:
                self._rough.clear()
            self._rough[letters] = share
        return share


def narrowed_pattern(term: str) -> str | None:
    """A LIKE pattern every document containing ``term`` matches, made of the trigrams worth
    reading; None when the whole term is as good (a short term, a small table)."""
    if connection.vendor != "postgresql" or len(_places(_words(term))) < 2:
        return None  # one trigram or none: nothing to leave out
    sample = _current_sample()
    if sample is None:
        return None
    return choose_pattern(term, sample)


def choose_pattern(term: str, sample: PeopleSample) -> str | None:
    """The pattern :func:`narrowed_pattern` gives for ``term`` with ``sample``'s frequencies.

    The fragments keep the term's own letters: ILIKE folds case letter by letter on both sides,
    so a fragment of the term matches wherever the term does (Python's ``lower`` only
    estimates, below)."""
    words = _words(term)
    offered = _places(words)
    if len(offered) < 2:
        return None

    def cost(chosen, row_cost: float) -> float:
        fragments = _fragments(words, chosen)
        trigrams = {fragment[i:i + 3].lower() for fragment in fragments
                    for i in range(len(fragment) - 2)}
        candidates = sample.everyone
        read = 0.0
        for trigram in trigrams:
            bits = sample.having(trigram)
            read += sample.share(bits)
            candidates &= bits
        return read + row_cost * sample.share(candidates)

    # The term's own plan: its trigrams, and those padded at its inner word boundaries.
    whole = cost(offered, CANDIDATE_COST) + sum(
        sample.rough_share(edge.lower()) for edge in _edges(term))
    # A narrowed plan checks each candidate twice: the index's pattern, then the term.
    row_cost = CANDIDATE_COST + RECHECK_COST
    chosen: set = set()
    best = float("inf")
    while True:
        options = [(cost(chosen | {place}, row_cost), place)
                   for place in offered if place not in chosen]
        if not options:
            break
        option_cost, place = min(options)
        if option_cost >= best:
            break
        chosen.add(place)
        best = option_cost
    if best > whole * NARROWING_GAIN:
        return None
    return "%" + "%".join(_fragments(words, chosen)) + "%"


def _words(term: str) -> list[str]:
    """The term's words with a trigram (three letters or more)."""
    return [word for word in _WORD.findall(term) if len(word) >= 3]


def _places(words: list[str]) -> list[tuple[int, int]]:
    """Where the words' trigrams are, (word, offset): the first :data:`MAX_OFFERED`."""
    return [(w, offset) for w, word in enumerate(words)
            for offset in range(len(word) - 2)][:MAX_OFFERED]


def _edges(term: str) -> list[str]:
    """What stands for the padded trigrams pg_trgm reads for ``%term%`` in the sample: a word
    after a space or punctuation within the term gives "  s" and " sm" (counted as " s" and
    " sm": a word after a space), one before it "ia " (as "ia ")."""
    edges = []
    for word in _WORD.finditer(term):
        if word.start() > 0:
            edges += {" " + word.group()[:1], " " + word.group()[:2]}
        if word.end() < len(term) and len(word.group()) >= 2:
            edges.append(word.group()[-2:] + " ")
    return edges


def _fragments(words: list[str], chosen: set) -> list[str]:
    """The chosen trigrams (word, offset) as substrings in the term's order. Trigrams of a word
    less than three letters apart share letters, so they join into one substring (``%oli%ivi%``
    would not match "olivia"); those further apart stay separate substrings, in order."""
    fragments = []
    for w, word in enumerate(words):
        start = end = None
        for offset in sorted(offset for place_word, offset in chosen if place_word == w):
            if end is not None and offset < end:
                end = offset + 3
                continue
            if end is not None:
                fragments.append(word[start:end])
            start, end = offset, offset + 3
        if end is not None:
            fragments.append(word[start:end])
    return fragments


_lock = threading.Lock()
_sample: PeopleSample | None = None


def _current_sample() -> PeopleSample | None:
    """This process's sample, taken again when older than :data:`SAMPLE_SECONDS`; None while
    the table holds fewer than :data:`NARROW_FROM_PEOPLE` people."""
    global _sample
    sample = _sample
    if sample is not None and time.monotonic() - sample.taken < SAMPLE_SECONDS:
        return sample if sample.people >= NARROW_FROM_PEOPLE else None
    with _lock:
        if _sample is sample:
            try:
                _sample = _take_sample()
            except Exception:  # noqa: BLE001 - narrowing is an optimisation; search still works
                log.warning("people search sample failed", exc_info=True)
                _sample = PeopleSample([], 0)
        sample = _sample
    return sample if sample.people >= NARROW_FROM_PEOPLE else None


def _take_sample() -> PeopleSample:
    # In a savepoint: a failed read must not abort the transaction the search runs in.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class "
                       "WHERE oid = 'people_person'::regclass")
        people = max(int(cursor.fetchone()[0]), 0)
        if people < NARROW_FROM_PEOPLE:
            return PeopleSample([], people)
        # SYSTEM samples whole pages: a few hundred page reads, not a pass over the table.
        percent = min(100.0, 150.0 * SAMPLE_SIZE / max(people, 1))
        cursor.execute(f"SELECT {_DOCUMENT} FROM people_person TABLESAMPLE SYSTEM (%s) "
                       "WHERE in_workspace LIMIT %s", [percent, SAMPLE_SIZE])
        documents = [row[0] for row in cursor.fetchall()]
    return PeopleSample(documents, people)


def forget_sample() -> None:
    """Take a new sample at the next search (tests, and after the table was replaced)."""
    global _sample
    with _lock:
        _sample = None
