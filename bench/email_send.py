"""Sales email sending benchmark (issue 13): queued emails sent end to end over SMTP.

    python bench/email_send.py                 # 10,000 emails, Marketo check on
    python bench/email_send.py --emails 2000 --batch 300

Into a PostgreSQL database of its own: people from the Marketo sandbox's seed (its own
process, default limits, the app at its default share of 50 calls / 20 s), one seller, and
``--emails`` emails queued (inserted as ``queue_email`` leaves them: merged, status queued;
setup, not timed). The local SMTP sink (``python -m sandbox.mailcapture``, its own process)
receives them. Then ``manage.py sync`` — the real command, its own process — sends every due
email: claim a batch, re-check the whole batch against app suppression and Marketo
(``leads.json`` by email, 300 addresses a call), one SMTP connection per batch, a committed
``handed_off_at`` before each message, outcomes recorded every 25. Timed from the command's
start until the sink holds every message; prints emails/s, the Marketo calls, and checks that
no Message-ID arrived twice. Logging to Salesforce/Marketo is switched off (its own
benchmarks are the outbox's); the deliveries rows are still written, as skipped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import requests
from common import PYTHON, ROOT, Sandbox, app_env, database_url, free_port, psql, wait_for_url

GOAL = 200  # emails/s


def setup(url: str, emails: int, leads: int, marketo_url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesactions.settings")
    import django

    django.setup()
    from django.utils import timezone

    from accounts.models import User
    from emails.models import SalesEmail
    from people.models import Person
    from people.services import person_apply_leads
    from sandbox import seed
    from syncing.models import MarketoConnection, SyncSettings

    psql(url, "TRUNCATE emails_salesemail, emails_emailevent, syncing_delivery, "
              "unsubscribes_unsubscribe, syncing_syncstream RESTART IDENTITY CASCADE")
    if Person.objects.count() < emails:
        person_apply_leads(seed.lead(i, 1, leads) for i in range(1, leads + 1))
    MarketoConnection(base_url=marketo_url, client_id="sandbox-marketo-client",
                      client_secret="sandbox-marketo-secret").save()
    SyncSettings(people_sync_enabled=False, marketo_unsubscribe_check=True,
                 log_activities_to_marketo=False, log_emails_to_salesforce=False).save()
    seller, _ = User.objects.get_or_create(username="bench-seller", defaults={
        "email": "seller@bench.example", "first_name": "Bench", "last_name": "Seller"})
    # People with an address of their own that Marketo does not hold as unsubscribed.
    unsubscribed = {(seed.lead(i, 1, leads)["email"] or "").lower()
                    for i in range(1, leads + 1) if seed.lead(i, 1, leads)["unsubscribed"]}
    seen, people = set(), []
    for person in Person.workspace.order_by("marketo_id").iterator():
        email = (person.email or "").lower()
        if "@" in email and email not in seen and email not in unsubscribed:
            seen.add(email)
            people.append(person)
        if len(people) == emails:
            break
    if len(people) < emails:
        sys.exit(f"only {len(people)} people to email; raise --leads")
    now = timezone.now()
    SalesEmail.objects.bulk_create([
        SalesEmail(person=person, sender=seller, to_email=person.email,
                   subject=f"Pricing for {person.company or 'you'}",
                   body=f"Hi {person.first_name or 'there'},\n\nthe pricing is at "
                        "https://example.com/pricing?ref=sales — happy to walk you through it."
                        "\n\nBench Seller",
                   next_attempt_at=now) for person in people], batch_size=2000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--leads", type=int, default=14_000)
    parser.add_argument("--batch", type=int, default=None, help="EMAIL_SEND_BATCH")
    parser.add_argument("--database", default="salesactions_bench_email")
    args = parser.parse_args()

    url = database_url(args.database)
    # Redis as in production: the Marketo check caches its answers there.
    redis_port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    os.environ["REDIS_URL"] = redis_url
    marketo = Sandbox("marketo", args.leads)
    smtp_port, http_port = free_port(), free_port()
    sink = subprocess.Popen([PYTHON, "-m", "sandbox.mailcapture", "--smtp-port", str(smtp_port),
                             "--http-port", str(http_port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sink_url = f"http://127.0.0.1:{http_port}"
    try:
        wait_for_url(f"{sink_url}/api/count", "the SMTP sink", seconds=30)
        print(f"setting up {args.emails:,} queued emails…", flush=True)
        setup(url, args.emails, args.leads, marketo.url)
        before = marketo.control("GET", "counters")
        env = app_env(url, EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}", DEBUG="false",
                      REDIS_URL=redis_url,
                      SITE_URL="https://sales.example.com",
                      **({"EMAIL_SEND_BATCH": str(args.batch)} if args.batch else {}))
        started = time.monotonic()
        done = subprocess.run([PYTHON, "manage.py", "sync"], cwd=ROOT, env=env, text=True,
                              capture_output=True)
        command_seconds = time.monotonic() - started
        if done.returncode:
            sys.exit(f"sync failed:\n{done.stdout}\n{done.stderr[-3000:]}")
        sent = int(psql(url, "SELECT count(*) FROM emails_salesemail WHERE status='sent'"))
        deadline = time.monotonic() + 60
        while requests.get(f"{sink_url}/api/count", timeout=10).json()["count"] < sent:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        seconds = time.monotonic() - started
        stats = requests.get(f"{sink_url}/api/stats", timeout=120).json()
        after = marketo.control("GET", "counters")
        leads_calls = sum(n - before["by_endpoint"].get(endpoint, 0)
                          for endpoint, n in after["by_endpoint"].items()
                          if "leads.json" in endpoint)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("emails:")), "")
        print(line)
        print(f"{stats['count']:,} messages received ({stats['duplicates']} duplicate "
              f"Message-IDs), {sent} emails marked sent, {leads_calls} Marketo leads.json calls")
        rate = stats["count"] / seconds
        print(f"end to end: {seconds:.1f} s (the sync command {command_seconds:.1f} s, "
              f"with its start-up) = {rate:,.0f} emails/s (goal >= {GOAL})")
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        marketo.stop()
        redis.terminate()
        redis.wait(timeout=10)


if __name__ == "__main__":
    main()
