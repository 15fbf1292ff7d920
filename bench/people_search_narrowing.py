"""A search's first page with the whole term as the index's pattern, and narrowed (issue #27).

    python bench/people_search_narrowing.py                 # the 10 M database, 15 reads each
    python bench/people_search_narrowing.py --people 1000000 --reads 30

Reads the database ``bench/people_api.py --generate --people N`` made (run that first) in this
process, through ``people.selectors.person_page`` with the list cache off: for each term, the
page with narrowing off (``NARROW_FROM_PEOPLE`` out of reach) and on, alternating the two per
round so both see the same machine. Prints the pattern narrowing chose, p50 and p90 of each in
ms, and checks both pages hold the same people.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import app_env, database_url

TERMS = ["olivia smith", "liam jones", "noah brown", "Olivia Smith", "olivia.smith12345",
         "smith1234", "smith", "ndersso", "Globex", "akatomi"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000_000)
    parser.add_argument("--reads", type=int, default=15, help="reads of each page each way")
    parser.add_argument("terms", nargs="*", default=TERMS)
    args = parser.parse_args()
    os.environ.update(app_env(database_url(f"salesactions_bench_people_gen_{args.people}"),
                              PEOPLE_LIST_CACHE_SECONDS="0"))
    import django

    django.setup()
    from people import search_narrowing
    from people.selectors import PersonCriteria, person_page

    threshold = search_narrowing.NARROW_FROM_PEOPLE

    def read(term: str, narrowing: bool) -> tuple[float, list[int]]:
        search_narrowing.NARROW_FROM_PEOPLE = threshold if narrowing else 10**15
        started = time.perf_counter()
        page = person_page(PersonCriteria(search=term))
        return (time.perf_counter() - started) * 1000, [person.pk for person in page.people]

    search_narrowing.forget_sample()
    started = time.perf_counter()
    read(TERMS[0], True)  # takes the sample
    print(f"{args.people:,} people; first read with the sample taken: "
          f"{(time.perf_counter() - started) * 1000:.0f} ms; load "
          f"{'/'.join(f'{value:.1f}' for value in os.getloadavg())}\n")
    print(f"{'term':22} {'narrowed to':18} {'whole p50':>9} {'p90':>6} "
          f"{'narrowed p50':>12} {'p90':>6}")
    for term in args.terms:
        times = {False: [], True: []}
        pages = {}
        for _ in range(args.reads):
            for narrowing in (False, True):
                elapsed, pages[narrowing] = read(term, narrowing)
                times[narrowing].append(elapsed)
        assert pages[False] == pages[True], f"{term!r}: the pages differ"
        search_narrowing.NARROW_FROM_PEOPLE = threshold
        pattern = search_narrowing.narrowed_pattern(term) or "(the term)"
        whole, narrowed = (sorted(times[False]), sorted(times[True]))
        p90 = int(len(whole) * 0.9)
        print(f"{term!r:22} {pattern:18} {statistics.median(whole):9.1f} {whole[p90]:6.1f} "
              f"{statistics.median(narrowed):12.1f} {narrowed[p90]:6.1f}")


if __name__ == "__main__":
    main()
