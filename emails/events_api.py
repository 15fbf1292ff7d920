"""``POST /api/v1/emails/events/``: provider events (SPEC section 10), in anymail's normalized
vocabulary, for a provider or tool that is not wired through anymail's own webhooks.

Who may post: an admin (token or session), or a provider holding the events token — the
header ``X-Email-Events-Token: <EMAIL_EVENTS_TOKEN>`` (setting/env ``EMAIL_EVENTS_TOKEN``;
unset: only admins). Sellers get 403.

The body is a JSON list of events, each matched by ``message_id`` (the sent email's
Message-ID, with or without the angle brackets). The answer is 200 with one result per event
in the order posted: ``recorded``, ``duplicate`` (already recorded: a retried post changes
nothing) or ``unknown_message_id`` (no sales email has that Message-ID; nothing is done). A
body that is not valid is a 400 with field errors for each event, and nothing is recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import authentication, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from salesactions.api import JsonTypesMixin, RecentDateTimeField
from salesactions.api_schema import AutoSchema

from .events import EventIn, emails_by_message_id, events_apply
from .models import EmailEvent

HEADER = "X-Email-Events-Token"
MAX_EVENTS = 1000
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
#: Provider clocks may run a little ahead of ours.
AHEAD = timedelta(hours=1)
Kind = EmailEvent.Kind
#: anymail's normalized event types accepted here, and the event each one records.
EVENT_TYPES = {"delivered": Kind.DELIVERED, "bounced": Kind.BOUNCED, "opened": Kind.OPENED,
               "clicked": Kind.CLICKED, "complained": Kind.COMPLAINED, "inbound": Kind.REPLIED}


class EventsTokenAuthentication(authentication.BaseAuthentication):
    """A provider's token in ``X-Email-Events-Token`` (compared in constant time). A request
    that sends the header with a wrong token is refused (401) whatever else it carries."""

    def authenticate_header(self, request):
        return "Token"  # as DRF's TokenAuthentication: the scheme a 401 names

    def authenticate(self, request):
        given = request.headers.get(HEADER)
        if given is None:
            return None
        expected = getattr(settings, "EMAIL_EVENTS_TOKEN", "")
        if not expected or not constant_time_compare(given, expected):
            from rest_framework.exceptions import AuthenticationFailed

            raise AuthenticationFailed(_("The email events token is not valid."))
        return AnonymousUser(), "email-events-token"


class EventsTokenScheme(OpenApiAuthenticationExtension):
    target_class = EventsTokenAuthentication
    name = "emailEventsToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": HEADER}


class AdminOrEventsToken(permissions.BasePermission):
    message = gettext_lazy("Only an admin or the email provider (events token) may post email "
                           "events.")

    def has_permission(self, request, view):
        if request.auth == "email-events-token":
            return True
        return bool(request.user and request.user.is_authenticated
                    and getattr(request.user, "is_admin", False))


class ProviderEventInput(JsonTypesMixin, serializers.Serializer):
    event_type = serializers.ChoiceField(
        choices=list(EVENT_TYPES),
        help_text="anymail's normalized type; inbound is a reply to the email.")
    message_id = serializers.CharField(max_length=998,
                                       help_text="The sent email's Message-ID (<> optional).")
    recipient = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    timestamp = RecentDateTimeField(
        required=False, help_text="When it happened; defaults to now. From "
                                  "2000-01-01T00:00:00Z to an hour ahead of the server's clock.")
    click_url = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                      help_text="clicked: the link.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                        help_text="bounced, complained: the details.")

    def validate_timestamp(self, value):
        if value < EARLIEST or value > timezone.now() + AHEAD:
            raise serializers.ValidationError(
                _("From 2000-01-01T00:00:00Z to an hour ahead of the server's clock."))
        return value


class EventResult(serializers.Serializer):
    message_id = serializers.CharField()
    event_type = serializers.CharField()
    result = serializers.ChoiceField(choices=["recorded", "duplicate", "unknown_message_id"])


class EventsOutput(serializers.Serializer):
    recorded = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    unknown = serializers.IntegerField()
    results = EventResult(many=True)


def provider_events_apply(items: list[dict]) -> dict:
    """Apply validated events; the answer's body (see the module docstring)."""
    emails = emails_by_message_id({item["message_id"] for item in items})
    now = timezone.now()
    events: list[EventIn | None] = []
    for item in items:
        email = emails.get(item["message_id"])
        if email is None:
            events.append(None)
            continue
        kind = EVENT_TYPES[item["event_type"]]
        detail = item.get("description", "")
        if kind == Kind.REPLIED and not detail:
            detail = f"Reply from {item.get('recipient') or email.to_email}"
        events.append(EventIn(email=email, kind=kind, at=item.get("timestamp") or now,
                              source=EmailEvent.Source.PROVIDER,
                              url=item.get("click_url", "") if kind == Kind.CLICKED else "",
                              detail=detail))
    events_apply([event for event in events if event is not None])
    results = []
    for item, event in zip(items, events, strict=True):
        result = ("unknown_message_id" if event is None
                  else "recorded" if event.recorded else "duplicate")
        results.append({"message_id": item["message_id"], "event_type": item["event_type"],
                        "result": result})
    counts = {name: sum(1 for r in results if r["result"] == name)
              for name in ("recorded", "duplicate", "unknown_message_id")}
    return {"recorded": counts["recorded"], "duplicates": counts["duplicate"],
            "unknown": counts["unknown_message_id"], "results": results}


