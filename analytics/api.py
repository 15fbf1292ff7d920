"""The analytics API: ``/api/v1/analytics/emails/`` and ``/api/v1/analytics/activity/``, as
JSON or (``?format=csv``, ``Accept: text/csv``) CSV."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .export import report_csv, report_filename
from .params import ActivityReportQuery, EmailReportQuery, report_query
from .selectors import (
    ACTIVITY_COUNTS,
    EMAIL_COUNTS,
    EMAIL_RATES,
    report_get,
)


class CsvRenderer(BaseRenderer):
    """Names CSV for content negotiation; the views write the body (``report_csv``). Errors
    are answered as JSON (``salesactions.api.api_exception_handler``)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b""


class _Negotiation(DefaultContentNegotiation):
    """An unknown ``?format=`` is a 400 naming the choices (DRF would answer 404)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Http404:
            raise ValidationError({"format": [_('Use "json" or "csv".')]}) from None


def _row_serializer(name: str, counts, rates=()) -> type[serializers.Serializer]:
    fields = {"key": serializers.JSONField(help_text="The group: a template, step or user id "
                                                     "(null: none), or a date."),
              "label": serializers.CharField()}
    fields |= {count: serializers.IntegerField() for count in counts}
    fields |= {rate: serializers.FloatField(min_value=0, max_value=1) for rate in rates}
    if "calls" in counts:
        fields["calls_by_outcome"] = serializers.DictField(child=serializers.IntegerField())
    return type(name, (serializers.Serializer,), fields)


def _totals_serializer(name: str, row) -> type[serializers.Serializer]:
    fields = {key: value for key, value in row._declared_fields.items()
              if key not in ("key", "label")}
    return type(name, (serializers.Serializer,), fields)


EmailReportRow = _row_serializer("EmailReportRow", EMAIL_COUNTS, EMAIL_RATES)
ActivityReportRow = _row_serializer("ActivityReportRow", ACTIVITY_COUNTS)


class EmailReportOutput(serializers.Serializer):
    group_by = serializers.CharField()
    locals()["from"] = serializers.DateField()
    to = serializers.DateField()
    results = EmailReportRow(many=True)
    totals = _totals_serializer("EmailReportTotals", EmailReportRow)()


class ActivityReportOutput(EmailReportOutput):
    results = ActivityReportRow(many=True)
    totals = _totals_serializer("ActivityReportTotals", ActivityReportRow)()


def _responses(output, *, campaign: bool = False) -> dict:
    responses = {(200, "application/json"): output,
                 (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=(
                     "A header row (key, label, the figures), a row per group, then the "
                     "totals."))}
    if campaign:
        responses[404] = OpenApiResponse(OpenApiTypes.OBJECT, description=(
            "No such campaign, or not one you may see: {\"detail\": \"...\"}."))
    return responses


class _ReportApi(APIView):
    renderer_classes = [JSONRenderer, CsvRenderer]
    content_negotiation_class = _Negotiation
    query_class = EmailReportQuery
    kind = ""

    def report(self, values: dict):
        raise NotImplementedError

    def get(self, request):
        values = report_query(self.query_class, request.user, request.query_params)
        report = self.report(values)
        if request.accepted_renderer.format == "csv":
            response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="{report_filename(self.kind, report)}"')
            return response
        return Response(report.as_dict())


class EmailReportApi(_ReportApi):
    """Email performance: emails sent in the period (days in your time zone) grouped by
    template, campaign step, sender or day, with how many were delivered (sent − bounced),
    opened, clicked, replied to, bounced, and caused an unsubscribe (its link, one-click, or
    a hard bounce or complaint on it) — each email once per outcome — and the open, click and
    reply rates over delivered, the bounce rate over sent. A seller gets their own emails (403
    when naming another seller); an admin everyone's, or one seller's with ``sender``."""

    query_class = EmailReportQuery
    kind = "emails"

    def report(self, values: dict):
        return report_get("emails", values["period"], values["group_by"],
                          senders=values["senders"], campaign=values.get("campaign"))

    @extend_schema(parameters=[EmailReportQuery],
                   responses=_responses(EmailReportOutput, campaign=True))
    def get(self, request):
        return super().get(request)


class ActivityReportApi(_ReportApi):
    """Activity: per seller, day or week (days in your time zone), calls (and by outcome),
    emails sent, replies received, tasks completed in the period, and tasks overdue now that
    fell due in it. A seller gets their own (403 when naming another seller); an admin the
    team's, or one seller's with ``sender``."""

    query_class = ActivityReportQuery
    kind = "activity"

    def report(self, values: dict):
        return report_get("activity", values["period"], values["group_by"],
                          senders=values["senders"])

    @extend_schema(parameters=[ActivityReportQuery], responses=_responses(ActivityReportOutput))
    def get(self, request):
        return super().get(request)
