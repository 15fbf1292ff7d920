"""Helpers for the reminder sync tests: the seller Ava and the sync switches."""

from syncing.models import SyncSettings

SEED_LEADS = 2000
AVA = "ava.stone@example.com"


def sync_switch(*, log: bool = True, two_way: bool = True) -> None:
    """Set the two reminder switches as an admin would."""
    SyncSettings.objects.update_or_create(pk=1, defaults={
        "log_reminder_tasks_to_salesforce": log, "reminder_task_sync_enabled": two_way})
