"""The reminder tasks API under ``/api/v1/tasks/`` (SPEC section 10).

Sellers see and change their own tasks; admins everyone's. Another seller's task answers 404,
not 403, so ids reveal nothing.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.models import User
from people.models import Person
from salesactions.api import MAX_ID, IdField, IdFilter, JsonTypesMixin, StrictFilterSet

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


class TaskFilterSet(StrictFilterSet):
    """The list's filters; they combine with AND."""

    status = django_filters.ChoiceFilter(choices=ReminderTask.Status.choices, method="_noop")
    person = IdFilter(method="_noop", help_text="The person's id.")
    assignee = IdFilter(method="_noop",
                        help_text="The assignee's user id (admins; a seller sees only their "
                                  "own tasks).")
    due = django_filters.ChoiceFilter(
        choices=[(key, key) for key in DUE_CHOICES], method="_noop",
        help_text="Open tasks by due date, in your time zone: overdue, today, tomorrow or "
                  "upcoming (after tomorrow).")
    type = django_filters.ChoiceFilter(choices=ReminderTask.Type.choices, method="_noop")

    class Meta:
        model = ReminderTask
        fields: list[str] = []

    def _noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        # The selector applies them together (``due`` needs the user's today).
        data = self.form.cleaned_data
        assignee = None
        if data.get("assignee"):
            assignee = User.objects.filter(pk=data["assignee"]).first()
            if assignee is None:
                return queryset.none()
        return task_filter(self.request.user, status=data.get("status") or "",
                           person_id=data.get("person"), assignee=assignee,
                           due=data.get("due") or "", type=data.get("type") or "")


@extend_schema_field({"oneOf": [
    {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID},
    {"type": "string", "minLength": 1, "maxLength": 150, "pattern": "^[^\\x00]+$"}]})
class AssigneeField(serializers.Field):
    """A user by id (a whole number) or by username (a string)."""

    default_error_messages = {"invalid": _("A user id (a whole number) or a username."),
                              "missing": _("No such user.")}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, int):
            if not 1 <= data <= MAX_ID:
                self.fail("missing")
            user = User.objects.filter(pk=data, is_active=True).first()
        else:
            if not 1 <= len(data) <= 150:
                self.fail("invalid")
            if "\x00" in data:  # no username holds NUL, and PostgreSQL cannot compare it
                self.fail("missing")
            user = User.objects.filter(username=data, is_active=True).first()
        if user is None:
            self.fail("missing")
        return user

    def to_representation(self, value):
        return value.pk


@extend_schema_field({"type": "string", "format": "date",
                      "pattern": "^(19[0-9]{2}|2[0-9]{3})-"})
class DueDateField(serializers.DateField):
    """A due date, in the years the services take (EARLIEST_DUE to LATEST_DUE), as the
    schema says them: format date, and a year from 1900 to 2999."""

class TaskInputSerializer(JsonTypesMixin, serializers.Serializer):
    person = IdField(help_text="The person's id (see people/).")
    name = serializers.CharField(max_length=NAME_MAX)
    type = serializers.ChoiceField(choices=ReminderTask.Type.choices,
                                   default=ReminderTask.Type.CUSTOM)
    status = serializers.ChoiceField(choices=ReminderTask.Status.choices,
                                     default=ReminderTask.Status.OPEN)
    priority = serializers.ChoiceField(choices=ReminderTask.Priority.choices,
                                       default=ReminderTask.Priority.NORMAL)
    due_date = DueDateField(help_text=f"From {EARLIEST_DUE} to {LATEST_DUE}.")
    details = serializers.CharField(required=False, allow_blank=True, max_length=DETAILS_MAX,
                                    default="")
    assignee = AssigneeField(
        required=False,
        help_text="The assignee: a user id or username; defaults to you. Sellers assign to "
                  "themselves.")

    def validate_due_date(self, value):
        if not EARLIEST_DUE <= value <= LATEST_DUE:
            raise serializers.ValidationError(gettext("A date from %(earliest)s to %(latest)s.") % {
                "earliest": EARLIEST_DUE.isoformat(), "latest": LATEST_DUE.isoformat()})
        return value

    def validate_person(self, value):
        person = Person.workspace.filter(pk=value).first()
        if person is None:
            raise serializers.ValidationError(gettext("No such person in the workspace."))
        return person


class TaskOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    person = serializers.IntegerField(source="person_id")
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=ReminderTask.Type.choices)
    status = serializers.ChoiceField(choices=ReminderTask.Status.choices)
    priority = serializers.ChoiceField(choices=ReminderTask.Priority.choices)
    due_date = serializers.DateField()
    details = serializers.CharField()
    assignee = serializers.IntegerField(source="assignee_id", help_text="The user's id.")
    assignee_username = serializers.CharField(source="assignee.username")
    origin = serializers.ChoiceField(choices=ReminderTask.Origin.choices,
                                     help_text="Where the task was created.")
    salesforce_id = serializers.CharField(help_text="The Salesforce Task, once synced.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


def _errors(error: DjangoValidationError) -> dict:
    return error.message_dict if hasattr(error, "error_dict") else {
        "non_field_errors": error.messages}


class TaskListApi(GenericAPIView):
    """Your reminder tasks by due date (every seller's for an admin), and creating one."""

    serializer_class = TaskOutputSerializer
    filterset_class = TaskFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return ReminderTask.objects.none()
        return task_list_for_user(self.request.user)

    @extend_schema(responses=TaskOutputSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TaskOutputSerializer(page, many=True).data)

    @extend_schema(request=TaskInputSerializer, responses={201: TaskOutputSerializer})
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
            raise Http404(gettext("No such task."))
        return task

    @extend_schema(responses=TaskOutputSerializer)
    def get(self, request, pk: int):
        return Response(TaskOutputSerializer(self._task(pk)).data)

    @extend_schema(request=TaskInputSerializer(partial=True), responses=TaskOutputSerializer)
    def patch(self, request, pk: int):
        task = self._task(pk)
        serializer = TaskInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            task = task_update(task, by=request.user, **serializer.validated_data)
        except DjangoValidationError as error:
            return Response(_errors(error), status=status.HTTP_400_BAD_REQUEST)
        return Response(TaskOutputSerializer(task).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        task_delete(self._task(pk), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
