"""What ends memberships from outside: an unsubscribe recorded anywhere (its address),
and a reply or bounce of a sales email (``emails.signals.email_status_changed``). The
scheduler also checks suppression before every step."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from emails.signals import email_status_changed
from unsubscribes.signals import unsubscribe_recorded

from .models import CampaignMember
from .services import memberships_end_for_addresses, memberships_end_for_people

log = logging.getLogger(__name__)


@receiver(unsubscribe_recorded, dispatch_uid="campaigns-unsubscribe")
def _end_on_unsubscribe(sender, person_ids=(), emails=(), **kwargs) -> None:
    ended = memberships_end_for_addresses(emails)
    if ended:
        log.info("campaigns: %d memberships ended by unsubscribes", len(ended))


#: An email's new status that ends the person's campaigns, and the reason it gives.
_ENDING = {"replied": CampaignMember.EndReason.REPLIED,
           "bounced": CampaignMember.EndReason.BOUNCED,
           "complained": CampaignMember.EndReason.UNSUBSCRIBED,
           "unsubscribed": CampaignMember.EndReason.UNSUBSCRIBED}


@receiver(email_status_changed, dispatch_uid="campaigns-email-status")
def _end_on_reply_or_bounce(sender, email=None, status="", **kwargs) -> None:
    """A reply or bounce of any sales email to the person ends their live memberships (they
    answered the seller, or the address does not work); a complaint or the unsubscribe link
    too (the unsubscribe signal would as well)."""
    reason = _ENDING.get(str(status))
    if email is None or reason is None:
        return
    ended = memberships_end_for_people([email.person_id], reason)
    if ended:
        log.info("campaigns: %d memberships of person %s ended (%s)", len(ended),
                 email.person_id, reason)
