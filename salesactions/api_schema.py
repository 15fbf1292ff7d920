"""The OpenAPI schema's additions to drf-spectacular: the errors each operation can answer (in
the shapes ``salesactions/api.py`` gives them) and the bounds the query filters enforce.

A module of its own: DRF imports it lazily (``DEFAULT_SCHEMA_CLASS``), and drf-spectacular
imports DRF's generic views, which read the settings that name ``salesactions.api``."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from .api import IdFilter, PageNumberPagination

_ERROR = ResolvedComponent(
    name="Error", type=ResolvedComponent.SCHEMA, object="Error",
    schema={"type": "object", "properties": {"detail": {"type": "string"}},
            "required": ["detail"]})
_FIELD_ERRORS = ResolvedComponent(
    name="FieldErrors", type=ResolvedComponent.SCHEMA, object="FieldErrors",
    schema={"description": "Each bad field (or non_field_errors) with its messages, or "
                           "detail when the request as a whole is bad; a list of those when "
                           "a list was posted.",
            "anyOf": [{"type": "object", "additionalProperties": {}},
                      {"type": "array", "items": {"type": "object",
                                                  "additionalProperties": {}}}]})
_DESCRIPTIONS = {
    "400": "A parameter or the body is not valid: field errors.",
    "401": "No valid credentials.",
    "403": "Not allowed for this user (or the session's CSRF token is missing).",
    "404": "No such object, or not one of yours.",
    "413": "The body is too large.",
    "415": "The body's content type is not supported.",
    "429": "Too many requests for this user; the Retry-After header says when to try again.",
}


#: A text parameter may hold anything but NUL.
NO_NUL = "^[^\\x00]*$"
#: Text a body field requires: not blank once trimmed (DRF trims what ``str.strip`` does, the
#: whitespace Python's ``\\s`` matches), and no NUL (DRF refuses it).
NON_BLANK_TEXT = "^[^\\x00]*[^\\x00\\s][^\\x00]*$"
#: The non-empty side of a field that may also be blank (drf-spectacular then adds the empty
#: string as the other branch of a ``oneOf``, so the two must not overlap).
SOME_TEXT = "^[^\\x00]+$"


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the errors each operation can answer (in the shapes
    above) and the bounds (length, range) the query filters enforce."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            self._document_errors(operation)
        return operation

    def _document_errors(self, operation: dict) -> None:
        located = {parameter["in"] for parameter in operation.get("parameters", [])}
        body = "requestBody" in operation
        codes = []
        if body or "query" in located:
            codes.append("400")
        if not all(issubclass(p, AllowAny) for p in self.view.permission_classes):
            codes += ["401", "403"]
        if "path" in located or (self.method == "GET"
                                 and isinstance(self._get_paginator(), PageNumberPagination)):
            codes.append("404")
        if body:
            codes += ["413", "415"]
        if getattr(self.view, "throttle_classes", None):
            codes.append("429")
        self.registry.register_on_missing(_ERROR)
        self.registry.register_on_missing(_FIELD_ERRORS)
        responses = operation["responses"]
        for code in codes:
            response = responses.setdefault(code, {"description": _DESCRIPTIONS[code]})
            if "content" not in response:
                schema = (_FIELD_ERRORS if code == "400" else _ERROR).ref
                response["content"] = {"application/json": {"schema": schema}}

    def _get_request_body(self, direction="request"):
        # drf-spectacular documents bodies of PUT, PATCH and POST only; a DELETE that needs one
        # (an unsubscribe's removal reason) says so with ``delete_takes_body = True``.
        if self.method == "DELETE" and getattr(self.view, "delete_takes_body", False):
            self.method = "POST"
            try:
                return super()._get_request_body(direction)
            finally:
                self.method = "DELETE"
        body = super()._get_request_body(direction)
        if body is not None and getattr(self.get_request_serializer(), "schema_request_rules",
                                        None):
            # Its fields are each optional, but the rules need some: no body is no request.
            body["required"] = True
        return body

    def _map_basic_serializer(self, serializer, direction):
        # Rules over several fields that JSON Schema can state (``oneOf`` of required sets):
        # a serializer declares them as ``schema_request_rules``.
        schema = super()._map_basic_serializer(serializer, direction)
        rules = getattr(serializer, "schema_request_rules", None)
        if rules and direction == "request":
            schema.update(rules)
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (direction == "request" and isinstance(field, serializers.CharField)
                and not any(isinstance(v, RegexValidator) for v in field.validators)
                and not OpenApiSerializerFieldExtension.get_match(field)
                and schema.get("type") == "string"
                and not {"format", "enum", "pattern"} & schema.keys()):
            # What DRF's CharField refuses, said in the schema: NUL always, blank unless allowed.
            schema["pattern"] = SOME_TEXT if field.allow_blank else NON_BLANK_TEXT
        return schema

    def _get_filter_parameters(self):
        parameters = super()._get_filter_parameters()
        filters = self._filters()
        for parameter in parameters:
            filter_ = filters.get(parameter["name"])
            if filter_ is None:
                continue
            schema, extra = parameter["schema"], filter_.extra
            if isinstance(filter_, IdFilter):
                schema.update(type="integer", format="int64")
            if schema.get("type") == "string" and "enum" not in schema:
                # Django's form fields refuse NUL in text (PostgreSQL text cannot hold it).
                schema["pattern"] = NO_NUL
            for key, bound in (("max_length", "maxLength"), ("min_value", "minimum"),
                               ("max_value", "maximum")):
                if extra.get(key) is not None:
                    schema[bound] = extra[key]
        return parameters

    def _filters(self) -> dict:
        for backend in self.get_filter_backends():
            if isinstance(backend(), DjangoFilterBackend):
                filterset = backend().get_filterset_class(self.view, self.view.get_queryset())
                if filterset is not None:
                    return filterset.base_filters
        return {}
