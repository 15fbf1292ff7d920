"""The Sync health page at 1280 px in a real browser (headless Chromium via Playwright): with a
failing stream's long error on it, every 24-hour chart stays on screen, inside the table's box
(issue 24, defect 12)."""

import os
from datetime import timedelta

import pytest
from browser_helpers import PASSWORD, log_in, shot
from django.utils import timezone
from factories import AdminFactory
from playwright.sync_api import expect

from syncing.models import MarketoConnection, SyncRun, SyncStream

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_passwords")]

ERROR = ("gave up after 5 attempts: identity endpoint unreachable: HTTPConnectionPool(host="
         "'123-ABC-456.mktorest.com', port=443): Max retries exceeded with url: /identity/oauth"
         "/token?grant_type=client_credentials (Caused by NewConnectionError('<urllib3.connection"
         ".HTTPSConnection object at 0x7f4b8edac450>: Failed to establish a new connection'))")


def test_every_chart_fits_at_1280_px(browser, live_server):
    AdminFactory(username="ada", password=PASSWORD)
    MarketoConnection(base_url="http://127.0.0.1:9", client_id="id", client_secret="s").save()
    now = timezone.now()
    SyncRun.objects.create(kind=SyncRun.Kind.INITIAL, status=SyncRun.Status.SUCCEEDED,
                           started_at=now - timedelta(days=1, hours=1),
                           finished_at=now - timedelta(days=1), people_written=2000)
    SyncStream.objects.create(name=SyncStream.Name.PEOPLE, status=SyncStream.Status.FAILING,
                              last_error=ERROR, consecutive_failures=4,
                              last_success_at=now - timedelta(hours=3),
                              caught_up_to=now - timedelta(hours=3))
    for hours in range(3):
        SyncRun.objects.create(kind=SyncRun.Kind.INCREMENTAL, status=SyncRun.Status.FAILED,
                               started_at=now - timedelta(hours=hours, seconds=5),
                               finished_at=now - timedelta(hours=hours), error=ERROR)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        log_in(page, live_server.url, "ada", start="/settings/health/")
        expect(page.locator("[data-stream=people_incremental]")).to_contain_text("failing")
        box, charts, page_width = page.evaluate("""() => {
            const box = document.querySelector('.health-table').parentElement;
            const charts = [...document.querySelectorAll('.health-chart')]
                .map(chart => chart.getBoundingClientRect().right);
            return [{right: box.getBoundingClientRect().right, client: box.clientWidth,
                     scroll: box.scrollWidth}, charts,
                    document.documentElement.scrollWidth];
        }""")
        shot(page, "health-1280")
    finally:
        page.close()
    assert page_width <= 1280
    assert box["scroll"] <= box["client"], "the table scrolls sideways inside its box"
    assert charts and max(charts) <= box["right"]
