"""The Salesforce sandbox's seed reminder Tasks (``reminder_tasks=N``) and the reads the
reminder sync makes: Users by email, reminder Tasks changed since a moment."""

from datetime import UTC, datetime, timedelta

import pytest
from test_salesforce_sandbox import Api

from sandbox.seed import OWNERS, owner_user_id


@pytest.fixture
def api(salesforce_sandbox):
    salesforce_sandbox.reset(reminder_tasks=30)
    return Api(salesforce_sandbox.base_url)


def test_reset_seeds_reminder_tasks_over_the_last_day(api):
    tasks = api.query("SELECT Id, Subject, Status, Priority, ActivityDate, Description, "
                      "TaskSubtype, OwnerId, WhoId, SystemModstamp FROM Task "
                      "ORDER BY SystemModstamp")
    assert len(tasks) == 30
    reminders = [t for t in tasks if t["TaskSubtype"] == "Task"]
    calls = [t for t in tasks if t["TaskSubtype"] == "Call"]
    assert (len(reminders), len(calls)) == (27, 3)
    owners = {owner_user_id(number) for number, *_ in OWNERS}
    assert all(t["OwnerId"] in owners and t["WhoId"][:3] in ("003", "00Q") for t in tasks)
    day_ago = datetime.now(UTC) - timedelta(hours=24)
    assert all(datetime.strptime(t["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.%f%z") > day_ago
               for t in tasks)
    assert {t["Status"] for t in reminders} <= {"Not Started", "Completed", "In Progress"}


def test_users_by_email_in_one_query(api):
    users = api.query("SELECT Id, Email FROM User WHERE Email IN "
                      "('ava.stone@example.com', 'ben.okafor@example.com', 'nobody@example.com')")
    assert {u["Email"]: u["Id"] for u in users} == {
        "ava.stone@example.com": owner_user_id(1), "ben.okafor@example.com": owner_user_id(2)}


def test_reminder_tasks_changed_since_a_moment(api):
    tasks = api.query("SELECT Id, SystemModstamp FROM Task WHERE TaskSubtype = 'Task' "
                      "ORDER BY SystemModstamp, Id")
    middle = tasks[len(tasks) // 2]["SystemModstamp"].replace(".000+0000", "Z")
    later = api.query("SELECT Id FROM Task WHERE TaskSubtype = 'Task' AND SystemModstamp > "
                      f"{middle[:19]}Z ORDER BY SystemModstamp, Id")
    assert 0 < len(later) < len(tasks)


def test_a_remote_user_changes_many_tasks_at_once(api, salesforce_sandbox):
    touched = salesforce_sandbox.call("POST", "touch/Task", json={
        "where": {"TaskSubtype": "Task"}, "fields": {"Description": "Changed"}})
    assert touched == {"updated": 27}
    tasks = api.query("SELECT Id, Description, TaskSubtype FROM Task")
    assert {t["Description"] for t in tasks if t["TaskSubtype"] == "Task"} == {"Changed"}
    assert {t["Description"] for t in tasks if t["TaskSubtype"] == "Call"} == {"Logged call"}
