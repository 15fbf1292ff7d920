"""What every endpoint under ``/api/`` shares: errors answered as JSON in DRF's shape, ids and
filters bounded the way the schema says, JSON types and page numbers checked. The schema
documents the errors each operation can answer (``salesactions/api_schema.py``).

Errors are ``{"detail": "..."}``, or field errors ``{"field": ["..."]}`` for a 400 (a list of
those when a list was posted) — for 400, 401, 403, 404, 405, 413, 415, 429 and 500 alike. Pages
outside ``/api/`` get the app's own error pages (``salesactions/errors.py``).
"""

from __future__ import annotations

import logging

import django_filters
from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import pagination, serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

logger = logging.getLogger("django.request")

#: The largest id any table holds (a signed 64-bit primary key); larger ones are refused with
#: a field error instead of overflowing the database driver.
MAX_ID = 2**63 - 1


def is_api(request) -> bool:
    return request.path_info.startswith("/api/")


# --------------------------------------------------------------------------- error answers


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self):
        super().__init__(_("The request body is larger than the limit of %(size)s bytes.")
                         % {"size": settings.DATA_UPLOAD_MAX_MEMORY_SIZE})


def api_exception_handler(exc, context):
    """DRF's handler, plus a JSON 413 for an oversized body and a JSON 500 (logged with its
    traceback) for anything unexpected, instead of Django's HTML pages."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    response = exception_handler(exc, context)
    request = context["request"]
    if response is None:
        logger.error("Internal Server Error: %s", request.path, exc_info=exc,
                     extra={"status_code": 500, "request": request._request})
        set_rollback()
        response = Response({"detail": _("A server error occurred.")},
                            status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    # The schema (YAML) and docs (HTML template) views answer errors as plain JSON too; the
    # browsable API keeps its page for a person in a browser.
    renderer = getattr(request, "accepted_renderer", None)
    if not (isinstance(renderer, BrowsableAPIRenderer)
            or getattr(renderer, "media_type", "") == "application/json"):
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


def api_error(status_code: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status_code)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Any path under /api/ that no endpoint matches (whatever DEBUG says). CSRF-exempt: a
    write with a session cookie to no endpoint changes nothing, and must get this JSON 404
    rather than the CSRF failure's HTML page."""
    return api_error(404, _("Not found."))


class ApiBodySizeMiddleware:
    """A body larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` sent to /api/ is answered 413 before
    anything reads it (a form body would otherwise fail as an HTML 400, a JSON one not at all)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api(request):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                return api_error(413, PayloadTooLarge().detail)
        return self.get_response(request)


# --------------------------------------------------------------------------- input




_JSON_TYPES = [  # the first match wins: BooleanField and ChoiceField are checked before the rest
    (serializers.BooleanField, (bool,), gettext_lazy("Must be true or false.")),
    ((serializers.IntegerField, serializers.PrimaryKeyRelatedField), (int,),
     gettext_lazy("Must be a whole number.")),
    ((serializers.FloatField, serializers.DecimalField), (int, float),
     gettext_lazy("Must be a number.")),
    ((serializers.CharField, serializers.ChoiceField, serializers.DateTimeField,
      serializers.DateField, serializers.TimeField, serializers.DurationField,
      serializers.UUIDField), (str,), gettext_lazy("Must be a string.")),
    ((serializers.ListField, serializers.ListSerializer, serializers.ManyRelatedField), (list,),
     gettext_lazy("Must be a list.")),
    ((serializers.DictField, serializers.Serializer), (dict,), gettext_lazy("Must be an object.")),
]


def _type_error(field, must_be) -> str:
    """DRF's own message where it has a plain one ("A valid integer is required.")."""
    message = str(field.error_messages.get("invalid", ""))
    return message if message and "{" not in message else str(must_be)


class JsonTypesMixin:
    """Serializer mixin: each JSON value must have the type the schema gives its field. DRF
    itself takes "yes" for true, "10" and 10.0 for 10 and 7 for "7"; the schema does not."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {}
            for name, field in self.fields.items():
                value = data.get(name)
                if field.read_only or value is None:
                    continue
                for kind, types, must_be in _JSON_TYPES:
                    if isinstance(field, kind):
                        if not isinstance(value, types) or (
                                isinstance(value, bool) and bool not in types):
                            errors[name] = [_type_error(field, must_be)]
                        break
            if errors:
                raise ValidationError(errors)
        return super().to_internal_value(data)


def whole_number(text: str) -> int | None:
    """``text`` as a whole number written in ASCII digits (no sign, spaces or "1.0"), or None."""
    return int(text) if text.isascii() and text.isdigit() else None


@extend_schema_field({"type": "string", "format": "date-time", "pattern": "^2[0-9]{3}-"})
class RecentDateTimeField(serializers.DateTimeField):
    """A moment from the year 2000 on, as the schema says it (calls, provider events: older
    ones are typos); the services bound it in time (no later than the clock allows)."""


class IdField(serializers.IntegerField):
    """An id in a request body: a whole number from 1 to ``MAX_ID``."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


