"""The app's own error pages (400, 403, 404, 500): in its layout, with the reason and a way
back, for pages, whatever DEBUG says (``make run`` is DEBUG). API answers stay JSON
(``salesactions/api.py``). The handlers in ``salesactions/urls.py`` serve them with DEBUG
off; ``ErrorPagesMiddleware`` does under DEBUG, where Django would show its URL list (404)
or its traceback page (500; the traceback goes to the log instead).
"""

from __future__ import annotations

import logging
import re

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults

from .api import api_error, is_api

log = logging.getLogger("django.request")

TITLES = {400: gettext_lazy("Bad request"), 403: gettext_lazy("Not allowed"),
          404: gettext_lazy("Page not found"), 500: gettext_lazy("Something went wrong")}
QUERY_MISS = re.compile(r"No (.+) matches the given query\.")
DEFAULT_REASONS = {
    400: gettext_lazy("The request could not be understood."),
    403: gettext_lazy("You do not have access to this page."),
    500: gettext_lazy("The app ran into an error and did not finish; it has been logged. Try "
                      "again, or tell an admin what you were doing."),
}


def _model_name(object_name: str) -> str:
    """A model's verbose name (translated) from the class name Django's message gives."""
    for model in apps.get_models():
        if model.__name__ == object_name:
            return str(model._meta.verbose_name)
    return object_name.lower()


def _reason(exception, status: int, path: str) -> str:
    """The exception's own message when it is one for a person (``PermissionDenied("Only
    admins can open this page.")``), else a plain default."""
    message = exception.args[0] if exception is not None and exception.args else None
    if isinstance(message, str) and (query := QUERY_MISS.fullmatch(message)):
        # get_object_or_404's "No Campaign matches the given query."
        return _("There is no such %(thing)s, or it is not yours to see.") % {
            "thing": _model_name(query.group(1))}
    if isinstance(message, str) and message.strip():
        return message
    if status == 404:
        return _("There is no page at %(path)s.") % {"path": path}
    return DEFAULT_REASONS[status]


def error_page(request, status: int, exception=None) -> HttpResponse:
    referer = request.headers.get("Referer", "")
    back = referer if referer and url_has_allowed_host_and_scheme(
        referer, {request.get_host()}, require_https=request.is_secure()) else ""
    context = {"status": status, "title": TITLES[status], "back": back,
               "reason": _reason(exception, status, request.path)}
    try:
        return render(request, "error.html", context, status=status)
    except Exception:  # noqa: BLE001 - the layout itself may be what fails (a 500)
        if status != 500:
            raise
        log.exception("The error page could not be rendered")
        return defaults.server_error(request)


def bad_request(request, exception):
    if is_api(request):
        return api_error(400, _("Bad request."))
    return error_page(request, 400, exception)


def permission_denied(request, exception):
    if is_api(request):
        return api_error(403, _("You do not have permission to perform this action."))
    return error_page(request, 403, exception)


def page_not_found(request, exception):
    if is_api(request):
        return api_error(404, _("Not found."))
    return error_page(request, 404, exception)


def server_error(request):
    if is_api(request):
        return api_error(500, _("A server error occurred."))
    return error_page(request, 500)


class ErrorPagesMiddleware:
    """Under DEBUG, pages get the app's error pages too, and the API its JSON (see the
    module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.DEBUG and not is_api(request):
            try:
                resolve(request.path_info)
            except Resolver404:
                return error_page(request, 404)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not settings.DEBUG or isinstance(exception, PermissionDenied):
            return None  # the handlers answer (a 403 is the app's page with DEBUG on too)
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        log.error("Internal Server Error: %s", request.path, exc_info=exception,
                  extra={"status_code": 500, "request": request})
        return server_error(request)
