"""The fast path for the open pixel and the click redirect, in front of Django.

``salesactions/wsgi.py`` wraps the Django application with ``tracking_fast_path``. A ``GET``
or ``HEAD`` of ``/e/o/<token>.gif`` or ``/e/c/<token>/`` is answered here with the same
``open_answer`` / ``click_answer`` the Django views use — an HMAC check and one Redis
``RPUSH`` — without Django's middleware, URL resolver or request/response objects. Anything
else (and these paths when Redis is not configured: then each hit writes the database, which
the Django view does inside the normal request cycle) goes to Django unchanged.

The switches are read from the database every few seconds; this path runs outside Django's
request cycle, so it does what that cycle does for database connections
(``close_old_connections``) before such a read.
"""

from __future__ import annotations

from django.db import close_old_connections

from .tracking_buffer import redis_url
from .tracking_views import Answer, click_answer, open_answer, switches

_REASONS = {200: "200 OK", 302: "302 Found", 404: "404 Not Found"}


def _answer_for(path: str) -> Answer | None:
    if path.startswith("/e/o/") and path.endswith(".gif"):
        token = path[5:-4]
        if token and "/" not in token:
            return open_answer(token)
    elif path.startswith("/e/c/") and path.endswith("/"):
        token = path[5:-1]
        if token and "/" not in token:
            return click_answer(token)
    return None


def tracking_fast_path(django_application):
    """Wrap a WSGI application so that pixel and click hits skip Django (see above)."""

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        if path.startswith("/e/") and method in ("GET", "HEAD") and redis_url():
            if switches.stale():
                close_old_connections()
            answer = _answer_for(path)
            if answer is not None:
                start_response(_REASONS.get(answer.status, str(answer.status)),
                               list(answer.headers))
                return [b"" if method == "HEAD" else answer.body]
        return django_application(environ, start_response)

    return application
