"""The sales campaigns API under ``/api/v1/campaigns/`` (SPEC section 10).

Sellers see their own campaigns and shared ones, and change only their own; admins see and
change all. A campaign a seller cannot see answers 404. Steps are nested: a PUT/PATCH with
``steps`` replaces the list (a step given with its ``id`` keeps its history).
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from people.models import Person
from salesactions.api import MAX_ID, IdField, JsonTypesMixin, StrictFilterSet

from .models import Campaign, CampaignMember, CampaignStep
from .selectors import campaign_list_for_user, campaign_members, campaign_summaries
from .services import (
    BODY_MAX,
    DAY_RANGE,
    DETAILS_MAX,
    MAX_DAY_OFFSET,
    MAX_STEPS,
    NAME_MAX,
    WINDOW_END_RANGE,
    WINDOW_START_RANGE,
    campaign_create,
    campaign_delete,
    campaign_update,
    can_change,
    member_remove,
    members_add,
)

MAX_PEOPLE = 10_000
#: One to seven weekday digits, none twice.
WINDOW_DAYS_PATTERN = r"^(?!.*(.).*\1)[0-6]{1,7}$"


def _errors(error: DjangoValidationError):
    if getattr(error, "detail", None):
        return error.detail
    return error.message_dict if hasattr(error, "error_dict") else {"detail": " ".join(
        error.messages)}


class StepList(serializers.ListSerializer):
    """A campaign's steps; documented as a list of email or task steps (``StepListSchema``)."""


class StepSerializer(JsonTypesMixin, serializers.Serializer):
    """One step as the server reads it; which fields it needs depends on its type, which the
    schema says with one variant per type (``EmailStepInput``, ``TaskStepInput``)."""

    id = IdField(required=False, help_text="An existing step's id, to keep it (and its "
                                           "history) while changing it; leave out for a new "
                                           "step.")
    type = serializers.ChoiceField(choices=CampaignStep.Type.choices)
    day_offset = serializers.IntegerField(
        min_value=0, max_value=MAX_DAY_OFFSET, default=0,
        error_messages={key: DAY_RANGE for key in ("min_value", "max_value", "invalid")},
        help_text=f"Days after the person is added (not after the previous step), 0 to "
                  f"{MAX_DAY_OFFSET}; never earlier than the step before it (steps run in "
                  f"order).")
    subject = serializers.CharField(max_length=NAME_MAX, required=False, allow_blank=True,
                                    default="", help_text="Email steps: merge fields allowed "
                                                          "(a malformed or unknown one: 400).")
    body = serializers.CharField(max_length=BODY_MAX, required=False, allow_blank=True,
                                 default="", trim_whitespace=False,
                                 help_text="Email steps: plain text with merge fields such as "
                                           "{{first_name}} and {{sales_campaign_name}}.")
    auto_send = serializers.BooleanField(
        default=False, help_text="Email steps: send when due (else wait in the review queue).")
    name = serializers.CharField(max_length=NAME_MAX, required=False, allow_blank=True,
                                 default="", help_text="Call, InMail and custom steps: the "
                                                       "reminder task's name; merge fields "
                                                       "are filled for each person.")
    details = serializers.CharField(max_length=DETAILS_MAX, required=False, allow_blank=True,
                                    default="")

    class Meta:
        list_serializer_class = StepList


class EmailStepInput(StepSerializer):
    """An email step (schema only): a subject and a body."""

    type = serializers.ChoiceField(choices=[choice for choice in CampaignStep.Type.choices
                                            if choice[0] == CampaignStep.Type.EMAIL])
    subject = serializers.CharField(max_length=NAME_MAX, help_text="Merge fields allowed.")
    body = serializers.CharField(max_length=BODY_MAX, trim_whitespace=False,
                                 help_text="Plain text with merge fields such as "
                                           "{{first_name}} and {{sales_campaign_name}}.")
    name = serializers.CharField(max_length=NAME_MAX, required=False, allow_blank=True,
                                 default="", help_text="Not used by email steps.")


class TaskStepInput(StepSerializer):
    """A call, InMail or custom step (schema only): the reminder task's name."""

    type = serializers.ChoiceField(choices=[choice for choice in CampaignStep.Type.choices
                                            if choice[0] != CampaignStep.Type.EMAIL])
    name = serializers.CharField(max_length=NAME_MAX, help_text="The reminder task's name.")


class StepListSchema(OpenApiSerializerFieldExtension):
    target_class = StepList

    def map_serializer_field(self, auto_schema, direction):
        variants = [auto_schema.resolve_serializer(variant, direction).ref
                    for variant in (EmailStepInput, TaskStepInput)]
        return {"type": "array", "maxItems": MAX_STEPS, "items": {"oneOf": variants}}


