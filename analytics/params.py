"""What a report is asked for — the period, the grouping, whose figures — read from a query
string the same way for the API and the page, with the rule of who may see whose figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from campaigns.selectors import campaign_list_for_user
from salesactions.api import IdField

from .selectors import ACTIVITY_GROUPS, EMAIL_GROUPS, MAX_DAYS, Period

#: The page's presets: days back from today (included), or the quarter so far.
PRESETS = {"7": gettext_lazy("Last 7 days"), "30": gettext_lazy("Last 30 days"),
           "90": gettext_lazy("Last 90 days"), "quarter": gettext_lazy("This quarter")}
DEFAULT_PRESET = "30"
#: The dates a report may name (well inside what every time zone can convert).
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)


def preset_dates(preset: str, today: date) -> tuple[date, date]:
    if preset == "quarter":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    return today - timedelta(days=int(preset) - 1), today


@extend_schema_field({"type": "string", "format": "date",
                      "pattern": "^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]"
                                 "|999[0-8])-"})
class ReportDateField(serializers.DateField):
    """A day from EARLIEST to LATEST, as the schema says it (years 1970 to 9998)."""


class _ReportQuery(serializers.Serializer):
    # "from" is a Python keyword: declared through the class namespace.
    locals()["from"] = ReportDateField(required=False, input_formats=["%Y-%m-%d"],
                                  help_text="The first day (YYYY-MM-DD, included), in your "
                                            "time zone. Default: 29 days before `to`.")
    to = ReportDateField(required=False, input_formats=["%Y-%m-%d"],
                         help_text="The last day (YYYY-MM-DD, included). Default: today.")
    sender = IdField(required=False, help_text="One seller's figures (a user id). A seller may "
                                               "only name themselves (403 otherwise).")
    format = serializers.ChoiceField(choices=["json", "csv"], required=False,
                                     help_text="csv: the rows as CSV (or Accept: text/csv).")

    def to_internal_value(self, data):
        # A parameter that is given must hold a value (``?from=`` alone is a 400, as in every
        # list's filters); DRF would take an empty date as no date.
        blank = {name: [_("This parameter may not be blank.")] for name in self.fields
                 if name in data and not str(data.get(name)).strip()}
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)

    def validate(self, attrs):
        today = self.context["zone_today"]
        end = attrs.get("to") or today
        start = attrs.get("from") or end - timedelta(days=29)
        if start > end:
            raise serializers.ValidationError({"from": [_("`from` is after `to`.")]})
        if start < EARLIEST or end > LATEST:
            raise serializers.ValidationError(
                {"from" if start < EARLIEST else "to": [
                    _("Dates from %(first)s to %(last)s.") % {
                        "first": EARLIEST.isoformat(), "last": LATEST.isoformat()}]})
        if (end - start).days >= MAX_DAYS:
            raise serializers.ValidationError(
                {"to": [ngettext("A report covers at most %(days)s day.",
                                 "A report covers at most %(days)s days.",
                                 MAX_DAYS) % {"days": MAX_DAYS}]})
        attrs["period"] = Period(start, end, self.context["zone"])
        return attrs


class EmailReportQuery(_ReportQuery):
    group_by = serializers.ChoiceField(choices=EMAIL_GROUPS, help_text="How rows are grouped.")
    campaign = IdField(required=False, help_text="Only this campaign's emails.")


class ActivityReportQuery(_ReportQuery):
    group_by = serializers.ChoiceField(choices=ACTIVITY_GROUPS,
                                       help_text="How rows are grouped.")


def report_query(query_class, user: User, data) -> dict:
    """The validated query (``period``, ``group_by``, ``senders``, ``campaign``) or
    ValidationError (400), PermissionDenied (403: a seller naming another seller) or Http404
    (a campaign they may not see)."""
    zone = user.zone
    query = query_class(data=data, context={"zone": zone,
                                            "zone_today": datetime.now(zone).date()})
    query.is_valid(raise_exception=True)
    values = dict(query.validated_data)
    values["senders"] = report_senders(user, values.get("sender"))
    campaign = values.get("campaign")
    if campaign is not None and not campaign_list_for_user(user).filter(pk=campaign).exists():
        raise Http404(_("No such campaign (or not one you may see)."))
    return values


def report_senders(user: User, sender: int | None) -> list[int] | None:
    """Whose figures: a seller their own (PermissionDenied for another's), an admin everyone's
    (None) or the one they name (no such user: no figures)."""
    if not user.is_admin:
        if sender is not None and sender != user.pk:
            raise PermissionDenied(_("Sellers see their own figures only."))
        return [user.pk]
    return None if sender is None else [sender]
