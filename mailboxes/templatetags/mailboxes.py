"""``{% mailbox_card %}``: the You page's mailbox card (its own partial and views, so the
page's other cards stay apart from it)."""

from django import template

from ..forms import MailboxForm
from ..oauth import providers
from ..selectors import mailbox_of

register = template.Library()


@register.inclusion_tag("mailboxes/_card.html", takes_context=True)
def mailbox_card(context, form=None):
    user = context["request"].user
    mailbox = mailbox_of(user)
    if form is None and mailbox is not None:
        form = MailboxForm(initial={name: getattr(mailbox, name) for name in (
            "username", "imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port",
            "smtp_security")})
    return {"mailbox": mailbox, "form": form or MailboxForm(), "csrf_token": context.get(
        "csrf_token"), "request": context["request"],
        "sign_ins": [p for p in providers().values() if p.configured]}


@register.inclusion_tag("mailboxes/_paused_notice.html", takes_context=True)
def mailbox_paused_notice(context):
    """On the Sent page: the seller's mailbox is paused, so their emails wait (and why)."""
    mailbox = mailbox_of(context["request"].user)
    return {"mailbox": mailbox if mailbox is not None and mailbox.paused else None}
