"""The Analytics page in a real browser (headless Chromium via Playwright): a seller sees
their own charts with the table beside each and a CSV button; an admin picks a seller.

With ``SCREENSHOT_DIR=<folder>`` the pages are also saved there at 1280 and 390 px."""

import os
from datetime import timedelta

import pytest
from browser_helpers import PASSWORD, log_in, shot
from django.utils import timezone
from factories import (
    AdminFactory,
    CallFactory,
    EmailTemplateFactory,
    ReminderTaskFactory,
    SalesEmailFactory,
    UserFactory,
)
from playwright.sync_api import expect

from emails.events import EventIn, events_apply

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]


def seed_month(seller, templates):
    """A month of a seller's work: calls, emails (some opened, clicked, replied), tasks."""
    now = timezone.now()
    for day in range(28):
        at = now - timedelta(days=day, hours=1)
        for n in range(day % 4 + 1):
            CallFactory(logged_by=seller, called_at=at - timedelta(minutes=n),
                        outcome=("Connected", "Left voicemail", "No answer")[n % 3])
        for n in range(day % 3 + 2):
            email = SalesEmailFactory(sender=seller, template=templates[n % len(templates)],
                                      sent_at=at - timedelta(minutes=n))
            kinds = ["opened"] * (n % 3 > 0) + ["clicked"] * (n == 2) + ["replied"] * (
                day % 5 == 0 and n == 1)
            events_apply([EventIn(email=email, kind=kind, at=at + timedelta(minutes=k + 1),
                                  source="provider") for k, kind in enumerate(kinds)])
        if day % 3 == 0:
            ReminderTaskFactory(assignee=seller, status="complete",
                                completed_at=at, due_date=at.date())
    ReminderTaskFactory(assignee=seller, due_date=(now - timedelta(days=3)).date())


def test_a_seller_sees_charts_and_tables_and_an_admin_picks_a_seller(browser, live_server):
    ava = UserFactory(username="ava", first_name="Ava", last_name="Stone", password=PASSWORD)
    ben = UserFactory(username="ben", first_name="Ben", last_name="Hart", password=PASSWORD)
    AdminFactory(username="boss", password=PASSWORD)
    templates = [EmailTemplateFactory(owner=ava, name="Intro"),
                 EmailTemplateFactory(owner=ava, name="Follow-up")]
    seed_month(ava, templates)
    seed_month(ben, [None])

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        log_in(page, live_server.url, "ava", start="/analytics/")
        expect(page.locator("nav a[aria-current=page]")).to_have_text("Analytics")
        activity = page.locator("section.analytics-report").first
        expect(activity.locator("h2")).to_have_text("Activity by day")
        expect(activity.locator("svg.analytics-chart polyline")).to_have_count(4)
        expect(activity.locator("table tbody tr")).to_have_count(30)
        by_template = page.locator("section:has(h2:text('Email performance by template'))")
        expect(by_template.locator("tbody th")).to_have_text(["Intro", "Follow-up"])
        expect(by_template.locator("svg.analytics-chart rect.chart-bar").first).to_be_visible()
        csv = by_template.locator("a:text('CSV')").get_attribute("href")
        assert "group_by=template" in csv and "format=csv" in csv
        expect(page.locator("h2:text('Activity by seller')")).to_have_count(0)
        shot(page, "analytics-seller", widths=(1280, 390))

        page.select_option("select[name=preset]", "90")
        page.click("button:text('Show')")
        expect(page.locator("section.analytics-report h2").first).to_have_text(
            "Activity by week")

        page.context.clear_cookies()
        log_in(page, live_server.url, "boss", start="/analytics/")
        team = page.locator("section:has(h2:text('Activity by seller'))")
        expect(team.locator("tbody th")).to_have_text(["Ava Stone", "Ben Hart"])
        shot(page, "analytics-admin", widths=(1280, 390))
        page.select_option("select[name=sender]", label="Ben Hart")
        page.click("button:text('Show')")
        expect(page.locator("hgroup p")).to_contain_text("One seller's figures")
        expect(page.locator("h2:text('Activity by seller')")).to_have_count(0)
        expect(page.locator("section:has(h2:text('Email performance by template')) tbody th"
                            )).to_have_text(["No template"])
    finally:
        page.close()
