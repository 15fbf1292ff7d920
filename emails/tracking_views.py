"""The links inside a sales email, answered without a login: the open pixel ``/e/o/<token>.gif``,
the click redirect ``/e/c/<token>/`` and the unsubscribe link ``/e/u/<token>/``.

Tokens are signed (``emails/tokens.py``: an HMAC per purpose, checked without the database).
A token that is tampered with, unsigned, or made for another purpose answers 404 with no
``Location``: the redirect only ever goes to a URL the app itself signed, so it is never an
open redirect. A click goes to exactly the URL the seller wrote (only http and https; a
non-ASCII character is percent-encoded, as a ``Location`` header requires).

Speed: pixel and redirect are answered by ``open_answer`` / ``click_answer``, which only check
the signature and hand the hit to ``tracking_buffer.hit_record`` (a Redis ``RPUSH`` when Redis
is configured, else a direct database write). In production ``salesactions/wsgi.py`` puts
``emails.tracking_wsgi`` in front of Django, which serves these two paths with those same
functions and never enters Django's middleware or URL resolver; the Django views below serve
them under ``runserver`` and the test client.

Admin switches (Settings: ``email_open_tracking``, ``email_click_tracking``): when one is off,
the pixel still answers its GIF and a valid click still redirects (links in mail already sent
keep working), but nothing is recorded. Switches are read at most every
``EMAIL_TRACKING_SWITCH_SECONDS`` (5 s) per process: a change applies within that time.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models.signals import post_save
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.encoding import iri_to_uri
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from syncing.models import SyncSettings
from syncing.settings.selectors import sync_settings_get
from unsubscribes.selectors import is_suppressed

from .events import unsubscribe_by_link
from .models import SalesEmail
from .tokens import BadToken, read_click_token, read_email_token
from .tracking_buffer import hit_record
from .tracking_hits import Hit, now_us

log = logging.getLogger(__name__)

#: A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = (("Cache-Control", "no-store, no-cache, must-revalidate, private, max-age=0"),
            ("Pragma", "no-cache"), ("Expires", "0"))
NOT_VALID = b"This link is not valid.\n"


@dataclass(frozen=True)
class Answer:
    """A response, framework-free: the fast WSGI path and the Django views both send it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""


NOT_FOUND = Answer(404, (("Content-Type", "text/plain; charset=utf-8"), *NO_CACHE), NOT_VALID)


# --------------------------------------------------------------------------- switches


class _Switches:
    """The two tracking switches, read from the database at most every few seconds."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values: tuple[bool, bool] | None = None
        self._read_at = 0.0

    def stale(self) -> bool:
        """The next ``get`` reads the database."""
        ttl = getattr(settings, "EMAIL_TRACKING_SWITCH_SECONDS", 5.0)
        return self._values is None or time.monotonic() - self._read_at >= ttl

    def get(self) -> tuple[bool, bool]:
        values = self._values
        if self.stale():
            now = time.monotonic()
            sync_settings = sync_settings_get()
            values = (bool(getattr(sync_settings, "email_open_tracking", True)),
                      bool(getattr(sync_settings, "email_click_tracking", True)))
            with self._lock:
                self._values, self._read_at = values, now
        return values

    def forget(self, **kwargs) -> None:
        with self._lock:
            self._values = None


switches = _Switches()
# This process applies a change at once; the others within the interval.
post_save.connect(switches.forget, sender=SyncSettings, weak=False,
                  dispatch_uid="emails.tracking_switches")


def _record(hit: Hit) -> None:
    try:
        hit_record(hit)
    except Exception:  # the recipient still gets the image or the link
        log.exception("could not record an email %s (email %s)", hit.kind, hit.email_id)


# --------------------------------------------------------------------------- answers


def open_answer(token: str) -> Answer:
    """The pixel: record an open (when open tracking is on) and answer the GIF."""
    try:
        email_id = read_email_token(token, "open")
    except BadToken:
        return NOT_FOUND
    if switches.get()[0]:
        _record(Hit("opened", email_id, now_us()))
    return Answer(200, (("Content-Type", "image/gif"), ("Content-Length", str(len(PIXEL))),
                        *NO_CACHE), PIXEL)


def location(url: str) -> str | None:
    """The ``Location`` for a signed URL: the URL as written (non-ASCII percent-encoded), or
    None when it is not an absolute http(s) URL or holds control characters."""
    if not url or any(ord(char) < 32 or ord(char) == 127 for char in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return iri_to_uri(url)


def click_answer(token: str) -> Answer:
    """The redirect: record a click (when click tracking is on) and answer 302 to the URL."""
    try:
        email_id, url = read_click_token(token)
    except BadToken:
        return NOT_FOUND
    target = location(url)
    if target is None:
        return NOT_FOUND
    if switches.get()[1]:
        _record(Hit("clicked", email_id, now_us(), url))
    return Answer(302, (("Location", target), ("Content-Length", "0"), *NO_CACHE))


def _django(answer: Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        response[name] = value
    return response


@login_not_required
@require_safe
def open_pixel(request, token: str):
    return _django(open_answer(token))


@login_not_required
@require_safe
def click(request, token: str):
    return _django(click_answer(token))


# --------------------------------------------------------------------------- unsubscribe


def _email_for(token: str) -> SalesEmail | None:
    try:
        email_id = read_email_token(token, "unsubscribe")
    except BadToken:
        return None
    return SalesEmail.objects.select_related("person").filter(pk=email_id).first()


# The token is the proof (no login, no cookie, no CSRF token: a mail provider's one-click POST
# carries none), and this is the only view exempt from CSRF.
@csrf_exempt
@login_not_required
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token: str):
    """GET: the confirmation page (which address, one button). POST: unsubscribe at once —
    the button, or RFC 8058 one-click (body ``List-Unsubscribe=One-Click``), which gets a
    plain 200 (no redirect)."""
    email = _email_for(token)
    if email is None:
        return render(request, "emails/unsubscribe_invalid.html", status=404)
    address = email.to_email or email.person.email
    if request.method == "POST":
        unsubscribe_by_link(email)
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse(_("Unsubscribed %(address)s.") % {"address": address} + "\n",
                                content_type="text/plain; charset=utf-8")
        return render(request, "emails/unsubscribe.html",
                      {"address": address, "done": True, "token": token})
    return render(request, "emails/unsubscribe.html",
                  {"address": address, "done": is_suppressed(address),
                   "token": token})