# One event: drf-spectacular makes the example of a list body a list of it.
EXAMPLE_IN = {"event_type": "bounced", "message_id": "<3f2a9c@mail.example.com>",
              "recipient": "olivia.smith318@example.com", "timestamp": "2026-12-05T10:00:00Z",
              "description": "550 5.1.1 The email account does not exist."}
EXAMPLE_OUT = {"recorded": 1, "duplicates": 0, "unknown": 0,
               "results": [{"message_id": "<3f2a9c@mail.example.com>",
                            "event_type": "bounced", "result": "recorded"}]}


class _EventsSchema(AutoSchema):
    """The body is a list of 1 to ``MAX_EVENTS`` events."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and self.method == "POST":
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            body.update(minItems=1, maxItems=MAX_EVENTS)
        return operation


class EmailEventsApi(APIView):
    """Provider events for sent sales email (admins, or the provider's events token)."""

    schema = _EventsSchema()

    authentication_classes = [EventsTokenAuthentication,
                              *APIView.settings.DEFAULT_AUTHENTICATION_CLASSES]
    permission_classes = [AdminOrEventsToken]

    @extend_schema(
        summary="Post provider events (admins, or the events token)",
        request=ProviderEventInput(many=True),
        responses={200: OpenApiResponse(EventsOutput, description=(
            "One result per event, in order: recorded, duplicate (already recorded), or "
            "unknown_message_id (no sales email has it; nothing done).")),
            403: OpenApiResponse(description="Sellers may not post events.")},
        examples=[OpenApiExample("A hard bounce", value=EXAMPLE_IN, request_only=True),
                  OpenApiExample("Recorded", value=EXAMPLE_OUT, response_only=True)])
    def post(self, request):
        """Events in anymail's normalized vocabulary, matched by Message-ID: delivered,
        opened, clicked (with click_url), bounced (a hard bounce: the address is
        unsubscribed, source bounce), complained (unsubscribed too), inbound (a reply: the
        email is replied)."""
        items = request.data
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_EVENTS:
            return Response({"non_field_errors": [
                _("Send a list of 1 to %(most)d events.") % {"most": MAX_EVENTS}]},
                status=status.HTTP_400_BAD_REQUEST)
        serializers_ = [ProviderEventInput(data=item) for item in items]
        errors = [{} if serializer.is_valid() else serializer.errors
                  for serializer in serializers_]
        if any(errors):
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        return Response(provider_events_apply([s.validated_data for s in serializers_]))
