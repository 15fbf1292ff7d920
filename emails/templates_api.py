"""Email templates in the API: ``/api/v1/emails/templates/`` and ``…/templates/{id}/``.

The rules are the Manage templates page's (``template_save``, ``template_delete``): everyone
reads their own and the shared ones; a seller makes and changes their own; only an admin
makes, changes or deletes shared ones (403 for a seller, 404 for another seller's own)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from salesactions.api import MAX_ID, JsonTypesMixin

from .models import EmailTemplate
from .selectors import template_list_for_user
from .services import template_delete, template_save

NAME_MAX_LENGTH = EmailTemplate._meta.get_field("name").max_length
SUBJECT_MAX_LENGTH = EmailTemplate._meta.get_field("subject").max_length
BODY_MAX_LENGTH = 100_000


class TemplateInput(JsonTypesMixin, serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    subject = serializers.CharField(max_length=SUBJECT_MAX_LENGTH,
                                    help_text="Merge fields allowed, e.g. {{first_name|there}}.")
    body = serializers.CharField(max_length=BODY_MAX_LENGTH,
                                 help_text="Plain text; merge fields allowed.")
    shared = serializers.BooleanField(required=False, default=False,
                                      help_text="Every seller may use it (admins only).")


class TemplateOutput(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, allow_null=True,
                                  default=None, help_text="Who made it.")
    editable = serializers.SerializerMethodField(help_text="Whether you may change it.")

    class Meta:
        model = EmailTemplate
        fields = ["id", "name", "subject", "body", "shared", "owner", "editable",
                  "created_at", "updated_at"]
        read_only_fields = fields

    def get_editable(self, template) -> bool:
        user = self.context["request"].user
        return user.is_admin if template.shared else template.owner_id == user.pk


def _errors(error: DjangoValidationError) -> dict:
    return {field: list(messages) for field, messages in error.message_dict.items()}


class _TemplateApi(GenericAPIView):
    serializer_class = TemplateOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return EmailTemplate.objects.none()
        return template_list_for_user(self.request.user)

    def _saved(self, values: dict, *, template=None, code=status.HTTP_200_OK) -> Response:
        try:
            template = template_save(user=self.request.user, template=template, **values)
        except DjangoValidationError as error:
            return Response(_errors(error), status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(template).data, status=code)


class TemplateListApi(_TemplateApi):
    """Your templates and the shared ones (shared first, then by name); and making one
    (``shared``: admins only, 403 for a seller). 400 names an empty field or an unknown
    merge field."""

    @extend_schema(responses=TemplateOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=TemplateInput, responses={201: TemplateOutput})
    def post(self, request):
        data = TemplateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._saved(data.validated_data, code=status.HTTP_201_CREATED)


class TemplateDetailApi(_TemplateApi):
    """One template you may use: read it; change or delete your own (a shared one: admins
    only, 403 for a seller)."""

    def _template(self, pk: int) -> EmailTemplate:
        template = self.get_queryset().filter(pk=pk).first() if pk <= MAX_ID else None
        if template is None:
            raise Http404(_("No such template."))
        return template

    @extend_schema(responses=TemplateOutput)
    def get(self, request, pk: int):
        return Response(self.get_serializer(self._template(pk)).data)

    @extend_schema(request=TemplateInput, responses=TemplateOutput)
    def put(self, request, pk: int):
        template = self._template(pk)
        data = TemplateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._saved(data.validated_data, template=template)

    @extend_schema(request=TemplateInput(partial=True), responses=TemplateOutput)
    def patch(self, request, pk: int):
        template = self._template(pk)
        data = TemplateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = {"name": template.name, "subject": template.subject, "body": template.body,
                  "shared": template.shared} | data.validated_data
        return self._saved(values, template=template)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        template_delete(user=request.user, template=self._template(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
