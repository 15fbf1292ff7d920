"""Why an activity logged in the app is not delivered to a target: the rules every kind that is
logged to both Salesforce (as a Task) and Marketo (as an activity) shares. The settings and
connections are read once per batch; the answer is then a function of the person."""

from __future__ import annotations

from collections.abc import Callable

from syncing.models import Delivery
from syncing.settings.selectors import (
    marketo_connection_get,
    salesforce_connection_get,
    sync_settings_get,
)

SKIP_SALESFORCE_NOT_CONNECTED = "Salesforce is not connected."
SKIP_NO_SALESFORCE_ID = ("Not logged in Salesforce: this person has no Salesforce contact or "
                         "lead id.")
SKIP_MARKETO_OFF = "Logging sales activities to Marketo is switched off on Settings."
SKIP_MARKETO_NOT_CONNECTED = "Marketo is not connected."


def person_skip_rules(*, salesforce_switch: str, salesforce_off: str
                      ) -> Callable[[object], dict[str, str]]:
    """``skipped(person) -> {target: reason}``. ``salesforce_switch`` names the kind's own
    Salesforce switch on SyncSettings; ``salesforce_off`` is the reason when it is off."""
    sync_settings = sync_settings_get()
    salesforce = (salesforce_off if not getattr(sync_settings, salesforce_switch)
                  else SKIP_SALESFORCE_NOT_CONNECTED
                  if not salesforce_connection_get().is_configured else "")
    marketo = (SKIP_MARKETO_OFF if not sync_settings.log_activities_to_marketo
               else SKIP_MARKETO_NOT_CONNECTED
               if not marketo_connection_get().is_configured else "")

    def skipped(person) -> dict[str, str]:
        reasons = {}
        if salesforce:
            reasons[Delivery.Target.SALESFORCE] = salesforce
        elif not (person.sfdc_contact_id or person.sfdc_lead_id):
            reasons[Delivery.Target.SALESFORCE] = SKIP_NO_SALESFORCE_ID
        if marketo:
            reasons[Delivery.Target.MARKETO] = marketo
        return reasons

    return skipped
