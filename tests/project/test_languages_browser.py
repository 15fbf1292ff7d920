"""Switching the language in a real browser (issue 25): the login page's menu (sent by app.js
as soon as a language is picked) and the You page's language card change the page's text and
its <html lang>; app.js writes its own texts in the page's language; a page in Chinese uses
the CJK fonts first. With ``SCREENSHOT_DIR`` set, the person page in Chinese and in Italian
(and the You page in Chinese) are saved there as PNGs."""

import os

import pytest
from browser_helpers import PASSWORD, shot, signed_in
from factories import PersonFactory, UserFactory
from playwright.sync_api import expect

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]


def test_login_menu_then_you_page_switch_the_language(browser, live_server):
    seller = UserFactory(username="ava", email="ava.stone@example.com", first_name="Ava",
                         last_name="Stone")
    PersonFactory(owner_email=seller.email, first_name="Olivia", last_name="Quinn")
    context = browser.new_context(locale="en-US")
    page = context.new_page()

    page.goto(live_server.url + "/login/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    # With script the menu needs no button: picking a language sends it.
    expect(page.locator(".language-menu button")).to_be_hidden()
    page.get_by_role("combobox", name="Language").select_option("fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()

    page.get_by_label("Nom d’utilisateur").fill("ava")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator(".app-header").get_by_role("link", name="Personnes")).to_be_visible()

    page.goto(live_server.url + "/account/")
    expect(page.get_by_role("heading", name="Vos paramètres")).to_be_visible()
    page.locator("#language-card select").select_option("zh-hans")
    page.locator("#language-card button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("heading", name="您的设置")).to_be_visible()
    expect(page.get_by_text("语言已保存。")).to_be_visible()
    # Chinese glyphs come from the CJK fonts, named first on a page in Chinese.
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert font.startswith('"PingFang SC"'), font
    shot(page, "you-zh-hans")

    # app.js's own text, from the layout's data-text-* in the page's language.
    page.goto(live_server.url + "/people/")
    page.locator("input[name=person]").first.check()
    expect(page.locator("[data-selected-count]")).to_have_text("已选择1人：")
    context.close()


@pytest.mark.parametrize("language", ["zh-hans", "it"])
def test_the_person_page_in_chinese_and_italian(browser, live_server, language):
    seller = UserFactory(username="ben", email="ben.okafor@example.com", language=language)
    person = PersonFactory(owner_email=seller.email, first_name="Olivia", last_name="Quinn")
    context, page = signed_in(browser, live_server.url, seller, locale="en-US")

    page.goto(f"{live_server.url}/people/{person.pk}/")
    page.wait_for_load_state("networkidle")

    expect(page.locator("html")).to_have_attribute("lang", language)
    menu = {"zh-hans": "人员", "it": "Persone"}[language]
    expect(page.locator(".app-header").get_by_role("link", name=menu)).to_be_visible()
    shot(page, f"person-{language}")
    context.close()
