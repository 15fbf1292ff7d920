"""The Analytics page: a seller's own figures, or (admins) the team's with a seller filter,
over a preset or custom period in the viewer's time zone; a chart and the table beside each,
and a CSV of every table (the API's ``?format=csv``)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from accounts.models import User
from salesactions.caching import cached_built_once

from .charts import bar_chart, escape, line_chart
from .params import (
    DEFAULT_PRESET,
    PRESETS,
    EmailReportQuery,
    preset_dates,
    report_query,
)
from .selectors import EMAIL_RATES, Report, reports_get

#: Longer periods are charted by week.
DAILY_UP_TO_DAYS = 31
ACTIVITY_LINES = {"calls": _("Calls"), "emails_sent": _("Emails sent"),
                  "emails_replied": _("Replies"), "tasks_completed": _("Tasks completed")}
EMAIL_LINES = {"open_rate": _("Open rate"), "click_rate": _("Click rate"),
               "reply_rate": _("Reply rate")}


@login_required
def analytics_page(request):
    user = request.user
    preset = request.GET.get("preset") or ("custom" if request.GET.get("from")
                                           else DEFAULT_PRESET)
    query = {"sender": request.GET.get("sender", "")} if user.is_admin else {}
    if preset in PRESETS:
        start, end = preset_dates(preset, datetime.now(user.zone).date())
        query |= {"from": start.isoformat(), "to": end.isoformat()}
    else:
        preset = "custom"
        query |= {key: request.GET.get(key, "") for key in ("from", "to")}
    query = {key: value for key, value in query.items() if value}
    errors = {}
    try:
        values = report_query(EmailReportQuery, user, {**query, "group_by": "day"})
    except ValidationError as error:
        errors = error.detail
        query = {key: value for key, value in query.items()
                 if key not in errors and key not in ("from", "to")}
        values = report_query(EmailReportQuery, user, {**query, "group_by": "day"})
    period, senders = values["period"], values["senders"]

    sections = _sections_cached(user, period, senders)
    # (pk, name) pairs: the menu needs no model per user.
    sellers = ([(pk, f"{first} {last}".strip() or username) for pk, first, last, username in
                User.objects.filter(is_active=True).order_by("first_name", "username")
                .values_list("pk", "first_name", "last_name", "username")]
               if user.is_admin else None)
    return render(request, "analytics/page.html", {
        "sections": sections, "period": period, "preset": preset, "presets": PRESETS,
        "errors": errors, "sellers": sellers,
        "sender": senders[0] if senders and user.is_admin else None})


#: How long one viewer's page for one query is kept, drawn (at most the report cache's
#: ``ANALYTICS_CACHE_SECONDS``; 0 there turns both off).
PAGE_CACHE_SECONDS = 15


def _sections_cached(user: User, period, senders: list[int] | None) -> list[dict]:
    """The page's sections, drawn, from a short-lived per-(viewer, query) cache: a second
    layer over the report cache (``reports_get``) that also skips drawing the charts and
    tables when the same viewer reloads the same period."""
    seconds = min(PAGE_CACHE_SECONDS, settings.ANALYTICS_CACHE_SECONDS)
    if seconds <= 0:
        return _sections(user, period, senders)
    key = ":".join(["analytics-page", str(user.pk), str(user.is_admin),
                    period.start.isoformat(), period.end.isoformat(), period.zone.key,
                    ",".join(map(str, senders)) if senders is not None else "all",
                    datetime.now(period.zone).date().isoformat(), get_language() or ""])
    return cached_built_once([key], seconds,
                             lambda keys: {key: _sections(user, period, senders)})[key]


def _sections(user: User, period, senders: list[int] | None) -> list[dict]:
    """Each report of the page: its title, CSV link, chart and table (drawn), and whether
    it has rows."""
    by_week = (period.end - period.start).days >= DAILY_UP_TO_DAYS
    over_time = "week" if by_week else "day"
    team_wide = user.is_admin and senders is None
    asks = [("activity", over_time), ("emails", "day"), ("emails", "template"),
            ("emails", "campaign_step")]
    if team_wide:
        asks += [("emails", "sender"), ("activity", "seller")]
    # Counted together: each rollup table is read once for the whole page.
    reports = reports_get(period, asks, senders=senders)
    team = reports.pop() if team_wide else None
    activity, emails_by_day, *email_tables = reports

    base = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    if senders is not None and user.is_admin:
        base["sender"] = senders[0]

    def csv_url(name: str, group_by: str) -> str:
        return (reverse(f"api:analytics-{name}") + "?"
                + urlencode(base | {"group_by": group_by, "format": "csv"}))

    # The chart's x axis: the day, or the week's Monday (the row's key).
    labels = [row.key for row in activity.rows]
    over_time_title = str(ACTIVITY_TITLES[over_time])
    sections = [{
        "title": over_time_title, "report": activity, "csv": csv_url("activity", over_time),
        "chart": line_chart(over_time_title, labels, {
            name: [row.counts[key] for row in activity.rows]
            for key, name in ACTIVITY_LINES.items()})}]
    if team is not None:
        sections.append({
            "title": str(ACTIVITY_TITLES["seller"]), "report": team,
            "csv": csv_url("activity", "seller"),
            "chart": bar_chart(gettext("Calls and emails by seller"),
                               [r.label for r in team.rows], {
                                   ACTIVITY_LINES["calls"]: [r.counts["calls"] for r in team.rows],
                                   ACTIVITY_LINES["emails_sent"]: [r.counts["emails_sent"]
                                                                   for r in team.rows]})})
    sections.append({
        "title": str(EMAIL_TITLES["day"]), "report": emails_by_day,
        "csv": csv_url("emails", "day"),
        "chart": line_chart(gettext("Open, click and reply rates by day of sending"),
                            [row.label for row in emails_by_day.rows], {
                                name: [row.counts[key] for row in emails_by_day.rows]
                                for key, name in EMAIL_LINES.items()}, percent=True)})
    for report in email_tables:
        shown = report.rows[:15]
        title = str(EMAIL_TITLES[report.group_by])
        sections.append({
            "title": title, "report": report, "csv": csv_url("emails", report.group_by),
            "chart": bar_chart(title, [row.label for row in shown], {
                name: [row.counts[key] for row in shown]
                for key, name in EMAIL_LINES.items()}, percent=True) if shown else ""})

    # Each heading translated once for the page's tables, not once per table.
    headings = {name: escape(heading) for name, heading in HEADINGS.items()}
    for section in sections:
        report = section.pop("report")
        section["empty"] = not report.rows
        section["table"] = "" if section["empty"] else _table(report, headings)
    return sections


ACTIVITY_TITLES = {"day": _("Activity by day"), "week": _("Activity by week"),
                   "seller": _("Activity by seller")}
EMAIL_TITLES = {"day": _("Email performance by day"),
                "template": _("Email performance by template"),
                "campaign_step": _("Email performance by campaign step"),
                "sender": _("Email performance by seller")}
#: The tables' column headings (short: a table has up to eleven columns).
HEADINGS = {"calls": _("Calls"), "emails_sent": _("Emails sent"), "emails_replied": _("Replies"),
            "tasks_completed": _("Tasks done"), "tasks_overdue": _("Overdue now"),
            "sent": pgettext_lazy("emails", "Sent"),
            "delivered": pgettext_lazy("emails", "Delivered"),
            "opened": pgettext_lazy("emails", "Opened"),
            "clicked": pgettext_lazy("emails", "Clicked"),
            "replied": pgettext_lazy("emails", "Replied"),
            "bounced": pgettext_lazy("emails", "Bounced"),
            "unsubscribed": pgettext_lazy("emails, short column heading", "Unsub."),
            "open_rate": _("Open %"), "click_rate": _("Click %"), "reply_rate": _("Reply %"),
            "bounce_rate": _("Bounce %")}


def _table(report: Report, headings: dict[str, str]) -> SafeString:
    """The report as the page's table: ``headings`` (escaped), a row of formatted cells per
    group, the totals last. Built as one string (a team's tables have thousands of cells; the
    template engine costs microseconds per cell): labels are escaped, the cells are figures."""
    columns = report.columns
    rates = [name in EMAIL_RATES for name in columns]
    # The viewer's separators, looked up once per table rather than once per cell.
    thousands, decimal = get_format("THOUSAND_SEPARATOR"), get_format("DECIMAL_SEPARATOR")
    local = str.maketrans({",": thousands, ".": decimal})

    def figure(text: str) -> str:
        return text.translate(local)

    def cells(counts: dict) -> str:
        return "".join(f"<td>{figure(f'{counts[name] * 100:.1f}')}%</td>" if rate
                       else f"<td>{figure(f'{counts[name]:,}')}</td>"
                       for name, rate in zip(columns, rates, strict=True))

    head = "".join(f'<th scope="col">{headings[name]}</th>' for name in columns)
    total = escape(gettext("Total"))
    body = "\n".join(f'<tr><th scope="row">{escape(row.label)}</th>{cells(row.counts)}</tr>'
                      for row in report.rows)
    # Every text in it went through escape(); the figures are numbers.
    return mark_safe(
        f'<table class="analytics-table striped">\n<thead><tr><th scope="col"></th>{head}'
        f'</tr></thead>\n<tbody>\n{body}\n</tbody>\n<tfoot><tr><th scope="row">{total}</th>'
        f'{cells(report.totals)}</tr></tfoot>\n</table>')
