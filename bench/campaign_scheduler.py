"""The campaign scheduler under load (issue 14).

    python bench/campaign_scheduler.py                    # 100,000 members, 2 workers, 1M future
    python bench/campaign_scheduler.py --members 20000 --future 200000

1. Stores ``--members`` people and adds them all (``members_add``, the real path) to a campaign
   whose first step (a call: a reminder task for the seller) is due at once and whose second
   is 30 days later.
2. Runs ``--workers`` scheduler processes at once (``campaign_steps_run``, each with its own
   PostgreSQL connection, claiming batches with SKIP LOCKED) until nothing is due; prints the
   wall time and rate, and checks that every member's step ran exactly once (history rows,
   reminder tasks, no (member, step) twice).
3. Adds ``--future`` more memberships with steps due in the future (SQL insert), ANALYZEs, and
   times the scheduler's due query (the claim: ORDER BY due LIMIT 200 FOR UPDATE SKIP LOCKED),
   printing the median and p95 and the plan (EXPLAIN shows the partial index).

Goals: all members processed in < 5 minutes with 2 workers; the due query < 50 ms.
Needs PostgreSQL on localhost (database ``bench_campaigns``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from common import PYTHON, ROOT, app_env, database_url

DB = "bench_campaigns"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesactions.settings")
    import django

    django.setup()


def load(members: int) -> int:
    """A fresh campaign with ``members`` people added; returns its id."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from campaigns.models import Campaign
    from campaigns.services import campaign_create, members_add
    from people.models import Person

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE campaigns_memberstep, campaigns_campaignmember, "
                       "campaigns_campaignstep, campaigns_campaign, reminders_remindertask, "
                       "syncing_delivery CASCADE")
    seller, _ = User.objects.get_or_create(username="ava", defaults={
        "email": "ava.stone@example.com", "first_name": "Ava", "last_name": "Stone"})
    have = Person.objects.count()
    if have < members:
        now = timezone.now()
        Person.objects.bulk_create(
            [Person(marketo_id=10_000_000 + i, first_name="Bench", last_name=f"P{i}",
                    email=f"bench.p{i}@example.com", owner_email=seller.email,
                    marketo_updated_at=now, synced_at=now)
             for i in range(have, members)], batch_size=5000)
    campaign = campaign_create(owner=seller, name="Bench outreach", status=Campaign.Status.DRAFT,
                               steps=[{"type": "call", "day_offset": 0, "name": "Intro call"},
                                      {"type": "custom", "day_offset": 30, "name": "Follow up"}])
    ids = list(Person.objects.order_by("pk").values_list("pk", flat=True)[:members])
    started = time.monotonic()
    report = members_add(campaign, ids, by=seller)
    print(f"added {len(report.added):,} members in {time.monotonic() - started:.1f} s "
          f"(members_add, with their Marketo deliveries)")
    from campaigns.services import campaign_status_set

    campaign_status_set(campaign, Campaign.Status.ACTIVE, by=seller)
    return campaign.pk


def worker() -> None:
    from campaigns.scheduler import campaign_steps_run

    started = time.monotonic()
    report = campaign_steps_run()
    print(f"worker {os.getpid()}: {report.claimed:,} steps in {report.batches} batches, "
          f"{time.monotonic() - started:.1f} s", flush=True)


def run_workers(url: str, count: int, members: int) -> None:
    started = time.monotonic()
    processes = [subprocess.Popen([PYTHON, __file__, "--worker"], cwd=ROOT,
                                  env=app_env(url)) for _ in range(count)]
    codes = [process.wait() for process in processes]
    elapsed = time.monotonic() - started
    assert codes == [0] * count, codes
    from django.db.models import Count

    from campaigns.models import CampaignMember, MemberStep
    from reminders.models import ReminderTask

    runs = MemberStep.objects.count()
    tasks = ReminderTask.objects.count()
    twice = (MemberStep.objects.values("member", "step").annotate(n=Count("pk"))
             .filter(n__gt=1).count())
    waiting = CampaignMember.objects.filter(next_position=0, status="active").count()
    print(f"{count} workers ran {runs:,} steps for {members:,} members in {elapsed:.1f} s "
          f"({runs / elapsed:,.0f} steps/s); reminder tasks {tasks:,}; "
          f"steps run twice: {twice}; members still at the first step: {waiting}")
    assert runs == members and tasks == members and twice == 0 and waiting == 0


def future_load(campaign_id: int, future: int) -> None:
    """``future`` more memberships, due 1..60 days ahead, in campaigns of their own."""
    from django.db import connection

    per = 100_000
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM people_person")
        people = cursor.fetchone()[0]
        per = min(per, people)
        made = 0
        started = time.monotonic()
        while made < future:
            chunk = min(per, future - made)
            cursor.execute(
                "INSERT INTO campaigns_campaign (name, owner_id, shared, status, window_enabled, "
                "window_days, window_start_hour, window_end_hour, created_at, updated_at) "
                "SELECT 'Future ' || %s, owner_id, false, 'active', false, '01234', 9, 17, "
                "now(), now() FROM campaigns_campaign WHERE id = %s RETURNING id",
                [made, campaign_id])
            new_id = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO campaigns_campaignmember (campaign_id, person_id, added_by_id, "
                "added_at, anchor_at, status, next_position, next_step_due_at, end_reason) "
                "SELECT %s, p.id, c.owner_id, now(), now(), 'active', 0, "
                "now() + interval '1 day' + (random() * interval '60 days'), '' "
                "FROM (SELECT id FROM people_person ORDER BY id LIMIT %s) p, "
                "campaigns_campaign c WHERE c.id = %s", [new_id, chunk, new_id])
            made += chunk
        cursor.execute("ANALYZE campaigns_campaignmember")
        cursor.execute("ANALYZE campaigns_campaign")
    print(f"inserted {future:,} future memberships in {time.monotonic() - started:.1f} s")


def time_due_query(label: str, repeats: int = 50) -> None:
    from django.db import connection, transaction

    from campaigns import clock
    from campaigns.models import CampaignMember
    from campaigns.scheduler import _claim, due_members

    now = clock.now()
    total = CampaignMember.objects.filter(next_step_due_at__isnull=False,
                                          status="active").count()
    timings = []
    for _ in range(repeats):
        with transaction.atomic():
            started = time.perf_counter()
            claimed = _claim(now, 200)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(f"due query {label} (claim of up to 200, FOR UPDATE SKIP LOCKED) over {total:,} "
          f"scheduled members, {len(claimed)} due: median {statistics.median(timings):.2f} ms, "
          f"p95 {timings[int(len(timings) * 0.95) - 1]:.2f} ms, max {timings[-1]:.2f} ms")
    query = due_members(now).select_for_update(skip_locked=True, of=("self",))[:200]
    with transaction.atomic(), connection.cursor() as cursor:
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print(f"plan ({label}):\n" + plan)
    assert "campaign_member_due" in plan, "the due query does not use the partial index"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--future", type=int, default=1_000_000)
    parser.add_argument("--query-only", action="store_true",
                        help="only time the due query over what an earlier run left")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        setup_django(os.environ["DATABASE_URL"])
        worker()
        return
    url = database_url(DB)
    setup_django(url)
    if not args.query_only:
        campaign_id = load(args.members)
        run_workers(url, args.workers, args.members)
        future_load(campaign_id, args.future)
    # Right after a run the index still holds the processed rows' old entries (dead tuples
    # until autovacuum); then again after VACUUM, the steady state.
    time_due_query("right after the run")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE campaigns_campaignmember")
    time_due_query("after VACUUM")


if __name__ == "__main__":
    sys.exit(main())
