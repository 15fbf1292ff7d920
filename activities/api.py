"""The calls API under ``/api/v1/calls/`` (SPEC section 10)."""

from __future__ import annotations

from django.db import DatabaseError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response

from people.models import Person
from salesactions.api import (
    MAX_ID,
    IdField,
    IdFilter,
    JsonTypesMixin,
    RecentDateTimeField,
    StrictFilterSet,
)
from salesactions.api_schema import AutoSchema
from syncing.models import Delivery

from .models import MAX_CALL_NOTES, Call, CallOutcome, CallReason
from .selectors import call_list_for_user
from .services import CallInput, InvalidCalls, calls_check, calls_log

#: Calls per POST when a list is sent (a dialer uploading its log).
MAX_CALLS_PER_REQUEST = 500


class OutcomeField(serializers.Field):
    """A call outcome by name (any case) or by id, as ``calls/outcomes/`` lists them; becomes
    the name (the services check it against the menu and the outcome mode)."""

    default_error_messages = {
        "invalid": gettext_lazy("Give an outcome's name or its id (see calls/outcomes/)."),
        # Translators: keep {id} as it is (the id the client sent).
        "no_such_id": gettext_lazy("No call outcome has id {id}; see calls/outcomes/."),
        "max_length": gettext_lazy("At most 80 characters."),
    }

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            outcome = CallOutcome.objects.filter(pk=data).first() if 1 <= data <= MAX_ID \
                else None
            if outcome is None:
                self.fail("no_such_id", id=data)
            return outcome.name
        if not isinstance(data, str):
            self.fail("invalid")
        if len(data) > 80:
            self.fail("max_length")
        return data

    def to_representation(self, value):
        return value


class OutcomeFieldSchema(OpenApiSerializerFieldExtension):
    """The outcome's choices in the schema, as the menu holds them when it is read."""

    target_class = OutcomeField

    def map_serializer_field(self, auto_schema, direction):
        try:
            outcomes = list(CallOutcome.objects.values_list("pk", "name"))
        except (DatabaseError, RuntimeError):
            # Generated with no database (offline; a test collecting operations, where
            # pytest-django refuses queries with a RuntimeError): the choices are left out.
            outcomes = []
        names = {"type": "string", "maxLength": 80,
                 "description": "An outcome's name (any case); empty for none."}
        if outcomes:
            names["enum"] = [name for _, name in outcomes] + [""]
        elif direction == "request":
            # No outcomes set up: any name would be refused, so only "none" is valid.
            names = {"type": "string", "maxLength": 0, "description": "No outcomes are set up."}
        choices = [names]
        if outcomes:
            choices.append({"type": "integer", "enum": [pk for pk, _ in outcomes],
                            "description": "An outcome's id."})
        return {"oneOf": choices} if len(choices) > 1 else names


class ReasonField(serializers.CharField):
    """A call reason by name; the services check it against the menu."""


class ReasonFieldSchema(OpenApiSerializerFieldExtension):
    """The reasons in the schema, as the menu holds them when it is read."""

    target_class = ReasonField

    def map_serializer_field(self, auto_schema, direction):
        try:
            names = list(CallReason.objects.values_list("name", flat=True))
        except (DatabaseError, RuntimeError):
            names = []  # no database (see OutcomeFieldSchema)
        if direction != "request":
            return {"type": "string", "maxLength": 80}
        if not names:
            return {"type": "string", "maxLength": 0, "description": "No reasons are set up."}
        return {"type": "string", "enum": [*names, ""]}


class CallInputSerializer(JsonTypesMixin, serializers.Serializer):
    person = IdField(help_text="The person's id (see people/).")
    outcome = OutcomeField(required=False,
                           help_text="One of the call outcomes an admin set up (calls/outcomes/"
                                     "), by name or id. Required or refused as Settings says.")
    reason = ReasonField(required=False, allow_blank=True, max_length=80,
                         help_text="One of the call reasons an admin set up (Settings → Calls), "
                                   "by name (any case); empty for none.")
    notes = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=True, max_length=MAX_CALL_NOTES,
        help_text=f"At most {MAX_CALL_NOTES:,} characters: what a Salesforce Task's "
                  "Description holds.")
    duration_seconds = serializers.IntegerField(required=False, min_value=0, max_value=86400,
                                                default=0)
    phone_number = serializers.CharField(
        required=False, allow_blank=True, max_length=40,
        help_text="Defaults to the person's phone number.")
    called_at = RecentDateTimeField(
        required=False, help_text="Defaults to now. From 2000-01-01T00:00:00Z to 5 minutes "
                                  "ahead of the server's clock.")


class CallFilterSet(StrictFilterSet):
    logged_by = IdFilter(field_name="logged_by_id",
                          help_text="The id of the user who logged the calls.")

    class Meta:
        model = Call
        fields: list[str] = []


class DeliveryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["target", "status", "skip_reason", "remote_id", "attempts",
                  "last_error_code", "last_error_message", "delivered_at"]


_DATETIME = serializers.DateTimeField()


def _datetime(value):
    return _DATETIME.to_representation(value) if value else None


