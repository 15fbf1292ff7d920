"""Which people a bulk action from the people list acts on: the rows a seller ticked, or
everyone matching the list's filters ("all N matching", not only the page shown).

The list's bulk form sends the list's filters, ``person`` once per ticked row and ``all=1``
for everyone matching. Without ticked rows it means everyone matching too (the list's older
"Add all matching to a campaign" links send only the filters)."""

from __future__ import annotations

from dataclasses import dataclass

from .filters import PersonSearchForm
from .selectors import MAX_PAGE_SIZE, PersonCriteria

#: At most this many ticked rows are taken (a page holds 50; the API's pages 200).
MAX_PICKED = MAX_PAGE_SIZE


@dataclass(frozen=True)
class Selection:
    criteria: PersonCriteria
    picked: tuple[int, ...]             # the ticked rows; () means everyone matching
    filters: list[tuple[str, str]]      # the list's filters, as query pairs

    @property
    def everyone_matching(self) -> bool:
        return not self.picked

    @property
    def fields(self) -> list[tuple[str, str]]:
        """What a follow-up form carries to act on the same people."""
        return [*self.filters, *(("person", str(pk)) for pk in self.picked)]

    @property
    def filters_shown(self) -> list[tuple[str, str]]:
        """The filters in words, for "everyone matching" (the default owner left out)."""
        return [(name, value) for name, value in self.filters if name != "owner"
                or value != "mine"]


def people_selection(params, user) -> Selection:
    """The selection a bulk form sent (``params``: its GET or POST data)."""
    search = PersonSearchForm(params, user=user)
    picked: tuple[int, ...] = ()
    if params.get("all") != "1":
        picked = tuple(dict.fromkeys(
            int(value) for value in params.getlist("person")
            if value.isascii() and value.isdigit() and 0 < int(value) < 2**63))[:MAX_PICKED]
    criteria = PersonCriteria(ids=picked) if picked else search.criteria()
    return Selection(criteria=criteria, picked=picked, filters=search.filter_pairs())
