"""Signals other apps listen to (campaigns: a reply or bounce ends a membership)."""

from django.dispatch import Signal

#: Sent after commit with ``email=`` (a SalesEmail) and ``status=`` (its new status) when an
#: email becomes sent, failed, replied, bounced, ... Sent by ``emails.sending`` and the
#: tracking/events services.
email_status_changed = Signal()
