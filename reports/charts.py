"""Small bar charts drawn on the server as inline SVG.

The site's CSP is `style-src 'self'`, so a chart carries no <style> element and no style=
attribute: colours and sizes are presentation attributes, which dashboard.css may override (for
print and narrow screens). Horizontal positions are percentages of the chart's width and vertical
ones pixels, so the chart stretches to its column while its text keeps a readable size at 360 px.

Every chart is role="img" with an aria-label and a <title> that state its numbers, and each bar
prints its value as text: colour is never the only carrier. Every label is escaped.
"""

from django.utils.html import format_html
from django.utils.safestring import mark_safe

BAR = "#b5121b"
TEXT = "#1f2329"
MUTED = "#5c6370"
LINE = "#b7bcc6"
TRACK = "#f1f2f4"

COLUMN_HEIGHT = 180  # the tallest column, in px
TOP = 20  # room for the value over the tallest column
BOTTOM = 24  # room for the labels under the baseline
DENSE = 24  # with more columns than this, values and most labels give way (see the table)

ROW = 30  # one bar of a horizontal chart, in px
LABEL_WIDTH = 30  # % of the width for the labels of a horizontal chart
BAR_WIDTH = 56  # % of the width for its longest bar; the rest holds the value


def _pct(value):
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def _number(value):
    return str(value)


def _summary(title, points, unit):
    """What a screen reader hears: the title, then every label with its value."""
    parts = "，".join(f"{label}{_number(value)}{unit}" for label, value, *_ in points)
    return f"{title}：{parts}" if parts else f"{title}：无数据"


def _svg(title, points, unit, height, css_class, body):
    label = _summary(title, points, unit)
    return format_html(
        '<svg class="chart {}" role="img" aria-label="{}" width="100%" height="{}"'
        ' xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}</svg>',
        css_class,
        label,
        height,
        label,
        body,
    )


def column_chart(points, *, title, unit=""):
    """Vertical bars, one per point: `points` is [(label, value)] or [(label, value, tick)].

    `tick` (default: the label) is the text under the column; an empty tick leaves it out.
    Past DENSE columns the values over the columns give way (each column keeps its <title>, and
    the aria-label and the page's table beside the chart hold every value).
    """
    points = [(p[0], p[1], p[2] if len(p) > 2 else p[0]) for p in points]
    n = len(points)
    height = TOP + COLUMN_HEIGHT + BOTTOM
    peak = max((value for _, value, _ in points), default=0) or 1
    dense = n > DENSE
    slot = 100 / n if n else 100
    bar = slot * (0.6 if not dense else 0.75)
    baseline = TOP + COLUMN_HEIGHT
    parts = [
        format_html(
            '<line class="chart-axis" x1="0" x2="100%" y1="{}" y2="{}" stroke="{}"'
            ' stroke-width="1"/>',
            baseline + 0.5,
            baseline + 0.5,
            LINE,
        )
    ]
    for i, (label, value, tick) in enumerate(points):
        bar_height = round(COLUMN_HEIGHT * value / peak, 1)
        x = slot * i + (slot - bar) / 2
        centre = slot * i + slot / 2
        parts.append(
            format_html(
                '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}" fill="{}">'
                "<title>{}：{}{}</title></rect>",
                _pct(x),
                baseline - bar_height,
                _pct(bar),
                bar_height,
                BAR,
                label,
                _number(value),
                unit,
            )
        )
        if not dense:
            parts.append(
                format_html(
                    '<text class="chart-value" x="{}" y="{}" text-anchor="middle" font-size="12"'
                    ' fill="{}">{}</text>',
                    _pct(centre),
                    baseline - bar_height - 5,
                    TEXT,
                    _number(value),
                )
            )
        if tick:
            parts.append(
                format_html(
                    '<text class="chart-tick" x="{}" y="{}" text-anchor="middle" font-size="12"'
                    ' fill="{}">{}</text>',
                    _pct(centre),
                    baseline + 17,
                    MUTED,
                    tick,
                )
            )
    css_class = "chart-columns chart-columns-many" if n > 12 else "chart-columns"
    return _svg(title, points, unit, height, css_class, mark_safe("".join(parts)))


def bar_chart(points, *, title, unit=""):
    """Horizontal bars with their labels on the left and values on the right: [(label, value)]."""
    peak = max((value for _, value in points), default=0) or 1
    parts = []
    for i, (label, value) in enumerate(points):
        y = i * ROW
        width = BAR_WIDTH * value / peak
        parts.append(
            format_html(
                '<text class="chart-label" x="0" y="{}" font-size="13" fill="{}">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<text class="chart-value" x="{}" y="{}" font-size="13" fill="{}">{}</text>',
                y + 19,
                TEXT,
                label,
                _pct(LABEL_WIDTH),
                y + 7,
                _pct(BAR_WIDTH),
                16,
                TRACK,
                _pct(LABEL_WIDTH),
                y + 7,
                _pct(width),
                16,
                BAR,
                _pct(LABEL_WIDTH + width + 1.5),
                y + 20,
                TEXT,
                f"{_number(value)}{unit}",
            )
        )
    return _svg(
        title, points, unit, max(len(points), 1) * ROW, "chart-bars", mark_safe("".join(parts))
    )