class StepOutput(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    type = serializers.ChoiceField(choices=CampaignStep.Type.choices)
    day_offset = serializers.IntegerField()
    subject = serializers.CharField()
    body = serializers.CharField()
    auto_send = serializers.BooleanField()
    name = serializers.CharField()
    details = serializers.CharField()


class CampaignInput(JsonTypesMixin, serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX)
    shared = serializers.BooleanField(default=False,
                                      help_text="Other sellers may see it and add people.")
    status = serializers.ChoiceField(
        choices=Campaign.Status.choices, required=False,
        help_text="draft (new ones, by default), active, paused or archived; left out, it "
                  "stays as it is. Pausing holds due steps; resuming moves each person's "
                  "schedule on by the pause's length.")
    window_enabled = serializers.BooleanField(
        default=False, help_text="Send email steps only inside the sending window, in the "
                                 "seller's time zone.")
    window_days = serializers.RegexField(
        WINDOW_DAYS_PATTERN, max_length=7, default="01234",
        help_text="Weekdays as digits, each at most once, 0 Monday .. 6 Sunday.")
    window_start_hour = serializers.IntegerField(
        min_value=0, max_value=23, default=9,
        error_messages={key: WINDOW_START_RANGE for key in ("min_value", "max_value", "invalid")})
    window_end_hour = serializers.IntegerField(
        min_value=1, max_value=24, default=17,
        help_text="After window_start_hour (the one sent, else the campaign's).",
        error_messages={key: WINDOW_END_RANGE for key in ("min_value", "max_value", "invalid")})
    steps = StepSerializer(many=True, required=False, max_length=MAX_STEPS)


class CampaignOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    owner = serializers.IntegerField(source="owner_id", help_text="The owner's user id.")
    shared = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Campaign.Status.choices)
    window_enabled = serializers.BooleanField()
    window_days = serializers.CharField()
    window_start_hour = serializers.IntegerField()
    window_end_hour = serializers.IntegerField()
    steps = StepOutput(many=True, source="steps.all")
    members_live = serializers.IntegerField(help_text="People in it now.")
    members_total = serializers.IntegerField(help_text="People ever added.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def _output(campaign: Campaign) -> dict:
    if not hasattr(campaign, "members_live"):
        campaign = campaign_summaries(Campaign.objects.filter(pk=campaign.pk)).get()
    return CampaignOutput(campaign).data


def _visible(request, pk: int) -> Campaign:
    campaign = (campaign_list_for_user(request.user).filter(pk=pk).first()
                if pk <= MAX_ID else None)
    if campaign is None:
        raise Http404(_("No such campaign."))
    return campaign


def _changeable(request, pk: int) -> Campaign:
    campaign = _visible(request, pk)
    if not can_change(request.user, campaign):
        raise PermissionDenied(_("Only the campaign's owner (or an admin) changes it."))
    return campaign


class CampaignListApi(GenericAPIView):
    """Sales campaigns you can see (yours and shared ones; an admin: all), and creating one."""

    serializer_class = CampaignOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Campaign.objects.none()
        return campaign_summaries(campaign_list_for_user(self.request.user)).prefetch_related(
            "steps")

    @extend_schema(responses=CampaignOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CampaignOutput(page, many=True).data)

    @extend_schema(request=CampaignInput, responses={201: CampaignOutput})
    def post(self, request):
        serializer = CampaignInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["steps"] = [dict(step) for step in data.get("steps", [])]
        try:
            with transaction.atomic():
                campaign = campaign_create(owner=request.user, **data)
        except DjangoValidationError as error:
            return Response(_errors(error), status=status.HTTP_400_BAD_REQUEST)
        return Response(_output(campaign), status=status.HTTP_201_CREATED)


class CampaignDetailApi(GenericAPIView):
    """One campaign: read; change (PUT, PATCH; ``steps`` replaces the list) or delete (only
    when nobody was ever added; archive it otherwise) — your own, or any as an admin."""

    serializer_class = CampaignOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Campaign.objects.none()
        return campaign_list_for_user(self.request.user)

    @extend_schema(responses=CampaignOutput)
    def get(self, request, pk: int):
        return Response(_output(_visible(request, pk)))

    def _change(self, request, pk: int, partial: bool):
        campaign = _changeable(request, pk)
        serializer = CampaignInput(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "steps" in data:
            data["steps"] = [dict(step) for step in data["steps"]]
        try:
            with transaction.atomic():
                campaign = campaign_update(campaign, by=request.user, **data)
        except DjangoValidationError as error:
            return Response(_errors(error), status=status.HTTP_400_BAD_REQUEST)
        return Response(_output(campaign))

    @extend_schema(request=CampaignInput, responses=CampaignOutput)
    def put(self, request, pk: int):
        return self._change(request, pk, partial=False)

    @extend_schema(request=CampaignInput(partial=True), responses=CampaignOutput)
    def patch(self, request, pk: int):
        return self._change(request, pk, partial=True)

    @extend_schema(responses={204: None, 409: OpenApiResponse(
        description="People were added to it: archive it instead (status archived).")})
    def delete(self, request, pk: int):
        campaign = _changeable(request, pk)
        try:
            campaign_delete(campaign, by=request.user)
        except DjangoValidationError as error:
            return Response({"detail": " ".join(error.messages)},
                            status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberFilterSet(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=CampaignMember.Status.choices,
                                         method="_status")

    class Meta:
        model = CampaignMember
        fields: list[str] = []

    def _status(self, queryset, name, value):
        return queryset.filter(status=value)


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField()
    person = serializers.IntegerField(source="person_id")
    person_name = serializers.CharField(source="person.full_name")
    email = serializers.CharField(source="person.email")
    status = serializers.ChoiceField(choices=CampaignMember.Status.choices,
                                     help_text="active, review (an email waits in the "
                                               "review queue) or ended.")
    end_reason = serializers.CharField(help_text="Why it ended (removed, replied, bounced, "
                                                 "unsubscribed, completed, archived).")
    added_by = serializers.IntegerField(source="added_by_id")
    added_at = serializers.DateTimeField()
    current_step = serializers.IntegerField(
        source="next_position", help_text="The position (from 0) of the next step to run.")
    current_step_title = serializers.CharField(allow_null=True)
    next_step_due_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    steps_run = serializers.IntegerField()


class MembersInput(JsonTypesMixin, serializers.Serializer):
    schema_request_rules = {"oneOf": [{"required": ["person"]}, {"required": ["people"]}],
                            "description": 'Either "person" or "people", not both.'}

    person = IdField(required=False, help_text="One person's id.")
    people = serializers.ListField(child=IdField(), required=False, max_length=MAX_PEOPLE,
                                   help_text=f"Several people's ids (at most {MAX_PEOPLE}).")

    def validate(self, attrs):
        if ("person" in attrs) == ("people" in attrs):
            raise serializers.ValidationError({"non_field_errors": [
                _('Give either "person" or "people".')]})
        return attrs


AddAnswer = inline_serializer("CampaignMembersAdded", {
    "added": serializers.IntegerField(),
    "skipped": serializers.IntegerField(),
    "skipped_reasons": serializers.DictField(
        child=serializers.IntegerField(),
        help_text="How many were skipped, by reason: already_in_campaign, suppressed "
                  "(address unsubscribed), no_email, not_found."),
    "members": serializers.ListField(child=serializers.IntegerField(),
                                     help_text="The new memberships' ids."),
})


class MemberListApi(GenericAPIView):
    """A campaign's members with their current step and state; adding people to it."""

    serializer_class = MemberOutput
    filterset_class = MemberFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CampaignMember.objects.none()
        return campaign_members(_visible(self.request, self.kwargs["pk"]))

    @extend_schema(responses=MemberOutput(many=True))
    def get(self, request, pk: int):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(MemberOutput(page, many=True).data)

    @extend_schema(request=MembersInput, responses={201: AddAnswer, 200: AddAnswer})
    def post(self, request, pk: int):
        campaign = _visible(request, pk)
        serializer = MembersInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ids = [data["person"]] if "person" in data else data["people"]
        try:
            report = members_add(campaign, ids, by=request.user)
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error)) from error
        except DjangoValidationError as error:
            return Response(_errors(error), status=status.HTTP_400_BAD_REQUEST)
        return Response({"added": len(report.added), "skipped": report.skipped_total,
                         "skipped_reasons": report.skipped,
                         "members": [member.pk for member in report.added]},
                        status=status.HTTP_201_CREATED if report.added else status.HTTP_200_OK)


class MemberDetailApi(GenericAPIView):
    """Remove a person from a campaign (their history stays)."""

    serializer_class = MemberOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CampaignMember.objects.none()
        return CampaignMember.objects.filter(campaign__in=campaign_list_for_user(
            self.request.user))

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int, person_id: int):
        campaign = _visible(request, pk)
        person = Person.objects.filter(pk=person_id).first() if person_id <= MAX_ID else None
        if person is None:
            raise Http404(_("No such person."))
        try:
            ended = member_remove(campaign, person, by=request.user)
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error)) from error
        if ended is None:
            raise Http404(_("This person is not in the campaign."))
        return Response(status=status.HTTP_204_NO_CONTENT)