class CallOutputSerializer(serializers.Serializer):
    """A call and its deliveries (Salesforce first). ``context["deliveries"]`` may hold them
    by call id; otherwise they are read from the call."""

    id = serializers.IntegerField()
    person = serializers.IntegerField(source="person_id")
    logged_by = serializers.CharField(source="logged_by.username")
    outcome = serializers.CharField()
    reason = serializers.CharField()
    status = serializers.CharField()
    notes = serializers.CharField()
    duration_seconds = serializers.IntegerField()
    phone_number = serializers.CharField()
    called_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    deliveries = DeliveryOutputSerializer(many=True)

    def to_representation(self, call) -> dict:
        # The fields above, written out: DRF's field-by-field path costs more than saving the
        # call does, and a dialer posts calls by the hundred.
        deliveries = self.context.get("deliveries", {}).get(call.pk)
        if deliveries is None:
            deliveries = call.deliveries.all()
        return {
            "id": call.pk, "person": call.person_id, "logged_by": call.logged_by.username,
            "outcome": call.outcome, "reason": call.reason, "status": call.status,
            "notes": call.notes, "duration_seconds": call.duration_seconds,
            "phone_number": call.phone_number, "called_at": _datetime(call.called_at),
            "created_at": _datetime(call.created_at),
            "deliveries": [{
                "target": d.target, "status": d.status, "skip_reason": d.skip_reason,
                "remote_id": d.remote_id, "attempts": d.attempts,
                "last_error_code": d.last_error_code, "last_error_message": d.last_error_message,
                "delivered_at": _datetime(d.delivered_at),
            } for d in sorted(deliveries, key=lambda d: d.target, reverse=True)],
        }


class _OneOrManySchema(AutoSchema):
    """POST takes one call or a list of 1 to 500, and answers in kind."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and self.method == "POST":
            for media in [operation["requestBody"]["content"]["application/json"],
                          operation["responses"]["201"]["content"]["application/json"]]:
                one = media["schema"]
                media["schema"] = {"oneOf": [one, {"type": "array", "items": one, "minItems": 1,
                                                   "maxItems": MAX_CALLS_PER_REQUEST}]}
        return operation


class CallListApi(GenericAPIView):
    """Calls, newest first: a seller sees the calls they logged, an admin everyone's
    (``?logged_by=`` narrows to one user's); and logging calls.

    POST one call as an object, or up to 500 as a list (all or nothing). Each call is
    delivered to Salesforce as a Task and to Marketo as a "Received Sales Call" activity; its
    ``deliveries`` show how far that got.
    """

    serializer_class = CallOutputSerializer
    filterset_class = CallFilterSet
    schema = _OneOrManySchema()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return Call.objects.none()
        return call_list_for_user(self.request.user)

    @extend_schema(responses=CallOutputSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(CallOutputSerializer(page, many=True).data)

    @extend_schema(request=CallInputSerializer, responses={201: CallOutputSerializer})
    def post(self, request):
        many = isinstance(request.data, list)
        items = request.data if many else [request.data]
        if many and not 1 <= len(items) <= MAX_CALLS_PER_REQUEST:
            return Response({"non_field_errors": [
                _("Send 1 to %(max)d calls per request.") % {"max": MAX_CALLS_PER_REQUEST}]},
                status=status.HTTP_400_BAD_REQUEST)
        serializer = CallInputSerializer(data=items, many=True)
        if not serializer.is_valid():
            errors = self._errors(items)
            return Response(errors if many else errors[0], status=status.HTTP_400_BAD_REQUEST)
        try:
            logged = calls_log(logged_by=request.user,
                               calls=self._inputs(serializer.validated_data))
        except InvalidCalls as invalid:
            return Response(invalid.errors if many else invalid.errors[0],
                            status=status.HTTP_400_BAD_REQUEST)
        # Written from what was just saved: no query to read it back.
        data = CallOutputSerializer(
            [entry.call for entry in logged], many=True,
            context={"deliveries": {entry.call.pk: entry.deliveries for entry in logged}}).data
        return Response(data if many else data[0], status=status.HTTP_201_CREATED)

    @staticmethod
    def _inputs(rows: list[dict]) -> list[CallInput]:
        people = Person.workspace.in_bulk({row["person"] for row in rows})
        return [CallInput(person=people.get(row["person"]), outcome=row.get("outcome", ""),
                          reason=row.get("reason", ""), notes=row.get("notes", ""),
                          duration_seconds=row["duration_seconds"],
                          phone_number=row.get("phone_number"), called_at=row.get("called_at"))
                for row in rows]

    def _errors(self, items: list) -> list[dict]:
        """Every bad call's errors at once: the wire format first, then the business rules
        for the calls whose format is right."""
        serializers_ = [CallInputSerializer(data=item) for item in items]
        errors = [{} if serializer.is_valid() else serializer.errors
                  for serializer in serializers_]
        valid = [index for index, problems in enumerate(errors) if not problems]
        checked = calls_check(self._inputs([serializers_[i].validated_data for i in valid]))
        for index, problems in zip(valid, checked, strict=True):
            errors[index] = problems
        return errors


class CallDetailApi(GenericAPIView):
    """One call with its deliveries: a seller's own (404 for another's), any for an admin."""

    serializer_class = CallOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return Call.objects.none()
        return call_list_for_user(self.request.user)

    def get(self, request, pk: int):
        return Response(CallOutputSerializer(get_object_or_404(self.get_queryset(), pk=pk)).data)


class CallOutcomeOutputSerializer(serializers.ModelSerializer):
    call_status = serializers.ChoiceField(
        choices=CallOutcome._meta.get_field("call_status").choices,
        help_text="How a call with this outcome ended (Marketo's Sales Call Status).")

    class Meta:
        model = CallOutcome
        fields = ["id", "name", "call_status", "position"]


class CallOutcomeListApi(ListAPIView):
    """The call outcomes sellers pick from, in menu order. A fresh install has the usual ones
    (connected, left voicemail, no answer, wrong number, busy, not interested, meeting
    booked); an admin edits them on Settings → Calls."""

    serializer_class = CallOutcomeOutputSerializer
    queryset = CallOutcome.objects.all()

    @extend_schema(summary="List call outcomes")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
