"""Reading a seller's mailbox (issue 23): a 50,000-message INBOX in a real Dovecot holding
1,000 replies, 200 auto-replies and 200 delivery reports to the app's emails.

    python bench/mailbox_read.py                     # 50,000 messages
    python bench/mailbox_read.py --messages 10000

Starts Dovecot (sandbox/dovecot.py) on a free port and fills the seller's INBOX with IMAP
MULTIAPPEND (every message dated within the last week, so the first pass reads them all); the
app's database is PostgreSQL of its own (``salesactions_bench_mailbox``). Then runs the first
pass of ``mailboxes.reading.mailbox_pass`` in a process of its own and prints its time, peak
RSS (VmHWM of that process, Django included) and IMAP commands; appends 100 new
messages (10 of them replies) and times a later pass the same way.

Goals: the first pass ≤ 60 s with RSS < 200 MB; a later pass with 100 new messages ≤ 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta
from email.utils import format_datetime, make_msgid

from common import PYTHON, ROOT, app_env, database_url

REPLIES, AUTO_REPLIES, REPORTS = 1000, 200, 200
APPEND_BATCH = 500
ADDRESS, PASSWORD = "ava@seller.example", "bench-pass"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--database", default="salesactions_bench_mailbox")
    parser.add_argument("--pass-only", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = database_url(args.database) if args.pass_only is None else os.environ["DATABASE_URL"]
    os.environ.update(app_env(url, SITE_URL="https://sales.example.com"))
    import django

    django.setup()
    if args.pass_only is not None:
        one_pass(args.pass_only)
        return

    from sandbox.dovecot import Dovecot
    from sandbox.mailcapture import MailCapture

    imap = Dovecot()
    imap.add_user(ADDRESS, PASSWORD)
    imap.start()
    smtp = MailCapture(accounts={ADDRESS: PASSWORD}).start(web=False)
    try:
        mailbox, emails = setup(imap, smtp)
        started = time.monotonic()
        fill(imap, emails, args.messages)
        print(f"INBOX filled: {args.messages:,} messages in {time.monotonic() - started:.1f} s "
              f"(MULTIAPPEND, {APPEND_BATCH} a command)\n")
        print(f"{'pass':<34}{'read':>8}{'matched':>9}{'seconds':>9}{'RSS MB':>8}"
              f"{'IMAP cmds':>11}")
        measure("first pass", mailbox.pk, url)
        more = [reply(email) for email in emails[:10]] + [
            unrelated(i) for i in range(90)]
        append(imap, more)
        measure("later pass (100 new messages)", mailbox.pk, url)
        measure("later pass (nothing new)", mailbox.pk, url)
    finally:
        smtp.stop()
        imap.stop()


def setup(imap, smtp):
    """A seller with the mailbox connected and 1,400 emails sent, on a clean slate."""
    from accounts.models import User
    from emails.models import SalesEmail
    from mailboxes.models import Mailbox
    from mailboxes.services import mailbox_connect
    from people.models import Person
    from people.services import person_apply_leads
    from sandbox import seed
    from syncing.models import SyncSettings

    SalesEmail.objects.all().delete()
    Mailbox.objects.all().delete()
    settings = SyncSettings.load()
    settings.log_activities_to_marketo = False  # Marketo is not connected here
    settings.save()
    wanted = REPLIES + AUTO_REPLIES + REPORTS
    person_apply_leads([seed.lead(i, 1, wanted * 2) for i in range(1, wanted * 2 + 1)])
    people = list(Person.workspace.exclude(email="").order_by("pk")[:wanted])
    seller, _ = User.objects.get_or_create(username="bench-ava", defaults={
        "email": ADDRESS, "first_name": "Ava", "last_name": "Stone"})
    mailbox = mailbox_connect(seller, imap_host="127.0.0.1", imap_port=imap.port,
                              imap_security="none", smtp_host="127.0.0.1",
                              smtp_port=smtp.smtp_port, smtp_security="none",
                              username=ADDRESS, password=PASSWORD)
    now = django_now()
    emails = SalesEmail.objects.bulk_create([
        SalesEmail(person=person, sender=seller, to_email=person.email, subject="Shall we talk?",
                   body="Hello", status=SalesEmail.Status.SENT, sent_at=now,
                   handed_off_at=now) for person in people])
    return mailbox, emails


def django_now():
    from django.utils import timezone

    return timezone.now()


def fill(imap, emails, total: int) -> None:
    about = ([reply(e) for e in emails[:REPLIES]]
             + [reply(e, auto=True) for e in emails[REPLIES:REPLIES + AUTO_REPLIES]]
             + [report(e) for e in emails[REPLIES + AUTO_REPLIES:]])
    messages = about + [unrelated(i) for i in range(max(0, total - len(about)))]
    random.Random(23).shuffle(messages)
    append(imap, messages)


def append(imap, messages: list[bytes]) -> None:
    from imapclient import IMAPClient

    client = IMAPClient("127.0.0.1", port=imap.port, ssl=False, timeout=120)
    client.login(ADDRESS, PASSWORD)
    week = datetime.now().astimezone()
    rng = random.Random(len(messages))
    for start in range(0, len(messages), APPEND_BATCH):
        client.multiappend("INBOX", [
            {"msg": message, "date": week - timedelta(minutes=rng.randrange(0, 6 * 24 * 60))}
            for message in messages[start:start + APPEND_BATCH]])
    client.logout()


def _date() -> str:
    return format_datetime(datetime.now().astimezone())


def reply(email, auto: bool = False) -> bytes:
    extra = "Auto-Submitted: auto-replied\r\n" if auto else ""
    text = ("I am out of the office until Monday." if auto
            else "Call me Tuesday, that works better.\r\n\r\nThanks,\r\nOlivia")
    return (f"From: <{email.to_email}>\r\nTo: {ADDRESS}\r\nSubject: Re: {email.subject}\r\n"
            f"Message-ID: {make_msgid(domain='customer.example')}\r\nDate: {_date()}\r\n"
            f"In-Reply-To: {email.message_id}\r\nReferences: {email.message_id}\r\n{extra}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\n"
            f"On Mon, Ava Stone <{ADDRESS}> wrote:\r\n> Hello\r\n").encode()


def report(email) -> bytes:
    return (f"From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\nTo: {ADDRESS}\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nDate: {_date()}\r\n"
            f"Message-ID: {make_msgid(domain='mx.example')}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n"
            "\r\n--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
            f"Final-Recipient: rfc822; {email.to_email}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"Message-ID: {email.message_id}\r\nSubject: {email.subject}\r\n\r\n--b--\r\n"
            ).encode()


def unrelated(number: int) -> bytes:
    body = ("Here is this week's digest of things you did not ask about. " * 12 + "\r\n") * 8
    return (f"From: News <news{number % 50}@list.example>\r\nTo: {ADDRESS}\r\n"
            f"Subject: Weekly digest #{number}\r\nDate: {_date()}\r\n"
            f"Message-ID: {make_msgid(domain='list.example')}\r\n"
            f"Content-Type: text/plain\r\n\r\n{body}").encode()


def measure(label: str, mailbox_id: int, url: str) -> None:
    """One pass in a process of its own: its time, peak RSS and IMAP commands."""
    done = subprocess.run([PYTHON, __file__, "--pass-only", str(mailbox_id)], cwd=ROOT,
                          env=app_env(url, SITE_URL="https://sales.example.com"),
                          capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{label:<34}{figures['read']:>8,}{figures['matched']:>9,}{figures['seconds']:>9.2f}"
          f"{figures['rss_mb']:>8.0f}{figures['commands']:>11}")


def one_pass(mailbox_id: int) -> None:
    from mailboxes.models import Mailbox
    from mailboxes.reading import mailbox_pass

    Mailbox.objects.filter(pk=mailbox_id).update(lease_until=None)
    started = time.monotonic()
    report_ = mailbox_pass(mailbox_id)
    seconds = time.monotonic() - started
    if report_.error:
        sys.exit(f"the pass failed: {report_.error}")
    print(json.dumps({"read": report_.read, "matched": report_.matched, "seconds": seconds,
                      "commands": report_.commands,
                      "rss_mb": peak_mb()}))


def peak_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ``ru_maxrss``, not inherited from the parent
    that forked it, which held the whole INBOX it appended)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
