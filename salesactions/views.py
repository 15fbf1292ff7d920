"""Project-level views: health check and the pages the navigation leads to."""

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import app as celery_app

log = logging.getLogger(__name__)


def _database_status() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _broker_status() -> str:
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=2)
    return "ok"


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """200 when the database and the Celery broker answer, 503 (with the reason) otherwise."""
    report = {}
    for name, check in (("database", _database_status), ("broker", _broker_status)):
        try:
            report[name] = check()
        except Exception as error:  # any failure is a health finding, not a crash
            # Anyone may ask (no login): name the failure, keep its text (hosts, users) in
            # the log.
            log.warning("healthz: %s does not answer: %s", name, error)
            report[name] = f"error: {type(error).__name__}"
    healthy = all(status == "ok" for status in report.values())
    report["status"] = "ok" if healthy else "unhealthy"
    return JsonResponse(report, status=200 if healthy else 503)
