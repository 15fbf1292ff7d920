"""Messages as they arrive in a seller's INBOX: replies, auto-replies, delivery reports
(RFC 3464) and unrelated mail, put there with IMAP APPEND."""

from datetime import datetime
from email.utils import format_datetime, make_msgid


def reply(email, text="Call me Tuesday, that works better.\n\nThanks,\nOlivia",
          extra_headers="", subject=None) -> bytes:
    return (f"From: Olivia <{email.to_email}>\r\nTo: {email.sender.email}\r\n"
            f"Subject: {subject or 'Re: ' + email.subject}\r\n"
            f"Message-ID: {make_msgid(domain='customer.example')}\r\n"
            f"In-Reply-To: {email.message_id}\r\nReferences: {email.message_id}\r\n"
            f"Date: {format_datetime(datetime.now().astimezone())}\r\n{extra_headers}"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            + text.replace("\n", "\r\n")
            + f"\r\n\r\nOn Mon, Dec 1, 2026 at 10:00 AM Ava Stone <{email.sender.email}> wrote:"
              "\r\n> Hi Olivia, shall we talk?\r\n").encode()


def delivery_report(email, status="5.1.1", action="failed",
                    diagnostic="smtp; 550 5.1.1 No such user") -> bytes:
    boundary = "report-boundary"
    return (f"From: Mail Delivery System <MAILER-DAEMON@mx.seller.example>\r\n"
            f"To: {email.sender.email}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            f"Message-ID: {make_msgid(domain='mx.seller.example')}\r\n"
            "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=delivery-status; "
            f"boundary=\"{boundary}\"\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
            "Your message could not be delivered.\r\n\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.seller.example\r\n\r\n"
            f"Final-Recipient: rfc822; {email.to_email}\r\nAction: {action}\r\n"
            f"Status: {status}\r\nDiagnostic-Code: {diagnostic}\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: {email.sender.email}\r\nTo: {email.to_email}\r\n"
            f"Subject: {email.subject}\r\nMessage-ID: {email.message_id}\r\n\r\n"
            f"--{boundary}--\r\n").encode()


def unrelated(subject="Lunch on Friday?", in_reply_to="") -> bytes:
    header = f"In-Reply-To: {in_reply_to}\r\n" if in_reply_to else ""
    return (f"From: Friend <friend@elsewhere.example>\r\nTo: ava@seller.example\r\n"
            f"Subject: {subject}\r\nMessage-ID: {make_msgid(domain='elsewhere.example')}\r\n"
            f"{header}Content-Type: text/plain\r\n\r\nSee you there.\r\n").encode()


def deliver(account, *messages: bytes, when: datetime | None = None) -> None:
    """Put ``messages`` in the account's INBOX, as the seller's mail server would."""
    client = account.client()
    try:
        for message in messages:
            client.append("INBOX", message, msg_time=when)
    finally:
        client.logout()
