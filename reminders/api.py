"""The reminder tasks API under ``/api/v1/tasks/`` (SPEC section 10).

Sellers see and change their own tasks; admins everyone's. Another seller's task answers 404,
not 403, so ids reveal nothing.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from accounts.models import User
from people.models import Person

from .models import ReminderTask
from .selectors import DUE_CHOICES, task_filter, task_list_for_user
from .services import (
    DETAILS_MAX,
    EARLIEST_DUE,
    LATEST_DUE,
    NAME_MAX,
    task_create,
    task_delete,
    task_update,
)

MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT64)
class _IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class TaskPagination(PageNumberPagination):
    """Pages of 50; a page that is not a positive whole number is a 400 (past the last page,
    DRF's 404)."""

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID):
            raise ValidationError({self.page_query_param: ["A whole number from 1."]})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        return parameters


class TaskFilterSet(django_filters.FilterSet):
    """The list's filters; they combine with AND."""

    status = django_filters.ChoiceFilter(choices=ReminderTask.Status.choices, method="_noop")
    person = _IdFilter(min_value=1, max_value=MAX_ID, method="_noop",
                       help_text="The person's id.")
    assignee = django_filters.CharFilter(
        max_length=150, method="_noop",
        help_text="The assignee's username (admins; a seller only sees their own tasks).")
    due = django_filters.ChoiceFilter(
        choices=[(key, key) for key in DUE_CHOICES], method="_noop",
        help_text="Open tasks by due date, in your time zone: overdue, today, tomorrow or "
                  "upcoming (after tomorrow).")
    type = django_filters.ChoiceFilter(choices=ReminderTask.Type.choices, method="_noop")

    class Meta:
        model = ReminderTask
        fields = []

    def _noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        # The selector applies them together (``due`` needs the user's today).
        data = self.form.cleaned_data
        assignee = None
        if data.get("assignee"):
            assignee = _user(data["assignee"])
            if assignee is None:
                return queryset.none()
        return task_filter(self.request.user, status=data.get("status") or "",
                           person_id=data.get("person"), assignee=assignee,
                           due=data.get("due") or "", type=data.get("type") or "")


def _user(username: str) -> User | None:
    return User.objects.filter(username=username, is_active=True).first()


class TaskInputSerializer(serializers.Serializer):
    person = serializers.IntegerField(min_value=1, max_value=MAX_ID,
                                      help_text="The person's id (see people/).")
    name = serializers.CharField(max_length=NAME_MAX)
    type = serializers.ChoiceField(choices=ReminderTask.Type.choices,
                                   default=ReminderTask.Type.CUSTOM)
    status = serializers.ChoiceField(choices=ReminderTask.Status.choices,
                                     default=ReminderTask.Status.OPEN)
    priority = serializers.ChoiceField(choices=ReminderTask.Priority.choices,
                                       default=ReminderTask.Priority.NORMAL)
    due_date = serializers.DateField(
        help_text=f"From {EARLIEST_DUE} to {LATEST_DUE}.")
    details = serializers.CharField(required=False, allow_blank=True, max_length=DETAILS_MAX,
                                    default="")
    assignee = serializers.CharField(
        required=False, max_length=150,
        help_text="The assignee's username; defaults to you. Sellers assign to themselves.")

    def validate_due_date(self, value):
        if not EARLIEST_DUE <= value <= LATEST_DUE:
            raise serializers.ValidationError(f"A date from {EARLIEST_DUE} to {LATEST_DUE}.")
        return value

    def validate_person(self, value):
        person = Person.workspace.filter(pk=value).first()
        if person is None:
            raise serializers.ValidationError("No such person in the workspace.")
        return person

    def validate_assignee(self, value):
        user = _user(value)
        if user is None:
            raise serializers.ValidationError("No such user.")
        return user


class TaskOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    person = serializers.IntegerField(source="person_id")
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=ReminderTask.Type.choices)
    status = serializers.ChoiceField(choices=ReminderTask.Status.choices)
    priority = serializers.ChoiceField(choices=ReminderTask.Priority.choices)
    due_date = serializers.DateField()
    details = serializers.CharField()
    assignee = serializers.CharField(source="assignee.username")
    origin = serializers.ChoiceField(choices=ReminderTask.Origin.choices,
                                     help_text="Where the task was created.")
    salesforce_id = serializers.CharField(help_text="The Salesforce Task, once synced.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


BAD_INPUT = OpenApiResponse(description="Bad input: errors by field; nothing was saved.")
NOT_FOUND = OpenApiResponse(description="No such task among the ones you can see.")
PAGE_NOT_FOUND = OpenApiResponse(description="Past the last page.")


def _errors(error: DjangoValidationError) -> dict:
    return error.message_dict if hasattr(error, "error_dict") else {
        "non_field_errors": error.messages}


class TaskListApi(GenericAPIView):
    """Your reminder tasks by due date (every seller's for an admin), and creating one."""

    serializer_class = TaskOutputSerializer
    filterset_class = TaskFilterSet
    pagination_class = TaskPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return ReminderTask.objects.none()
        return task_list_for_user(self.request.user)

    @extend_schema(responses={200: TaskOutputSerializer(many=True), 400: BAD_INPUT,
                              404: PAGE_NOT_FOUND})
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TaskOutputSerializer(page, many=True).data)

    @extend_schema(request=TaskInputSerializer,
                   responses={201: TaskOutputSerializer, 400: BAD_INPUT})
    def post(self, request):
        serializer = TaskInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            task = task_create(created_by=request.user, **serializer.validated_data)
        except DjangoValidationError as error:
            return Response(_errors(error), status=status.HTTP_400_BAD_REQUEST)
        return Response(TaskOutputSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(GenericAPIView):
    """One of your reminder tasks: read, change (PATCH) or delete it."""

    serializer_class = TaskOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return ReminderTask.objects.none()
        return task_list_for_user(self.request.user).select_related("assignee")

    def _task(self, pk: int) -> ReminderTask:
        task = self.get_queryset().filter(pk=pk).first() if pk <= MAX_ID else None
        if task is None:
            raise Http404("No such task.")
        return task

    @extend_schema(responses={200: TaskOutputSerializer, 404: NOT_FOUND})
    def get(self, request, pk: int):
        return Response(TaskOutputSerializer(self._task(pk)).data)

    @extend_schema(request=TaskInputSerializer(partial=True),
                   responses={200: TaskOutputSerializer, 400: BAD_INPUT, 404: NOT_FOUND})
    def patch(self, request, pk: int):
        task = self._task(pk)
        serializer = TaskInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            task = task_update(task, by=request.user, **serializer.validated_data)
        except DjangoValidationError as error:
            return Response(_errors(error), status=status.HTTP_400_BAD_REQUEST)
        return Response(TaskOutputSerializer(task).data)

    @extend_schema(responses={204: None, 404: NOT_FOUND})
    def delete(self, request, pk: int):
        task_delete(self._task(pk), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
