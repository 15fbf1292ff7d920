"""Seed reminder Tasks: what sellers planned in Salesforce during the last day.

``reminder_tasks=N`` (a sandbox setting) creates N Tasks on reset, spread over the 23 hours
before it, so an app switching on the two-way reminder sync imports them (it takes the last
24 hours). Most are reminders (``TaskSubtype`` Task) owned by the seed owners, on the seed
leads' Contacts and Leads; every tenth is a logged call (``TaskSubtype`` Call, Completed),
which the sync must leave alone. A few use values the app does not sync (In Progress, Low).
Deterministic for a given seed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox.seed import _mix, lead, owner_user_id

SUBJECTS = ["Follow up on the proposal", "Send the pricing sheet", "Book a demo",
            "Check in after the webinar", "Call about the renewal", "Send a LinkedIn InMail",
            "Confirm the meeting time", "Share the case study"]
STATUSES = ["Not Started"] * 6 + ["Completed", "In Progress"]
PRIORITIES = ["Normal"] * 5 + ["High", "High", "Low"]
SPREAD = timedelta(hours=23)


def _people(leads: int, seed: int) -> list[tuple[str, str]]:
    """(WhoId, owner's User id) of every seed lead with an owner and a Salesforce record."""
    people = []
    for number in range(1, leads + 1):
        person = lead(number, seed, leads)
        who = person["sfdcContactId"] or person["sfdcLeadId"]
        if who and person["sfdcLeadOwnerId"]:
            people.append((who, person["sfdcLeadOwnerId"]))
    return people


def seed_reminder_tasks(store, count: int, leads: int, seed: int) -> None:
    """Create ``count`` Tasks in ``store`` (see the module docstring)."""
    if count <= 0:
        return
    people = _people(leads, seed) or [(None, owner_user_id(1))]
    start = datetime.now(UTC) - SPREAD
    step = SPREAD / count
    today = datetime.now(UTC).date()
    for index in range(count):
        h = _mix(seed * 0x2000003 + index)
        who, owner = people[h % len(people)]
        at = start + step * index
        if index % 10 == 9:
            fields = {"Subject": "Call", "Status": "Completed", "Priority": "Normal",
                      "TaskSubtype": "Call", "ActivityDate": at.date().isoformat(),
                      "Description": "Logged call"}
        else:
            fields = {"Subject": SUBJECTS[(h >> 8) % len(SUBJECTS)],
                      "Status": STATUSES[(h >> 16) % len(STATUSES)],
                      "Priority": PRIORITIES[(h >> 24) % len(PRIORITIES)],
                      "TaskSubtype": "Task",
                      "ActivityDate": (today + timedelta(days=int((h >> 32) % 15) - 4)
                                       ).isoformat(),
                      "Description": "Planned in Salesforce"}
        fields |= {"WhoId": who, "OwnerId": owner}
        _, errors = store.create("Task", fields, actor=owner, at=at)
        if errors:
            raise ValueError(f"seed reminder task {index}: {errors}")
