"""Reminder task fields <-> Salesforce Task fields (SPEC section 6), and the sellers'
Salesforce Users.

| app                     | Task                                                   |
|-------------------------|--------------------------------------------------------|
| name                    | Subject (app -> Salesforce only)                       |
| status open/complete    | Status Not Started/Completed (other statuses: ignored) |
| priority normal/high    | Priority Normal/High (Low: ignored)                    |
| due_date                | ActivityDate                                           |
| details                 | Description                                            |
| assignee                | OwnerId: the Salesforce User with the seller's email   |
| person                  | WhoId: the contact, else the lead                      |

Snapshots (``ReminderTask.synced_values``) hold values in the app's terms: the status and
priority choices, the due date as ISO text, user and person ids.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import User
from reminders.models import ReminderTask
from syncing.clients.salesforce import SalesforceClient
from syncing.outbox.salesforce_tasks import SUBJECT_MAX, task_description

#: The fields both sides change (the name only goes to Salesforce).
MERGED_FIELDS = ("status", "priority", "due_date", "details", "assignee", "person")
PUSHED_FIELDS = ("name", *MERGED_FIELDS)
TASK_FIELDS = ("Id", "Subject", "Status", "Priority", "ActivityDate", "Description", "OwnerId",
               "WhoId", "TaskSubtype", "IsDeleted", "CreatedById", "SystemModstamp")
STATUS_TO_SF = {"open": "Not Started", "complete": "Completed"}
STATUS_FROM_SF = {value: key for key, value in STATUS_TO_SF.items()}
PRIORITY_TO_SF = {"normal": "Normal", "high": "High"}
PRIORITY_FROM_SF = {value: key for key, value in PRIORITY_TO_SF.items()}
#: Sellers' Salesforce Users are looked up again after this long (new users, changed emails).
USERS_MAX_AGE = timedelta(hours=1)


def sf_datetime_parse(text: str) -> datetime:
    """``2024-01-31T12:00:00.000+0000`` (Salesforce's format) as an aware datetime."""
    return datetime.fromisoformat(text)  # Python 3.11 reads "+0000"; strptime is 60x slower


def task_values(task: ReminderTask) -> dict:
    """The task's synced fields in snapshot terms."""
    return {"name": task.name, "status": task.status, "priority": task.priority,
            "due_date": task.due_date.isoformat(), "details": task.details,
            "assignee": task.assignee_id, "person": task.person_id}


def who_id(person) -> str | None:
    """The Task's WhoId: the person's Salesforce contact, else their lead."""
    return person.sfdc_contact_id or person.sfdc_lead_id or None


def task_fields(values: dict, *, person, owner_id: str | None) -> dict:
    """The Task fields for snapshot-style ``values`` (any subset of ``PUSHED_FIELDS``)."""
    fields = {}
    for name, value in values.items():
        if name == "name":
            fields["Subject"] = value[:SUBJECT_MAX]
        elif name == "status":
            fields["Status"] = STATUS_TO_SF[value]
        elif name == "priority":
            fields["Priority"] = PRIORITY_TO_SF[value]
        elif name == "due_date":
            fields["ActivityDate"] = value
        elif name == "details":
            fields["Description"] = task_description(value)
        elif name == "assignee":
            fields["OwnerId"] = owner_id
        elif name == "person":
            fields["WhoId"] = who_id(person)
    return fields


def remote_values(record: dict, *, people: dict[str, int], sellers: dict[str, int]) -> dict:
    """A Task's merged fields in snapshot terms; None where the value does not sync (another
    status, Low priority, no due date, an owner who is not a seller, an unknown person)."""
    return {
        "status": STATUS_FROM_SF.get(record.get("Status")),
        "priority": PRIORITY_FROM_SF.get(record.get("Priority")),
        "due_date": record.get("ActivityDate") or None,
        "details": record.get("Description") or "",
        "assignee": sellers.get(_id15(record.get("OwnerId"))),
        "person": people.get(_id15(record.get("WhoId"))),
    }


def _id15(record_id: str | None) -> str:
    """Ids compare on their 15-character form (the 18-character one adds a checksum)."""
    return (record_id or "")[:15]


def people_by_who(who_ids: set[str]) -> dict[str, int]:
    """Person ids in the workspace by WhoId (15 characters), for the given WhoIds."""
    from people.models import Person

    if not who_ids:
        return {}
    wanted = {_id15(who) for who in who_ids if who}
    found: dict[str, int] = {}
    # Two lookups, each on one column; contacts win over leads like WhoId itself.
    for column in ("sfdc_lead_id", "sfdc_contact_id"):
        for pk, value in Person.workspace.filter(**{f"{column}__in": _both_forms(who_ids)}
                                                 ).values_list("pk", column):
            if value[:15] in wanted:
                found[value[:15]] = pk
    return found


def _both_forms(ids: set[str]) -> list[str]:
    # Marketo stores 18-character ids; accept a 15-character one from an older sync too.
    return sorted({i for i in ids if i} | {i[:15] for i in ids if i})


def salesforce_users(client: SalesforceClient, stream_state: dict, emails: list[str],
                     save) -> tuple[dict[str, str], dict]:
    """``{email lower-cased: Salesforce User id}`` of active Users with these emails: one query,
    then kept in the stream's state (``save(state)``) for ``USERS_MAX_AGE``."""
    cached = stream_state.get("salesforce_users") or {}
    wanted = sorted({email.lower() for email in emails if email})
    fresh = cached.get("checked_at") and timezone.now() - datetime.fromisoformat(
        cached["checked_at"]) < USERS_MAX_AGE
    if fresh and set(wanted) <= set(cached.get("asked", [])):
        return cached["users"], stream_state
    if not wanted:
        return {}, stream_state
    quoted = ",".join("'" + email.replace("\\", "\\\\").replace("'", "\\'") + "'"
                      for email in wanted)
    users = {}
    for record in client.query(f"SELECT Id, Email FROM User WHERE IsActive = true AND "
                               f"Email IN ({quoted})"):
        users.setdefault((record.get("Email") or "").lower(), record["Id"])
    state = {**stream_state, "salesforce_users": {
        "users": users, "asked": wanted, "checked_at": timezone.now().isoformat()}}
    save(state)
    return users, state


def sellers_by_owner(users: dict[str, str]) -> dict[str, int]:
    """App seller ids by their Salesforce User id (15 characters)."""
    by_email = {user.email.lower(): user.pk for user in User.objects.filter(
        is_active=True, role=User.Role.SELLER).exclude(email="")}
    return {_id15(sf_id): by_email[email] for email, sf_id in users.items()
            if email in by_email}


def seller_emails() -> list[str]:
    return list(User.objects.filter(is_active=True, role=User.Role.SELLER)
                .exclude(email="").values_list("email", flat=True))
