from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin
from salesactions.api import JsonTypesMixin
from syncing.mirror.initial import people_initial_sync_start
from syncing.models import SyncRun, SyncSettings
from syncing.unsubscribes.optout_fields import optout_field_check
from syncing.validators import bounds_of

from .selectors import sync_settings_get
from .services import sync_settings_update

SALESFORCE_FIELD_NAME = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_]*$",  # or blank: the field allows that itself
    _("Enter a Salesforce field API name such as Sales_Opt_Out__c."))


def _bound_messages(model) -> dict:
    """``extra_kwargs`` giving each bounded field the model's message for its bounds."""
    return {field.name: {"error_messages": {"min_value": bounds[2], "max_value": bounds[2]}}
            for field in model._meta.get_fields() if (bounds := bounds_of(field))}


class SyncSettingsApi(APIView):
    """The sync switches (admins only)."""

    permission_classes = [IsAdmin]

    class SyncSettingsSerializer(JsonTypesMixin, serializers.ModelSerializer):
        # Null until the settings are first saved (the defaults are in force).
        updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

        class Meta:
            model = SyncSettings
            exclude = ["id"]
            read_only_fields = ["updated_at"]
            # The model's rules, stated so the schema shows them: its bounds (DRF takes the
            # minimum and maximum from the model's validators; the message is the model's, as
            # on the settings form) and the field-name rule as a pattern.
            extra_kwargs = {
                **_bound_messages(SyncSettings),
                "unsubscribe_custom_optout_field": {"validators": [SALESFORCE_FIELD_NAME]},
            }

        def validate_unsubscribe_custom_optout_field(self, name: str) -> str:
            name = name.strip()
            if self.instance is None or name != self.instance.unsubscribe_custom_optout_field:
                # Asks Salesforce whether Contact and Lead both have it as a checkbox.
                try:
                    optout_field_check(name)
                except DjangoValidationError as invalid:
                    raise serializers.ValidationError(invalid.messages) from None
            return name

    @extend_schema(responses=SyncSettingsSerializer)
    def get(self, request):
        return Response(self.SyncSettingsSerializer(sync_settings_get()).data)

    @extend_schema(request=SyncSettingsSerializer, responses=SyncSettingsSerializer)
    def patch(self, request):
        return self._update(request, partial=True)

    @extend_schema(request=SyncSettingsSerializer, responses=SyncSettingsSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    def _update(self, request, *, partial: bool):
        serializer = self.SyncSettingsSerializer(sync_settings_get(), data=request.data,
                                                 partial=partial)
        serializer.is_valid(raise_exception=True)
        updated = sync_settings_update(sync_settings_get(), **serializer.validated_data)
        return Response(self.SyncSettingsSerializer(updated).data)


class SyncRunSerializer(serializers.ModelSerializer):
    progress_percent = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = SyncRun
        fields = ["id", "kind", "status", "method", "created_at", "started_at", "finished_at",
                  "heartbeat_at", "leads_read", "people_written", "people_left",
                  "people_removed", "records_skipped", "skipped_examples", "windows_total",
                  "windows_done", "progress_percent", "api_calls", "error"]


class SyncRunListApi(ListAPIView):
    """Sync history, newest first. ``POST {"kind": "initial"}`` starts the initial people sync,
    or resumes the unfinished one (admins only)."""

    permission_classes = [IsAdmin]
    serializer_class = SyncRunSerializer
    queryset = SyncRun.objects.all()
    filterset_fields = ["kind", "status"]

    class StartSerializer(JsonTypesMixin, serializers.Serializer):
        kind = serializers.ChoiceField(choices=[SyncRun.Kind.INITIAL],
                                       help_text='Only "initial" can be started by hand.')

    @extend_schema(request=StartSerializer, responses={202: SyncRunSerializer})
    def post(self, request):
        start = self.StartSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        run = people_initial_sync_start(request.user)
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
