import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker_without_login(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "status": "ok"}


def test_healthz_says_which_part_is_down(client, settings):
    from salesactions.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://:s3cret-pass@127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error:")
    assert body["status"] == "unhealthy"
    # No login is needed, so nothing of the configuration shows: no password, no address.
    assert "s3cret" not in response.content.decode()
    assert "127.0.0.1" not in response.content.decode()


def test_static_assets_are_served_locally(admin_client):
    page = admin_client.get("/settings/").content.decode()
    assert "/static/vendor/pico/pico.min.css" in page
    assert "https://" not in page.split("<body")[0]  # no CDN in <head>


def test_api_docs_need_login_and_load_without_a_cdn(admin_client):
    assert Client().get("/api/schema/").status_code in (401, 403)
    schema = admin_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/sync/settings/" in schema.content
    docs = admin_client.get("/api/docs/").content.decode()
    assert "cdn." not in docs and "unpkg" not in docs
