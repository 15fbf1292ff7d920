"""The You page in a real browser (Chromium, headless, via Playwright): a seller sets their name
and signature, and the composer's preview on a person's page shows the signature after the body."""

import os

import pytest
from browser_helpers import PASSWORD, log_in, shot
from factories import PersonFactory, UserFactory
from playwright.sync_api import expect

from accounts.models import User

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]


def test_name_and_signature_from_the_you_page_reach_the_composer(browser, live_server):
    UserFactory(username="ava", first_name="", last_name="", password=PASSWORD)
    person = PersonFactory(first_name="Olivia")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        log_in(page, live_server.url, start="/account/")

        name = page.get_by_role("form", name="Your name")
        name.get_by_label("First name").fill("Ava")
        name.get_by_label("Last name").fill("Stone")
        name.get_by_role("button", name="Save name").click()
        expect(page.locator(".messages")).to_contain_text("Name saved.")

        signature = page.get_by_role("form", name="Email signature")
        signature.get_by_label("Email signature").fill("Ava Stone\nAcme Sales")
        signature.get_by_role("button", name="Save signature").click()
        expect(page.locator(".messages")).to_contain_text("Signature saved.")
        shot(page, "you-page", widths=(1280, 390))

        page.goto(f"{live_server.url}/people/{person.pk}/")
        page.get_by_text("Write an email", exact=True).click()
        page.fill("#id_subject", "Hello")
        page.fill("#id_body", "Hi {{first_name}}, from {{sender_name}}.")
        preview = page.locator("#email-preview .preview-body")
        expect(preview).to_contain_text("Hi Olivia, from Ava Stone.")
        expect(preview).to_contain_text("Acme Sales")
    finally:
        page.close()
    user = User.objects.get(username="ava")
    assert (user.get_full_name(), user.signature) == ("Ava Stone", "Ava Stone\nAcme Sales")
