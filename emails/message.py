"""The message a sales email becomes: From/Reply-To the seller, the stored Message-ID,
multipart plain text + HTML, the unsubscribe link and RFC 8058 headers, and (when tracking
is on) the open pixel and click-tracked links.

The plain text is the body as the seller wrote it, with an unsubscribe footer. The HTML part
is that text HTML-escaped, with bare ``http(s)://`` URLs turned into links (rewritten to the
signed click redirect when click tracking is on) and line breaks kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import escape
from django.utils.translation import gettext

from .merge import sender_name
from .models import SalesEmail
from .tokens import click_url, open_pixel_url, unsubscribe_url

#: A bare URL in plain text; trailing punctuation is left out of the link.
URL = re.compile(r"""\bhttps?://[^\s<>"']+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""



@dataclass(frozen=True)
class MessageOptions:
    """What the admin's switches say for a batch (read once per batch)."""

    open_tracking: bool = True
    click_tracking: bool = True
    from_address: str = ""


def options_from(sync_settings) -> MessageOptions:
    return MessageOptions(open_tracking=sync_settings.email_open_tracking,
                          click_tracking=sync_settings.email_click_tracking,
                          from_address=sync_settings.email_from_address)


def _split_url(match: re.Match) -> tuple[str, str]:
    url = match.group(0)
    trailing = ""
    while url and url[-1] in _TRAILING:
        # Keep a closing parenthesis that closes one inside the URL (Wikipedia links).
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        trailing = url[-1] + trailing
        url = url[:-1]
    return url, trailing


def html_body(text: str, *, link=lambda url: url) -> str:
    """``text`` as HTML: escaped, bare URLs linked (to ``link(url)``), line breaks kept."""
    out, position = [], 0
    for match in URL.finditer(text):
        url, trailing = _split_url(match)
        out.append(escape(text[position:match.start()]))
        out.append(f'<a href="{escape(link(url))}">{escape(url)}</a>{escape(trailing)}')
        position = match.end()
    out.append(escape(text[position:]))
    html = "".join(out).replace("\r\n", "\n")
    paragraphs = [p.replace("\n", "<br>\n") for p in re.split(r"\n{2,}", html)]
    return "\n".join(f"<p>{p}</p>" for p in paragraphs if p.strip())


def build_message(email: SalesEmail, options: MessageOptions,
                  connection=None) -> EmailMultiAlternatives:
    """The message for ``email`` (person and sender loaded). The footer is in the active
    language: the sending worker activates the seller's (``emails/sending.py``)."""
    seller = email.sender
    name = sender_name(seller)
    from_email = formataddr((name, options.from_address or seller.email))
    person_name = f"{email.person.first_name} {email.person.last_name}".strip()
    tracked = email.track
    unsubscribe = unsubscribe_url(email)
    # Translators: the link at the foot of every sales email (RFC 8058 unsubscribe).
    unsubscribe_text = gettext("Unsubscribe from these emails")
    text = (f"{email.body.rstrip()}\n\n-- \n{unsubscribe_text}: {unsubscribe}\n")
    link = ((lambda url: click_url(email, url)) if tracked and options.click_tracking
            else (lambda url: url))
    html = (f'<!DOCTYPE html><html><body>\n{html_body(email.body.strip(), link=link)}\n'
            f'<p style="color:#777;font-size:12px">'
            f'<a href="{escape(unsubscribe)}">{escape(unsubscribe_text)}</a></p>\n')
    if tracked and options.open_tracking:
        html += (f'<img src="{escape(open_pixel_url(email))}" width="1" height="1" alt="" '
                 f'style="display:block;border:0">\n')
    html += "</body></html>\n"
    list_unsubscribe = f"<{unsubscribe}>"
    mailto = settings.EMAIL_UNSUBSCRIBE_MAILTO or seller.email
    if mailto:
        list_unsubscribe += f", <mailto:{mailto}?subject=unsubscribe>"
    message = EmailMultiAlternatives(
        subject=email.subject, body=text, from_email=from_email,
        to=[formataddr((person_name, email.to_email))],
        reply_to=[formataddr((name, seller.email))] if seller.email else None,
        headers={"Message-ID": email.message_id,
                 "List-Unsubscribe": list_unsubscribe,
                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        connection=connection)
    message.attach_alternative(html, "text/html")
    return message
