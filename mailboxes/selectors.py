"""Reads: the mailboxes a user may see."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Mailbox


def mailbox_list_for_user(user) -> QuerySet[Mailbox]:
    """A seller's own mailbox; every seller's for an admin."""
    mailboxes = Mailbox.objects.select_related("user")
    return mailboxes if user.is_admin else mailboxes.filter(user=user)


def mailbox_of(user) -> Mailbox | None:
    """``user``'s own mailbox, if connected."""
    return Mailbox.objects.filter(user=user).first()
