"""The senders of the kinds ``campaign_added`` and ``campaign_removed`` (Marketo only),
registered with the outbox. Batched like every activity: up to 300 a call."""

from __future__ import annotations

from campaigns.models import CampaignMember
from syncing.models import Delivery
from syncing.outbox.batch import Batch, SenderResult
from syncing.outbox.marketo_activities import (
    SOURCE,
    activities_add,
    marketo_datetime,
    marketo_open,
)
from syncing.outbox.registry import sender
from syncing.settings.selectors import sync_settings_get

ADDED_KIND = "campaign_added"
REMOVED_KIND = "campaign_removed"
ADDED_TYPE = "addToSalesCampaign"
REMOVED_TYPE = "removedFromSalesCampaign"
MARKETO_SWITCHED_OFF = ("Logging sales activities to Marketo was switched off before this was "
                        "sent.")


def membership_activity(member: CampaignMember, type_id: int, *, removed: bool) -> dict:
    """A membership as an "Add to" / "Removed from Sales Campaign" activity."""
    moment = member.ended_at if removed and member.ended_at else member.added_at
    attributes = {"salesCampaignId": str(member.campaign_id), "sentBy": member.added_by.email,
                  "source": SOURCE}
    if removed and member.end_reason:
        attributes["salesCallStatus"] = member.marketo_end_reason
    return {"leadId": member.person.marketo_id, "activityDate": marketo_datetime(moment),
            "activityTypeId": type_id, "primaryAttributeValue": member.campaign.name,
            "attributes": [{"apiName": name, "value": value}
                           for name, value in attributes.items() if value not in ("", None)]}


#: What ``membership_activity`` reads of a member, its person, campaign and seller. Loading
#: every column of the four tables (a person has ~30) was 3/5 of this sender's samples in a
#: delivery worker (py-spy, bench/workers.py --profile).
_MEMBER_FIELDS = ("campaign_id", "person_id", "added_by_id", "added_at", "ended_at",
                  "end_reason", "person__marketo_id", "campaign__name", "added_by__email")


def _members(batch: Batch) -> dict[int, CampaignMember]:
    return (CampaignMember.objects.select_related("person", "campaign", "added_by")
            .only(*_MEMBER_FIELDS).in_bulk(batch.record_ids()))


def _send(batch: Batch, *, type_name: str, removed: bool) -> SenderResult:
    opened = marketo_open(batch, enabled=sync_settings_get().log_activities_to_marketo,
                          switched_off=MARKETO_SWITCHED_OFF, type_name=type_name)
    if isinstance(opened, SenderResult):
        return opened
    client, type_id = opened
    members = _members(batch)
    records = {delivery.pk: membership_activity(members[delivery.record_id], type_id,
                                                removed=removed)
               for delivery in batch.deliveries if delivery.record_id in members}
    return activities_add(client, batch, records, type_id)


@sender(Delivery.Target.MARKETO, ADDED_KIND)
def campaign_added_send(batch: Batch) -> SenderResult:
    return _send(batch, type_name=ADDED_TYPE, removed=False)


@sender(Delivery.Target.MARKETO, REMOVED_KIND)
def campaign_removed_send(batch: Batch) -> SenderResult:
    return _send(batch, type_name=REMOVED_TYPE, removed=True)
