"""Languages benchmark (issue 25): what rendering a page in another language costs over
English, on the people list and the person page (goal: at most 10 % more).

    python bench/languages.py                 # 40 rounds, 60 people, 2,000 in the workspace
    python bench/languages.py --rounds 100

A PostgreSQL database of its own (``salesactions_bench_languages``, reused), DEBUG off, the
people list's cache off (so each request renders the list), the Django test client in this
process (the rendering, not the network, is measured). A seller owns ``--owned`` people; one of
them has calls, tasks and sales emails. Each round fetches both pages once per language, in a
shuffled order, after a warm-up; the table gives the fastest, median and p90 per page and
language and their difference from English, in CPU time of the thread that serves the request
(PostgreSQL's own work is not in it; it is the same in every language).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

from common import app_env, database_url

LANGUAGES = ("en", "fr", "es", "it", "pt-br", "zh-hans")


def setup(database: str) -> None:
    url = database_url(database)
    os.environ.update(app_env(url, DEBUG="false", PEOPLE_LIST_CACHE_SECONDS="0",
                              LOG_LEVEL="WARNING"))
    import django

    django.setup()


def seed(owned: int, total: int):
    """The seller and their person with history (made once; later runs reuse them)."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import User
    from activities.models import Call
    from emails.models import SalesEmail
    from people.models import Person
    from reminders.models import ReminderTask

    seller = User.objects.filter(username="bench-languages").first()
    if seller is None:
        seller = User.objects.create_user("bench-languages", "bench.seller@example.com",
                                          "bench-pass-123", first_name="Bea",
                                          last_name="Bench", role=User.Role.SELLER)
    if Person.objects.count() < total:
        now = timezone.now()
        start = 9_000_000 + Person.objects.count()
        Person.objects.bulk_create([Person(
            marketo_id=start + n, first_name=f"First{n}", last_name=f"Last{n}",
            email=f"person{start + n}@example.com", company=f"Company {n % 97}",
            title="Buyer", source="Webinar",
            owner_email=seller.email if n < owned else "someone.else@example.com",
            owner_first_name="Bea", owner_last_name="Bench", marketo_updated_at=now,
            synced_at=now) for n in range(total - Person.objects.count())], batch_size=1000)
    person = Person.objects.filter(owner_email=seller.email).order_by("pk").first()
    if not Call.objects.filter(person=person).exists():
        now = timezone.now()
        for n in range(10):
            Call.objects.create(person=person, logged_by=seller, outcome="Connected",
                                notes=f"Call {n}", duration_seconds=120 + n,
                                called_at=now - timedelta(days=n))
            ReminderTask.objects.create(person=person, assignee=seller, created_by=seller,
                                        type="call", name=f"Follow up {n}",
                                        due_date=(now + timedelta(days=n)).date())
            SalesEmail.objects.create(person=person, sender=seller, to_email=person.email,
                                      subject=f"Hello {n}", body="Hello.", status="sent",
                                      sent_at=now - timedelta(days=n))
    return seller, person


def measure(rounds: int, seller, person) -> dict[tuple[str, str], list[float]]:
    from django.test import Client

    client = Client()
    client.force_login(seller)
    pages = {"people list": "/people/", "person page": f"/people/{person.pk}/"}
    times: dict[tuple[str, str], list[float]] = {(p, lang): [] for p in pages for lang in LANGUAGES}
    for _warm_up in range(3):
        for language in LANGUAGES:
            for url in pages.values():
                assert client.get(url, HTTP_ACCEPT_LANGUAGE=language).status_code == 200
    for _round in range(rounds):
        order = [(page, language) for page in pages for language in LANGUAGES]
        random.shuffle(order)
        for page, language in order:
            # This thread's CPU time: the rendering's cost, whatever else the machine runs
            # (wall time on a shared machine varies more than the 10 % looked for).
            started = time.thread_time()
            response = client.get(pages[page], HTTP_ACCEPT_LANGUAGE=language)
            times[(page, language)].append((time.thread_time() - started) * 1000)
            assert response.status_code == 200
            assert response["Content-Language"] == language
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--owned", type=int, default=60, help="people the seller owns")
    parser.add_argument("--people", type=int, default=2000, help="people in the workspace")
    parser.add_argument("--database", default="salesactions_bench_languages")
    args = parser.parse_args()
    setup(args.database)
    seller, person = seed(args.owned, args.people)
    times = measure(args.rounds, seller, person)
    print(f"{args.rounds} rounds; CPU milliseconds per request in the app's thread (Django test "
          f"client, DEBUG off)")
    print(f"{'page':<12} {'language':<8} {'fastest':>7} {'vs en':>7} {'median':>7} {'vs en':>7} "
          f"{'p90':>7}")
    for page in ("people list", "person page"):
        fastest_en = min(times[(page, "en")])
        median_en = statistics.median(times[(page, "en")])
        for language in LANGUAGES:
            samples = sorted(times[(page, language)])
            fastest, median = samples[0], statistics.median(samples)
            p90 = samples[int(len(samples) * 0.9) - 1]
            versus = ("", "") if language == "en" else (
                f"{(fastest / fastest_en - 1) * 100:+.1f}%",
                f"{(median / median_en - 1) * 100:+.1f}%")
            print(f"{page:<12} {language:<8} {fastest:>7.1f} {versus[0]:>7} {median:>7.1f} "
                  f"{versus[1]:>7} {p90:>7.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