class _WholeNumberField(forms.IntegerField):
    """Digits only: "1.0", "1e3", " 7" and "٣" are not ids (Django's own field takes them)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        number = whole_number(str(value))
        if number is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class IdFilter(django_filters.NumberFilter):
    """A query parameter holding an id, bounded like ``IdField`` (the schema says so too)."""

    field_class = _WholeNumberField

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


class StrictFilterSet(django_filters.FilterSet):
    """A parameter that is given must hold a value: ``?kind=`` is an error, not "no filter",
    for every filter but text ones (an empty string is text)."""

    def is_valid(self) -> bool:
        for field in self.form.fields.values():
            # Lengths are checked on the text as sent (the schema's maxLength), not stripped.
            if isinstance(field, forms.CharField):
                field.strip = False
        valid = super().is_valid()
        for name, filter_ in self.filters.items():
            if (name in self.data and self.data.get(name) == ""
                    and not isinstance(filter_, django_filters.CharFilter)):
                self.form.add_error(name, _("Give a value, or leave the parameter out."))
                valid = False
        return valid


class FilterBackend(DjangoFilterBackend):
    filterset_base = StrictFilterSet


#: Items per page unless ``?page_size=`` says otherwise, and the most a page holds: a larger
#: ``page_size`` is clamped to it (not refused), so a script can ask for "as many as you give".
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def page_size_from(request, default: int = PAGE_SIZE, maximum: int = MAX_PAGE_SIZE,
                   param: str = "page_size") -> int:
    """``?page_size=`` as a whole number from 1 (400 otherwise), clamped to ``maximum``."""
    text = request.query_params.get(param)
    if text is None:
        return default
    size = whole_number(text) or 0
    if size < 1:
        raise ValidationError({param: [
            _("A whole number from 1 (at most %(maximum)s are returned).") % {"maximum": maximum}]})
    return min(size, maximum)


def page_size_parameter(default: int = PAGE_SIZE, maximum: int = MAX_PAGE_SIZE,
                        noun: str = "Items") -> dict:
    return {"name": "page_size", "in": "query", "required": False,
            "description": f"{noun} per page (default {default}); above {maximum} is "
                           f"clamped to {maximum}.",
            "schema": {"type": "integer", "minimum": 1}}


#: What every list answer says about its total (README "API rules").
COUNT_SCHEMA = {
    "count": {"type": "integer", "minimum": 0, "example": 123,
              "description": "How many items the list holds (all pages): exact when "
                             "count_exact is true, otherwise an estimate."},
    "count_exact": {"type": "boolean", "example": True,
                    "description": "false when count is an estimate (very long lists)."},
}


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF's page numbers, with ``page`` checked: a whole number from 1 (400 otherwise); a page
    past the last is 404. ``page_size`` above :data:`MAX_PAGE_SIZE` is clamped to it. The
    answer carries the exact ``count`` (``count_exact`` is always true here).

    Every list endpoint shares it (``DEFAULT_PAGINATION_CLASS``); a list that cannot count
    exactly at scale pages by cursor and says ``count_exact: false`` (``people/api.py``)."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        return page_size_from(request, self.page_size, self.max_page_size,
                              self.page_size_query_param)

    def paginate_queryset(self, queryset, request, view=None):
        page = request.query_params.get(self.page_query_param)
        if page is not None and not (whole_number(page) or 0) >= 1:
            raise ValidationError({self.page_query_param: [_("A whole number from 1.")]})
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        return Response({
            "count": self.page.paginator.count, "count_exact": True,
            "next": self.get_next_link(), "previous": self.get_previous_link(),
            "results": data,
        })

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"] = {**COUNT_SCHEMA, **response["properties"]}
        response["properties"]["count"] = COUNT_SCHEMA["count"]
        response["required"] = ["count", "count_exact", "results"]
        return response

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = "A page number, from 1; past the last page: 404."
            if parameter["name"] == self.page_size_query_param:
                parameter.update(page_size_parameter(self.page_size, self.max_page_size))
        return parameters
