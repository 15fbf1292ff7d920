"""The Analytics page's charts as inline SVG, drawn on the server (no script, nothing from a
CDN; the CSP stays as it is): a line chart over time and horizontal bars per group, each with
axis labels and a legend, the exact figures in the table beside it. Styled by ``app.css``
(``.chart-*``); every point and bar has a tooltip (``<title>``)."""

from __future__ import annotations

import math
from html import escape as _html_escape

from django.utils.safestring import SafeString, mark_safe

#: Series colours (classes ``chart-s0`` … in app.css), chosen to stay apart for colour-blind
#: readers and in print.
SERIES = 5
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 44


def escape(text) -> str:
    """``django.utils.html.escape`` without its lazy-text wrapper (same markup): a chart escapes
    hundreds of texts, and a lazy one (a translated series name) left lazy would be
    translated again each time it is formatted."""
    return _html_escape(str(text))


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
    # Built as plain strings (a chart has hundreds of points): each text is escaped once,
    # the numbers need no escaping.
    xs = [f"{LEFT + plot_w * (index + 0.5) / count:.1f}" for index in range(count)]
    safe_labels = [escape(label) for label in labels]

    def y(value: float) -> str:
        return f"{TOP + plot_h * (1 - value / top):.1f}"

    parts = []
    value = 0.0
    while value <= top + 1e-9:
        at = y(value)
        parts.append(f'<line x1="{LEFT}" y1="{at}" x2="{WIDTH - RIGHT}" y2="{at}" '
                     f'class="chart-grid"/><text x="{LEFT - 6}" '
                     f'y="{TOP + plot_h * (1 - value / top) + 4:.1f}" class="chart-text" '
                     f'text-anchor="end">{_figure(value, percent)}</text>')
        value += step
    every = max(1, math.ceil(count / 8))
    parts.extend(
        f'<text x="{xs[index]}" y="{HEIGHT - BOTTOM + 16}" class="chart-text" '
        f'text-anchor="middle">{escape(label[5:] if len(label) == 10 else label)}</text>'
        for index, label in enumerate(labels) if index % every == 0)
    for number, (name, values) in enumerate(series.items()):
        ys = [y(value) for value in values]
        colour = number % SERIES
        safe_name = escape(name)
        points = " ".join(f"{a},{b}" for a, b in zip(xs, ys, strict=True))
        parts.append(f'<polyline points="{points}" class="chart-line chart-s{colour}" '
                     'fill="none"/>')
        parts.extend(
            f'<circle cx="{xs[index]}" cy="{ys[index]}" r="2.5" class="chart-dot '
            f'chart-s{colour}"><title>{safe_labels[index]}: {_figure(value, percent)} '
            f'{safe_name}</title></circle>' for index, value in enumerate(values))
    return _frame(title, "".join(parts), list(series))


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
    names = [(number % SERIES, escape(name), values)
             for number, (name, values) in enumerate(series.items())]
    parts = []
    for row, label in enumerate(labels):
        y0 = TOP + row * group_h
        short = label if len(label) <= 24 else label[:23] + "…"
        safe_label = escape(label)
        parts.append(f'<text x="{label_w - 6}" y="{y0 + group_h / 2:.1f}" class="chart-text" '
                     f'text-anchor="end">{escape(short)}<title>{safe_label}</title></text>')
        for number, (colour, safe_name, values) in enumerate(names):
            value = values[row]
            width = plot_w * value / top
            y_bar = y0 + number * bar_h
            figure = _figure(value, percent)
            parts.append(
                f'<rect x="{label_w}" y="{y_bar:.1f}" width="{max(width, 0.5):.1f}" '
                f'height="{bar_h - 2}" class="chart-bar chart-s{colour}">'
                f'<title>{safe_label}: {figure} {safe_name}</title></rect>'
                f'<text x="{label_w + width + 4:.1f}" y="{y_bar + bar_h - 3:.1f}" '
                f'class="chart-text">{figure}</text>')
    return _frame(title, "".join(parts), list(series), height=height)


def _frame(title: str, body: str, names: list[str], *, height: int = HEIGHT) -> SafeString:
    """The ``<svg>`` around ``body`` (markup already escaped), with its title and legend."""
    legend = "".join(
        f'<g transform="translate({LEFT + index * 130},{height - 14})"><rect width="10" '
        f'height="10" class="chart-bar chart-s{index % SERIES}"/><text x="14" y="9" '
        f'class="chart-text">{escape(name)}</text></g>' for index, name in enumerate(names))
    safe_title = escape(title)
    # Every text in it went through escape().
    return mark_safe(
        f'<svg class="analytics-chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{safe_title}" xmlns="http://www.w3.org/2000/svg"><title>{safe_title}'
        f'</title>{body}{legend}</svg>')
