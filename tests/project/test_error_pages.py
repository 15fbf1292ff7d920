"""The app's own error pages (issue 24, defects 10 and 11): 403, 404 and 500 in the app's
layout with the reason and a way back, with DEBUG on (``make run``) as with it off; API
answers stay JSON; one log line per 403; a favicon."""

import logging

import pytest
from django.test import Client
from factories import UserFactory

pytestmark = pytest.mark.django_db

LAYOUT = 'class="app-header"'


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_a_403_is_the_apps_page_with_the_reason(seller_client, debug):
    response = seller_client.get("/settings/")
    html = response.content.decode()
    assert response.status_code == 403
    assert LAYOUT in html and "<h1" in html and "Not allowed" in html
    assert "Only admins can open this page." in html
    assert 'href="/"' in html  # a way back


def test_a_403_is_one_log_line(seller_client, seller, caplog):
    with caplog.at_level(logging.INFO, logger="django.request"):
        seller_client.get("/settings/")
    records = [record for record in caplog.records if record.name == "django.request"]
    assert len(records) == 1
    assert records[0].exc_info is None and not records[0].exc_text
    assert records[0].getMessage() == (f"Forbidden (Only admins can open this page.) for "
                                       f"{seller.username}: /settings/")


def test_an_unknown_page_is_the_apps_404(seller_client, debug):
    response = seller_client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert LAYOUT in html and "Page not found" in html
    assert "There is no page at /no-such-page/." in html
    assert "URLconf" not in html and "urlpatterns" not in html


def test_a_missing_record_is_the_apps_404(seller_client, debug):
    response = seller_client.get("/campaigns/987654/")
    html = response.content.decode()
    assert response.status_code == 404
    assert LAYOUT in html
    assert "There is no such campaign, or it is not yours to see." in html


def test_an_anonymous_404_offers_the_login(client, debug):
    html = client.get("/no-such-page/").content.decode()
    assert 'href="/login/"' in html and "There is no page at /no-such-page/." in html


def test_the_api_still_answers_json(seller_client, debug):
    response = seller_client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    response = seller_client.get("/api/v1/sync/settings/")
    assert response.status_code == 403 and "detail" in response.json()


def test_a_500_is_the_apps_page(settings, seller, debug, caplog):
    settings.ROOT_URLCONF = "error_urls"
    client = Client(raise_request_exception=False)
    client.force_login(seller)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/broken/")
    html = response.content.decode()
    assert response.status_code == 500
    assert LAYOUT in html and "Something went wrong" in html and "has been logged" in html
    assert "the test's broken page" not in html and "Traceback" not in html
    assert any(record.exc_info for record in caplog.records)  # the traceback is in the log
    api = client.get("/api/v1/broken/")
    assert api.status_code == 500 and api.json() == {"detail": "A server error occurred."}


def test_the_favicon(client, seller_client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/x-icon"
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"
    page = seller_client.get("/people/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in page
    assert client.get("/static/favicon.svg").status_code == 200


def test_another_sellers_403_names_them(client):
    seller = UserFactory(username="sam")
    client.force_login(seller)
    html = client.get("/diagnostics/").content.decode()
    assert "You are logged in as sam" in html
