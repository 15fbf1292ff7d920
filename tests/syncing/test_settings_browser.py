"""Settings → Test connection in a real browser (headless Chromium via Playwright): testing the
saved values changes the card's status in place, and the result is one sentence (issue 24,
defect 5)."""

import os
import re

import pytest
from browser_helpers import PASSWORD, log_in, shot
from factories import AdminFactory
from playwright.sync_api import expect
from sandboxes import MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET

from syncing.models import MarketoConnection

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]


def test_test_connection_updates_the_card(browser, live_server, marketo_sandbox):
    AdminFactory(username="ada", password=PASSWORD)
    MarketoConnection(base_url=marketo_sandbox.base_url, client_id=MARKETO_CLIENT_ID,
                      client_secret=MARKETO_CLIENT_SECRET).save()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        log_in(page, live_server.url, "ada", start="/settings/")
        expect(page.locator("#marketo-status")).to_contain_text("Not checked yet")
        page.click("#marketo-card button:text('Test connection')")
        expect(page.locator("#marketo-check")).to_contain_text(
            re.compile(r"Connected to Marketo at http://\S+: signed in, \d+ lead fields "
                       r"readable\."))
        expect(page.locator("#marketo-status")).to_contain_text("Connected")
        shot(page, "settings-card-1280")
    finally:
        page.close()
