"""The unsubscribes API under ``/api/v1/unsubscribes/`` (SPEC section 10).

Every seller and admin lists every unsubscribe: suppression is by address and global, so a
seller must be able to see that an address is suppressed whoever recorded it. Anyone records
one for a person in the workspace; only an admin removes one, with a reason.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from people.models import Person
from salesactions.api import IdField, JsonTypesMixin

from .filters import UnsubscribeFilterSet
from .models import Unsubscribe
from .services import REASON_MAX_LENGTH, unsubscribe_record, unsubscribe_remove


class UnsubscribeInput(JsonTypesMixin, serializers.Serializer):
    person = IdField(help_text="The person's id (see people/).")

    def validate_person(self, value: int) -> Person:
        person = Person.workspace.filter(pk=value).first()
        if person is None:
            raise serializers.ValidationError(_("No such person in the workspace."))
        return person


class RemoveInput(JsonTypesMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH,
                                   help_text="Why the unsubscribe no longer applies.")


class UnsubscribeOutput(serializers.ModelSerializer):
    person = serializers.IntegerField(source="person_id", read_only=True)
    created_by = serializers.CharField(source="created_by.username", allow_null=True,
                                       read_only=True, default=None,
                                       help_text="Who recorded it (null: a sync or a link).")
    removed_by = serializers.CharField(source="removed_by.username", allow_null=True,
                                       read_only=True, default=None)
    in_force = serializers.BooleanField(read_only=True)
    salesforce_push = serializers.SerializerMethodField(
        help_text="Its push to the person's Salesforce contact, else lead: pending, "
                  "in_progress, delivered or failed; null when there is none (imported from "
                  "Salesforce).")
    salesforce_error = serializers.SerializerMethodField(
        help_text='Why the push failed or is retried, e.g. "NO_SALESFORCE_ID: ...".')

    class Meta:
        model = Unsubscribe
        fields = ["id", "person", "email", "source", "in_force", "created_at", "created_by",
                  "removed_at", "removed_by", "removed_reason", "salesforce_push",
                  "salesforce_error"]
        extra_kwargs = {"email": {"help_text": "The person's address when it was recorded."}}

    def get_salesforce_push(self, unsubscribe) -> str | None:
        push = unsubscribe.salesforce_push
        return push.status if push else None

    def get_salesforce_error(self, unsubscribe) -> str:
        push = unsubscribe.salesforce_push
        if not push or not push.last_error_code:
            return ""
        return f"{push.last_error_code}: {push.last_error_message}"


EXAMPLE = {"id": 7, "person": 1042, "email": "olivia.smith318@example.com", "source": "manual",
           "in_force": True, "created_at": "2026-11-23T10:00:00Z", "created_by": "ava",
           "removed_at": None, "removed_by": None, "removed_reason": "",
           "salesforce_push": "delivered", "salesforce_error": ""}


class UnsubscribeListApi(GenericAPIView):
    """Unsubscribes of everyone, newest first (suppression is global); record one."""

    serializer_class = UnsubscribeOutput
    filterset_class = UnsubscribeFilterSet
    queryset = Unsubscribe.objects.all()

    @extend_schema(summary="List unsubscribes",
                   responses={200: UnsubscribeOutput(many=True),
                              400: OpenApiResponse(description="A filter is not valid.")},
                   examples=[OpenApiExample("An unsubscribe", value=EXAMPLE,
                                            response_only=True)])
    def get(self, request):
        filterset = UnsubscribeFilterSet(request.query_params, queryset=self.queryset,
                                         request=request)
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(UnsubscribeOutput(page, many=True).data)

    @extend_schema(
        summary="Unsubscribe a person",
        request=UnsubscribeInput,
        responses={201: OpenApiResponse(UnsubscribeOutput, description="Recorded."),
                   200: OpenApiResponse(UnsubscribeOutput,
                                        description="One was already in force: that one, "
                                                    "unchanged (never a second)."),
                   400: OpenApiResponse(description="No such person in the workspace.")},
        examples=[OpenApiExample("An unsubscribe", value=EXAMPLE, response_only=True)])
    def post(self, request):
        """Record a manual unsubscribe for a person in the workspace. It is pushed to the
        person's Salesforce record at once."""
        serializer = UnsubscribeInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        recorded = unsubscribe_record(serializer.validated_data["person"],
                                      Unsubscribe.Source.MANUAL, by=request.user)
        return Response(UnsubscribeOutput(recorded.unsubscribe).data,
                        status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK)


class UnsubscribeDetailApi(GenericAPIView):
    """One unsubscribe; an admin removes it with a reason (it stays, as history)."""

    serializer_class = UnsubscribeOutput
    delete_takes_body = True  # the removal's reason (salesactions.api_schema)
    queryset = (Unsubscribe.objects.select_related("created_by", "removed_by")
                .prefetch_related("deliveries"))

    @extend_schema(summary="Get an unsubscribe",
                   responses={200: UnsubscribeOutput,
                              404: OpenApiResponse(description="No such unsubscribe.")})
    def get(self, request, pk: int):
        return Response(UnsubscribeOutput(get_object_or_404(self.queryset, pk=pk)).data)

    @extend_schema(
        summary="Remove an unsubscribe (admins)",
        request=RemoveInput,
        responses={200: OpenApiResponse(UnsubscribeOutput,
                                        description="Removed; kept in the history. Salesforce "
                                                    "keeps its opt-out."),
                   400: OpenApiResponse(description="No reason, or already removed."),
                   403: OpenApiResponse(description="Only admins remove unsubscribes."),
                   404: OpenApiResponse(description="No such unsubscribe.")})
    def delete(self, request, pk: int):
        if not request.user.is_admin:
            raise exceptions.PermissionDenied(_("Only an admin can remove an unsubscribe."))
        unsubscribe = get_object_or_404(self.queryset, pk=pk)
        serializer = RemoveInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            unsubscribe_remove(unsubscribe, by=request.user,
                               reason=serializer.validated_data["reason"])
        except PermissionDenied as denied:
            raise exceptions.PermissionDenied(str(denied)) from None
        except ValidationError as invalid:
            raise exceptions.ValidationError(invalid.message_dict) from None
        return Response(UnsubscribeOutput(unsubscribe).data)
