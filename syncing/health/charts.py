"""A small inline SVG per stream: throughput per hour as bars, lag as a line, the last 24
hours. Server-rendered (no script, nothing from a CDN); styled by classes in ``app.css``."""

from __future__ import annotations

from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .registry import StreamHealth, duration_text, unit_text

WIDTH, HEIGHT, TOP = 240, 64, 12


def _number(value: float) -> str:
    return f"{value:.1f}"


def stream_chart(stream: StreamHealth) -> SafeString:
    """The stream's 24 hourly buckets as an SVG: bars scaled to the busiest hour, the lag
    line to the longest lag; each bar's tooltip gives the hour's figures."""
    buckets = stream.history
    if not buckets:
        return mark_safe("")
    width = WIDTH / len(buckets)
    most = max(bucket.throughput for bucket in buckets) or 1
    lags = [bucket.lag_seconds for bucket in buckets]
    longest = max((lag for lag in lags if lag is not None), default=0.0) or 1.0
    room = HEIGHT - TOP

    bars = []
    for index, bucket in enumerate(buckets):
        height = room * bucket.throughput / most
        tip = ngettext("%(hour)s UTC: %(throughput)s, %(count)s error, lag %(lag)s",
                       "%(hour)s UTC: %(throughput)s, %(count)s errors, lag %(lag)s",
                       bucket.errors) % {
            "hour": f"{bucket.hour:%H:%M}",
            "throughput": unit_text(bucket.throughput, stream.unit),
            "count": bucket.errors, "lag": duration_text(bucket.lag_seconds)}
        bars.append((_number(index * width + 0.5), _number(HEIGHT - height),
                     _number(max(width - 1, 1)), _number(height),
                     "chart-bar chart-error" if bucket.errors else "chart-bar", tip))
    bar_markup = format_html_join(
        "", '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{}</title></rect>',
        bars)

    # The lag line breaks where the lag is not known.
    segments, points = [], []
    for index, lag in enumerate(lags):
        if lag is None:
            if points:
                segments.append(points)
            points = []
            continue
        points.append(f"{_number(index * width + width / 2)},"
                      f"{_number(HEIGHT - room * min(lag, longest) / longest)}")
    if points:
        segments.append(points)
    line_markup = format_html_join(
        "", '<polyline points="{}" class="chart-lag" fill="none"/>',
        ((" ".join(segment),) for segment in segments if len(segment) > 1))
    dots = format_html_join(
        "", '<circle cx="{}" cy="{}" r="1.5" class="chart-lag-dot"/>',
        (tuple(segment[0].split(",")) for segment in segments if len(segment) == 1))

    label = _("%(stream)s: at most %(throughput)s an hour, lag up to %(lag)s, last 24 hours") % {
        "stream": stream.label, "throughput": unit_text(most, stream.unit),
        "lag": duration_text(longest if any(lag is not None for lag in lags) else None)}
    return format_html(
        '<svg class="health-chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        'aria-label="{label}" xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
        '<text x="0" y="9" class="chart-text">{most}/h</text>'
        '<text x="{w}" y="9" class="chart-text chart-text-lag" text-anchor="end">{lag}</text>'
        '{bars}{line}{dots}</svg>',
        w=WIDTH, h=HEIGHT, label=label, most=formats.number_format(most, force_grouping=True),
        # Translators: the chart's top-right corner, e.g. "lag 4 min".
        lag=_("lag %(lag)s") % {
            "lag": duration_text(longest) if any(lag is not None for lag in lags) else "-"},
        bars=bar_markup, line=line_markup, dots=dots)
