"""The sales email API under ``/api/v1/emails/`` (SPEC section 10)."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from people.models import Person
from salesactions.api import IdField, IdFilter, JsonTypesMixin, StrictFilterSet

from .models import SalesEmail
from .selectors import email_list_for_user, template_list_for_user
from .services import SUBJECT_MAX_LENGTH, EmailRefused, email_cancel, queue_email

BODY_MAX_LENGTH = 100_000


class EmailInput(JsonTypesMixin, serializers.Serializer):
    schema_request_rules = {"anyOf": [{"required": ["template"]},
                                      {"required": ["subject", "body"]}]}

    person = IdField(help_text="The person's id (see people/).")
    template = IdField(required=False, help_text="A template you may use (see "
                                                 "emails/templates/): the subject and body "
                                                 "not given come from it.")
    subject = serializers.CharField(max_length=SUBJECT_MAX_LENGTH, required=False,
                                    help_text="Merge fields allowed, e.g. {{first_name|there}}. "
                                              "Required without a template.")
    body = serializers.CharField(max_length=BODY_MAX_LENGTH, required=False,
                                 help_text="Plain text; merge fields allowed. Required without "
                                           "a template.")
    track = serializers.BooleanField(required=False, default=True,
                                     help_text="false turns open and click tracking off for "
                                               "this email.")
    send_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None,
        help_text="Schedule it: an ISO 8601 date and time with its offset (e.g. "
                  "2026-03-31T09:00:00+02:00), in the future and within a year. Omitted or "
                  "null: it goes out at once. A scheduled email waits with status queued and "
                  "is not sent before this moment.")


class EmailEventOutput(serializers.Serializer):
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    url = serializers.CharField()
    detail = serializers.CharField()
    source = serializers.CharField()


class EmailOutput(serializers.ModelSerializer):
    person = serializers.IntegerField(source="person_id", read_only=True)
    sender = serializers.CharField(source="sender.username", read_only=True)
    events = EmailEventOutput(many=True, read_only=True)

    class Meta:
        model = SalesEmail
        fields = ["id", "person", "sender", "to_email", "subject", "body", "track",
                  "sales_campaign_name", "template", "status", "hold_reason", "error",
                  "message_id",
                  "provider_message_id",
                  "attempts", "next_attempt_at", "send_at", "sent_at", "created_at", "events"]
        read_only_fields = fields


class EmailFilterSet(StrictFilterSet):
    person = IdFilter(field_name="person_id", help_text="The person's id.")
    status = django_filters.ChoiceFilter(field_name="status", choices=SalesEmail.Status.choices,
                                         help_text="The email's status.")
    sender = IdFilter(field_name="sender_id",
                      help_text="Admins: the id of the user who sent the emails.")

    class Meta:
        model = SalesEmail
        fields: list[str] = []


class EmailListApi(GenericAPIView):
    """Sales emails, newest first, with their events: a seller sees the ones they sent, an
    admin everyone's (``?sender=`` narrows); and sending one.

    POST queues the email (201, ``status`` ``queued``, or ``held`` when Marketo cannot say
    whether the address is unsubscribed: it is checked again before it goes out). 400 names
    the field at fault: no subject or body, an unknown or malformed merge field, a person
    without an address, an address unsubscribed here or in Marketo, or a ``send_at`` in the
    past. ``send_at`` schedules the email (``POST /api/v1/emails/{id}/cancel/`` cancels it
    while it waits).
    """

    serializer_class = EmailOutput
    filterset_class = EmailFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SalesEmail.objects.none()
        return email_list_for_user(self.request.user)

    @extend_schema(responses=EmailOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(EmailOutput(page, many=True).data)

    @extend_schema(request=EmailInput, responses={201: EmailOutput})
    def post(self, request):
        data = EmailInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        person = Person.workspace.filter(pk=values["person"]).first()
        if person is None:
            return Response({"person": [_("No such person in the workspace.")]},
                            status=status.HTTP_400_BAD_REQUEST)
        template = None
        if "template" in values:
            template = template_list_for_user(request.user).filter(pk=values["template"]).first()
            if template is None:
                return Response({"template": [_("No such template.")]},
                                status=status.HTTP_400_BAD_REQUEST)
        missing = {field: [_("This field is required.")] for field in ("subject", "body")
                   if field not in values and template is None}
        if missing:
            return Response(missing, status=status.HTTP_400_BAD_REQUEST)
        try:
            email = queue_email(
                person=person, sender=request.user, template=template, track=values["track"],
                subject=values.get("subject", template and template.subject),
                body=values.get("body", template and template.body), send_at=values["send_at"])
        except EmailRefused as refused:
            return Response({refused.field: [refused.message]},
                            status=status.HTTP_400_BAD_REQUEST)
        email = email_list_for_user(request.user).get(pk=email.pk)
        return Response(EmailOutput(email).data, status=status.HTTP_201_CREATED)


class EmailDetailApi(GenericAPIView):
    """One email with its events: a seller's own (404 for another's), any for an admin."""

    serializer_class = EmailOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SalesEmail.objects.none()
        return email_list_for_user(self.request.user)

    def get(self, request, pk: int):
        return Response(EmailOutput(get_object_or_404(self.get_queryset(), pk=pk)).data)


class EmailCancelApi(GenericAPIView):
    """Cancel an email that has not gone out: one scheduled for later (``send_at``), or held
    or queued and not yet handed to the mail server. A seller cancels their own (404 for
    another's), an admin anyone's. 200 with the email, now ``cancelled``; 409 when it is too
    late (sending, sent, failed or cancelled already)."""

    serializer_class = EmailOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SalesEmail.objects.none()
        return email_list_for_user(self.request.user)

    @extend_schema(request=None, responses={200: EmailOutput, 409: OpenApiResponse(
        description="Too late to cancel: the email is on its way or done.")})
    def post(self, request, pk: int):
        email = get_object_or_404(self.get_queryset(), pk=pk)
        try:
            email_cancel(email, by=request.user)
        except EmailRefused as refused:
            return Response({"detail": refused.message}, status=status.HTTP_409_CONFLICT)
        return Response(EmailOutput(self.get_queryset().get(pk=pk)).data)
