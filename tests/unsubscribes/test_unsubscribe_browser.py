"""Unsubscribing from the person page in a real browser (Chromium driven by Playwright): the
confirmation, the panel and banner swapped in place, the push shown once the worker sent it,
and an admin's removal with a reason."""

import os

import pytest
from browser_helpers import PASSWORD, log_in, shot
from conftest import sf_record
from factories import AdminFactory, UserFactory
from playwright.sync_api import expect

from syncing.models import Delivery
from syncing.outbox.flush import deliveries_flush
from unsubscribes.models import Unsubscribe

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]


def test_a_seller_unsubscribes_and_an_admin_removes_it(browser, live_server, seed_people,
                                                       salesforce_connected):
    contact, = seed_people("contact")
    UserFactory(username="ava", password=PASSWORD)
    AdminFactory(username="root", first_name="Rita", last_name="Root", password=PASSWORD)
    context = browser.new_context()
    page = context.new_page()
    log_in(page, live_server.url, "ava", start="/login/", lands=r"/people/")
    page.goto(f"{live_server.url}/people/{contact.pk}/")
    questions = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))

    page.get_by_role("button", name="Unsubscribe").click()

    expect(page.locator("#unsubscribes")).to_contain_text("In force")
    expect(page.locator("#unsubscribe-banner")).to_contain_text("Unsubscribed")
    assert questions and contact.email in questions[0]
    assert Unsubscribe.objects.get().created_by.username == "ava"
    deliveries_flush(Delivery.Target.SALESFORCE, until_empty=True)
    page.reload()
    expect(page.locator("#unsubscribes [data-push=delivered]")).to_contain_text("opted out")
    assert page.get_by_role("button", name="Remove unsubscribe").count() == 0
    shot(page, "person-unsubscribed-seller")

    admin = browser.new_context().new_page()
    log_in(admin, live_server.url, "root", start="/login/", lands=r"/people/")
    admin.goto(f"{live_server.url}/people/{contact.pk}/")
    admin.fill("#unsubscribe-reason", "Asked to hear from us again at the fair")
    admin.get_by_role("button", name="Remove unsubscribe").click()

    expect(admin.locator("#unsubscribes")).to_contain_text(
        "by Rita Root: Asked to hear from us again at the fair")
    expect(admin.locator("#unsubscribe-banner")).not_to_contain_text("Unsubscribed")
    expect(admin.get_by_role("button", name="Unsubscribe")).to_be_visible()
    shot(admin, "person-removed-admin")
    assert sf_record(salesforce_connected, contact)["HasOptedOutOfEmail"] is True
