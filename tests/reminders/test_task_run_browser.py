"""A whole task run in a real browser (Chromium, headless, via Playwright): "Start tasks" on the
Tasks page, a call task (the number as a tel: link, the call form), an email task from a
campaign step (the composer filled from it, sent), an InMail task snoozed with a preset, then
the end of the run; and an empty snooze on the queue that stays on the queue and names the task.
"""

import os
import re
from datetime import date, timedelta

import pytest
from browser_helpers import PASSWORD, log_in, shot
from factories import PersonFactory, ReminderTaskFactory, UserFactory
from playwright.sync_api import expect

from activities.models import Call
from campaigns.models import Campaign, CampaignMember, CampaignStep, MemberStep
from emails.models import SalesEmail
from reminders.models import ReminderTask

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _utc(fast_passwords, settings):
    settings.TIME_ZONE = "UTC"


@pytest.fixture
def no_send(monkeypatch):
    """The email the run sends stays queued (no broker message; nothing here sends it), and
    Marketo's unsubscribe check is off (no Marketo connected in this test)."""
    from emails import services
    from syncing.models import SyncSettings

    monkeypatch.setattr(services, "emails_send_soon", lambda: None)
    SyncSettings(marketo_unsubscribe_check=False).save()


def test_a_whole_task_run(browser, live_server, no_send):
    ava = UserFactory(username="ava", email="ava@seller.example", password=PASSWORD)
    today = date.today()
    caller = PersonFactory(first_name="Carl", last_name="Caller", phone="+1 415-555-0142")
    writer = PersonFactory(first_name="Wendy", last_name="Writer", company="Acme")
    linked = PersonFactory(first_name="Lena", last_name="Linked",
                           linkedin_url="https://www.linkedin.com/in/lena")
    call = ReminderTaskFactory(assignee=ava, person=caller, type="call", name="Intro call",
                               due_date=today - timedelta(days=1))
    email = ReminderTaskFactory(assignee=ava, person=writer, type="email", name="Pricing email",
                                due_date=today)
    inmail = ReminderTaskFactory(assignee=ava, person=linked, type="inmail", name="Say hello",
                                 due_date=today)
    campaign = Campaign.objects.create(name="Q2 outreach", owner=ava)
    step = CampaignStep.objects.create(campaign=campaign, position=0, type="email",
                                       subject="Pricing for {{company}}",
                                       body="Hi {{first_name}},\n\nhere are our prices.")
    member = CampaignMember.objects.create(campaign=campaign, person=writer, added_by=ava,
                                           added_at=email.created_at,
                                           anchor_at=email.created_at)
    MemberStep.objects.create(member=member, step=step, position=0, type="email", task=email,
                              due_at=email.created_at, ran_at=email.created_at, result="task")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    try:
        log_in(page, live_server.url, start="/tasks/")
        page.get_by_role("button", name=re.compile("Start tasks")).click()

        # 1. The overdue call: the number to dial, the call form, the person's timeline.
        task = page.locator("#run-task")
        expect(task).to_have_attribute("data-task", str(call.pk))
        expect(task).to_contain_text("Overdue")
        expect(page.locator("#run-left")).to_have_text("3 to go")
        expect(page.get_by_role("button", name="Call +1 415-555-0142")).to_have_attribute(
            "href", "tel:+1%20415-555-0142")
        expect(page.locator("#timeline")).to_be_visible()
        shot(page, "task-run-call-1280")
        page.get_by_role("form", name="Log a call").locator("textarea[name=notes]").fill(
            "Interested; send pricing.")
        page.get_by_role("button", name="Log call").click()
        expect(page.locator(".call-logged")).to_be_visible()
        expect(page.locator('#timeline-entries li[data-kind="call"]')).to_contain_text(
            "Interested; send pricing.")
        page.get_by_role("button", name="Complete and go on").click()

        # 2. The email step: the composer holds the campaign step's text; send it.
        expect(task).to_have_attribute("data-task", str(email.pk))
        expect(page.locator(".messages")).to_contain_text("Completed “Intro call”")
        expect(page.locator("#id_subject")).to_have_value("Pricing for {{company}}")
        expect(page.locator("#email-preview .preview-subject")).to_have_text("Pricing for Acme")
        shot(page, "task-run-email-1280")
        page.get_by_role("button", name="Send email").click()
        expect(page.locator(".email-queued")).to_contain_text("queued")
        page.get_by_role("button", name="Complete and go on").click()

        # 3. The InMail: a link to the profile; snoozed to tomorrow with a preset.
        expect(task).to_have_attribute("data-task", str(inmail.pk))
        expect(page.get_by_role("link", name="open the profile")).to_have_attribute(
            "href", "https://www.linkedin.com/in/lena")
        page.get_by_role("form", name="Snooze Say hello", exact=True).get_by_role(
            "button", name="Tomorrow").click()

        # The end of the run.
        expect(page.locator(".run-done")).to_contain_text("You are through your tasks")
        expect(page.locator(".messages")).to_contain_text("Snoozed “Say hello”")
        shot(page, "task-run-done-1280")
    finally:
        page.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    call.refresh_from_db()
    email.refresh_from_db()
    inmail.refresh_from_db()
    assert call.status == email.status == ReminderTask.Status.COMPLETE
    assert inmail.status == "open" and inmail.due_date == today + timedelta(days=1)
    assert Call.objects.get(person=caller).notes == "Interested; send pricing."
    sent = SalesEmail.objects.get(person=writer)
    assert sent.subject == "Pricing for Acme" and sent.body.startswith("Hi Wendy,")


def test_an_empty_snooze_stays_on_the_queue_and_names_the_task(browser, live_server):
    ava = UserFactory(username="ava", password=PASSWORD)
    ReminderTaskFactory(assignee=ava, name="Chase the contract", due_date=date.today())
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        log_in(page, live_server.url, start="/tasks/")
        snooze = page.get_by_role("form", name="Snooze Chase the contract")
        # A browser that does not enforce `required` (or a cleared date) posts it empty.
        snooze.locator("input[type=date]").evaluate("input => input.removeAttribute('required')")
        snooze.get_by_role("button", name="Snooze").click()
        expect(page.locator(".messages")).to_contain_text(
            "Not snoozed “Chase the contract”: Pick the day to snooze it to.")
        expect(page).to_have_url(re.compile(r"/tasks/$"))

        # A day in the past is refused the same way.
        snooze = page.get_by_role("form", name="Snooze Chase the contract")
        snooze.locator("input[type=date]").fill((date.today() - timedelta(days=1)).isoformat())
        snooze.get_by_role("button", name="Snooze").click()
        expect(page.locator(".messages")).to_contain_text("is past")
        expect(page).to_have_url(re.compile(r"/tasks/$"))
        shot(page, "tasks-snooze-error-1280")

        # A good snooze stays on the queue's address too (a reload must not post again).
        snooze = page.get_by_role("form", name="Snooze Chase the contract")
        snooze.locator("input[type=date]").fill((date.today() + timedelta(days=2)).isoformat())
        snooze.get_by_role("button", name="Snooze").click()
        expect(page.locator("#heading-upcoming .count")).to_have_text("1")
        expect(page).to_have_url(re.compile(r"/tasks/$"))
    finally:
        page.close()
