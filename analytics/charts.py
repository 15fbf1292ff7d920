"""The Analytics page's charts as inline SVG, drawn on the server (no script, nothing from a
CDN; the CSP stays as it is): a line chart over time and horizontal bars per group, each with
axis labels and a legend, the exact figures in the table beside it. Styled by ``app.css``
(``.chart-*``); every point and bar has a tooltip (``<title>``)."""

from __future__ import annotations

import math

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

#: Series colours (classes ``chart-s0`` … in app.css), chosen to stay apart for colour-blind
#: readers and in print.
SERIES = 5
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 44


def _nice_top(most: float) -> tuple[float, float]:
    """A round top for the y axis and its tick step (1, 2 or 5 times a power of ten)."""
    if most <= 0:
        return 1, 1
    raw = most / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(each * power for each in (1, 2, 5, 10) if each * power >= raw)
    if step < 1 and most >= 1:
        step = 1
    return step * math.ceil(most / step), step


def _figure(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def line_chart(title: str, labels: list[str], series: dict[str, list[float]], *,
               percent: bool = False) -> SafeString:
    """One line per series over ``labels`` (days or weeks), with a y axis, dates under the x
    axis (thinned to fit) and a legend."""
    if not labels or not series:
        return mark_safe("")
    most = max((value for values in series.values() for value in values), default=0)
    top, step = (1.0, 0.25) if percent else _nice_top(most)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = len(labels)

    def x(index: int) -> float:
        return LEFT + (plot_w * (index + 0.5) / count)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    ticks = []
    value = 0.0
    while value <= top + 1e-9:
        ticks.append((f"{LEFT}", f"{y(value):.1f}", f"{WIDTH - RIGHT}", f"{y(value):.1f}",
                      f"{LEFT - 6}", f"{y(value) + 4:.1f}", _figure(value, percent)))
        value += step
    grid = format_html_join(
        "", '<line x1="{}" y1="{}" x2="{}" y2="{}" class="chart-grid"/>'
            '<text x="{}" y="{}" class="chart-text" text-anchor="end">{}</text>', ticks)
    every = max(1, math.ceil(count / 8))
    x_labels = format_html_join(
        "", '<text x="{}" y="{}" class="chart-text" text-anchor="middle">{}</text>',
        ((f"{x(index):.1f}", HEIGHT - BOTTOM + 16, label[5:] if len(label) == 10 else label)
         for index, label in enumerate(labels) if index % every == 0))
    lines = []
    for number, (name, values) in enumerate(series.items()):
        points = " ".join(f"{x(index):.1f},{y(value):.1f}" for index, value in enumerate(values))
        dots = format_html_join(
            "", '<circle cx="{}" cy="{}" r="2.5" class="chart-dot chart-s{}">'
                '<title>{}: {} {}</title></circle>',
            ((f"{x(index):.1f}", f"{y(value):.1f}", number % SERIES, labels[index],
              _figure(value, percent), name) for index, value in enumerate(values)))
        lines.append(format_html('<polyline points="{}" class="chart-line chart-s{}" '
                                 'fill="none"/>{}', points, number % SERIES, dots))
    return _frame(title, grid + x_labels + mark_safe("".join(lines)), list(series))


def bar_chart(title: str, labels: list[str], series: dict[str, list[float]], *,
              percent: bool = False) -> SafeString:
    """Horizontal bars: a group per label, a bar per series, the figure at each bar's end."""
    if not labels or not series:
        return mark_safe("")
    most = max((value for values in series.values() for value in values), default=0)
    top = 1.0 if percent else (most or 1)
    label_w, bar_h, gap = 150, 12, 10
    group_h = bar_h * len(series) + gap
    height = TOP + group_h * len(labels) + 28
    plot_w = WIDTH - label_w - 60
    parts = []
    for row, label in enumerate(labels):
        y0 = TOP + row * group_h
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(format_html(
            '<text x="{}" y="{}" class="chart-text" text-anchor="end">{}<title>{}</title>'
            '</text>', label_w - 6, f"{y0 + group_h / 2:.1f}", short, label))
        for number, (name, values) in enumerate(series.items()):
            value = values[row]
            width = plot_w * value / top
            y_bar = y0 + number * bar_h
            parts.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" class="chart-bar chart-s{}">'
                '<title>{}: {} {}</title></rect>'
                '<text x="{}" y="{}" class="chart-text">{}</text>',
                label_w, f"{y_bar:.1f}", f"{max(width, 0.5):.1f}", bar_h - 2, number % SERIES,
                label, _figure(value, percent), name, f"{label_w + width + 4:.1f}",
                f"{y_bar + bar_h - 3:.1f}", _figure(value, percent)))
    return _frame(title, mark_safe("".join(parts)), list(series), height=height)


def _frame(title: str, body: SafeString, names: list[str], *,
           height: int = HEIGHT) -> SafeString:
    legend = format_html_join(
        "", '<g transform="translate({},{})"><rect width="10" height="10" '
            'class="chart-bar chart-s{}"/><text x="14" y="9" class="chart-text">{}</text></g>',
        ((LEFT + index * 130, height - 14, index % SERIES, name)
         for index, name in enumerate(names)))
    return format_html(
        '<svg class="analytics-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{title}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{title}</title>{body}{legend}</svg>',
        w=WIDTH, h=height, title=title, body=body, legend=legend)
