"""What ends memberships from outside: an unsubscribe recorded anywhere (its address),
and a reply or bounce of a sales email (``emails.signals.email_status_changed``). The
scheduler also checks suppression before every step."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from unsubscribes.signals import unsubscribe_recorded

from .services import memberships_end_for_addresses

log = logging.getLogger(__name__)


@receiver(unsubscribe_recorded, dispatch_uid="campaigns-unsubscribe")
def _end_on_unsubscribe(sender, person_ids=(), emails=(), **kwargs) -> None:
    ended = memberships_end_for_addresses(emails)
    if ended:
        log.info("campaigns: %d memberships ended by unsubscribes", len(ended))
