"""Which language a page is in (issue 25, salesactions/i18n.py), and dates, times and
durations written the language's way (salesactions/templatetags/when.py)."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.template import engines
from django.utils import timezone, translation

from accounts.forms import LanguageForm

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def html_lang(response) -> str:
    page = response.content.decode()
    return page.split("<html lang=\"", 1)[1].split("\"", 1)[0]


def test_login_page_follows_accept_language(client):
    french = client.get("/login/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9,en;q=0.5")
    chinese = client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    english = client.get("/login/")

    assert html_lang(french) == "fr" and "Se connecter" in french.content.decode()
    assert html_lang(chinese) == "zh-hans" and "登录" in chinese.content.decode()
    assert html_lang(english) == "en" and "Log in" in english.content.decode()
    assert french["Content-Language"] == "fr"
    assert "Accept-Language" in french["Vary"]


def test_login_page_menu_sets_the_language_without_a_login(client):
    page = client.get("/login/").content.decode()
    assert 'action="/language/"' in page and 'value="pt-br"' in page

    response = client.post("/language/", {"language": "pt-br", "next": "/login/"})

    assert response.status_code == 302 and response["Location"] == "/login/"
    after = client.get("/login/", HTTP_ACCEPT_LANGUAGE="fr")
    assert html_lang(after) == "pt-br" and "Entrar" in after.content.decode()


def test_a_users_language_wins_over_the_browser_on_pages(client, seller):
    seller.language = "it"
    seller.save()
    client.force_login(seller)

    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="fr")

    assert html_lang(page) == "it"
    assert "Le tue impostazioni" in page.content.decode()


def test_without_a_choice_a_user_gets_the_browsers_language(seller_client):
    page = seller_client.get("/account/", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")

    assert html_lang(page) == "es" and "Su configuración" in page.content.decode()


def test_the_api_follows_accept_language_not_the_users_choice(client, seller):
    seller.language = "it"
    seller.save()
    client.force_login(seller)

    answer = client.get("/api/v1/sync/settings/", HTTP_ACCEPT_LANGUAGE="fr")

    # Not an admin: the endpoint's refusal, in the browser's French (DRF's own or ours).
    assert answer.status_code == 403
    assert answer["Content-Language"] == "fr"
    assert "administrateurs" in answer.json()["detail"]


def test_the_unsubscribe_page_follows_the_browser_even_for_a_signed_in_seller(client, seller):
    from factories import SalesEmailFactory

    from emails.tokens import unsubscribe_url
    seller.language = "it"
    seller.save()
    client.force_login(seller)
    path = "/" + unsubscribe_url(SalesEmailFactory(sender=seller)).split("/", 3)[3]

    page = client.get(path, HTTP_ACCEPT_LANGUAGE="es")

    # (Its template, emails/unsubscribe.html, writes its own <html lang>: its owner's part.)
    assert page.status_code == 200 and page["Content-Language"] == "es"


def test_the_language_card_saves_the_choice_and_confirms_in_it(seller_client, seller):
    page = seller_client.get("/account/").content.decode()
    assert 'id="language-card"' in page and 'action="/account/language/"' in page

    response = seller_client.post("/account/language/", {"language": "zh-hans"}, follow=True)

    seller.refresh_from_db()
    assert seller.language == "zh-hans"
    assert html_lang(response) == "zh-hans"
    assert "语言已保存。" in response.content.decode()
    assert seller_client.cookies["django_language"].value == "zh-hans"


def test_emptying_the_choice_goes_back_to_the_browser(seller_client, seller):
    seller_client.post("/account/language/", {"language": "it"})

    response = seller_client.post("/account/language/", {"language": ""}, follow=True,
                                  HTTP_ACCEPT_LANGUAGE="fr")

    seller.refresh_from_db()
    assert seller.language == ""
    assert html_lang(response) == "fr" and "Langue enregistrée." in response.content.decode()


def test_an_unknown_language_is_refused(seller_client, seller):
    response = seller_client.post("/account/language/", {"language": "de"})

    assert response.status_code == 400
    seller.refresh_from_db()
    assert seller.language == ""


def test_languages_are_offered_in_their_own_names():
    choices = dict(LanguageForm().fields["language"].choices)
    assert choices["fr"] == "Français" and choices["zh-hans"] == "简体中文"
    assert choices["pt-br"] == "Português (Brasil)"


def test_pages_show_moments_in_the_users_time_zone(client, seller):
    seller.time_zone = "Asia/Tokyo"
    seller.save()
    client.force_login(seller)

    client.get("/account/")
    # The request activated the user's zone for the page (and the API leaves it at UTC).
    assert timezone.get_current_timezone_name() == "Asia/Tokyo"
    client.get("/api/v1/calls/")
    assert timezone.get_current_timezone_name() == "UTC"


def test_language_code_comes_from_the_environment_and_an_unknown_one_is_refused():
    def settings_with(code):
        environment = {**os.environ, "LANGUAGE_CODE": code,
                       "DJANGO_SETTINGS_MODULE": "salesactions.settings"}
        return subprocess.run(
            [sys.executable, "-c",
             "from django.conf import settings; print(settings.LANGUAGE_CODE)"],
            cwd=ROOT, env=environment, capture_output=True, text=True)

    assert settings_with("pt-BR").stdout.strip() == "pt-br"
    refused = settings_with("de")
    assert refused.returncode == 2
    assert "LANGUAGE_CODE='de' is not one of its languages (en, fr, es, it, pt-br, zh-hans)" in (
        refused.stderr)


MOMENT = datetime(2026, 12, 6, 14, 5, 7, tzinfo=UTC)


@pytest.mark.parametrize(("language", "written"), [
    ("en", ["6 Dec 2026", "6 Dec 2026, 14:05", "Sunday 6 December 2026", "14:05",
            "6 Dec 2026, 14:05:07"]),
    ("fr", ["6 déc. 2026", "6 déc. 2026, 14:05", "dimanche 6 décembre 2026", "14:05",
            "6 déc. 2026, 14:05:07"]),
    ("es", ["6 dic 2026", "6 dic 2026, 14:05", "domingo, 6 de diciembre de 2026", "14:05",
            "6 dic 2026, 14:05:07"]),
    ("it", ["6 dic 2026", "6 dic 2026, 14:05", "domenica 6 dicembre 2026", "14:05",
            "6 dic 2026, 14:05:07"]),
    ("pt-br", ["6 dez 2026", "6 dez 2026, 14:05", "domingo, 6 de dezembro de 2026", "14:05",
               "6 dez 2026, 14:05:07"]),
    ("zh-hans", ["2026年12月6日", "2026年12月6日 14:05", "2026年12月6日 星期日", "14:05",
                 "2026年12月6日 14:05:07"]),
])
def test_the_five_shapes_in_each_language(language, written):
    template = engines["django"].from_string(
        "{{ m|day }}|{{ m|day_time }}|{{ m|weekday }}|{{ m|clock }}|{{ m|precise }}")
    with translation.override(language), timezone.override("UTC"):
        assert template.render({"m": MOMENT}).split("|") == written


@pytest.mark.parametrize(("language", "seconds", "written"), [
    ("en", 270, "4 min 30 s"), ("en", 7200, "2 h"), ("en", 90061, "1 d 1 h"),
    ("en", 0, "0 s"), ("fr", 270, "4\u00a0min 30\u00a0s"), ("zh-hans", 270, "4分钟30秒"),
    ("en", timedelta(minutes=3), "3 min"), ("en", None, ""),
])
def test_durations(language, seconds, written):
    with translation.override(language):
        assert engines["django"].from_string("{{ s|duration }}").render({"s": seconds}) == written


def test_a_date_input_keeps_iso_values_in_every_language():
    from django import forms

    class Due(forms.Form):
        due = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    for language in ("fr", "es", "it", "pt-br", "zh-hans"):
        with translation.override(language):
            assert 'value="2026-12-06"' in str(Due(initial={"due": date(2026, 12, 6)})["due"])
            assert Due({"due": "2026-12-06"}).is_valid()


def test_counts_use_the_languages_thousands_separator():
    template = engines["django"].from_string("{% load humanize %}{{ n|intcomma }}")
    with translation.override("fr"):
        assert template.render({"n": 12500}) == "12\xa0500"
    with translation.override("en"):
        assert template.render({"n": 12500}) == "12,500"


def test_a_cached_people_list_is_kept_per_language(rf, seller, settings):
    from people.list_cache import people_list_cached

    settings.PEOPLE_LIST_CACHE_SECONDS = 60
    request = rf.get("/people/")
    request.user = seller
    built = []

    def build():
        built.append(translation.get_language())
        return translation.get_language()

    for language in ("en", "fr", "en", "fr"):
        with translation.override(language):
            assert people_list_cached("page:test", request, build) == language
    assert built == ["en", "fr"]
