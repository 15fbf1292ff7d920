"""Signals of unsubscribes, for the apps that act on them (campaigns end memberships).

``unsubscribe_recorded`` is sent once the transaction that recorded unsubscribes commits,
with ``person_ids`` (the people they were recorded for) and ``emails`` (their addresses;
suppression is by address, so receivers act on everyone who has one of them).
"""

from django.db import transaction
from django.dispatch import Signal

unsubscribe_recorded = Signal()


def unsubscribes_announce(unsubscribes) -> None:
    """Send ``unsubscribe_recorded`` for these new unsubscribes after the commit."""
    unsubscribes = list(unsubscribes)
    if not unsubscribes:
        return
    person_ids = [u.person_id for u in unsubscribes]
    emails = [u.email for u in unsubscribes if u.email]
    transaction.on_commit(lambda: unsubscribe_recorded.send(
        sender=None, person_ids=person_ids, emails=emails))
