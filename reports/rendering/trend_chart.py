"""One analyte's values over the series, drawn with reportlab graphics (a few shapes).

Pure layout: the chart arrives as final text and reported numbers (``TrendChart``); numbers are
turned into floats here only to place marks. Black-and-white readable: measured values are
filled dots, censored ones open circles labelled as reported ("<2.0", ">5000"), this report's
value a larger dot, the reference interval a light band with solid edges, named in the legend.
The value axis is logarithmic when the values span two decades or more, and says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from reportlab.graphics.shapes import Circle, Drawing, Group, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.platypus import Flowable, Table, TableStyle

from reports.rendering import styles
from reports.rendering.document import TrendChart
from reports.rendering.markup import para

WIDTH = styles.CONTENT_WIDTH / 2 - 6
HEIGHT = 150.0
LEFT, RIGHT, TOP, BOTTOM = 40.0, 14.0, 30.0, 30.0
LOG_SPAN = 100.0  # values spanning this ratio or more are drawn on a log axis
MAX_LABELLED = 8  # beyond this many points only censored ones and this report's are labelled
SMALL = 6.5
LEGEND = (
    "● measured; ○ censored, drawn at its limit and labelled as reported; large dot: this report."
)


def _text(
    x: float, y: float, text: str, *, size: float = SMALL, anchor: str = "start", bold: bool = False
) -> String:
    return String(
        x,
        y,
        text,
        fontName=styles.FONT_BOLD if bold else styles.FONT_REGULAR,
        fontSize=size,
        fillColor=styles.TEXT,
        textAnchor=anchor,
    )


def _tick_text(value: float) -> str:
    text = format(Decimal(repr(value)).normalize(), "f")
    return text[:-2] if text.endswith(".0") else text


def _linear_ticks(low: float, high: float) -> list[float]:
    raw = (high - low) / 4 or 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    top = math.ceil(high / step) * step
    return [low + step * index for index in range(round((top - low) / step) + 1)]


def _value_axis(values: Sequence[float]) -> tuple[bool, float, float, list[float]]:
    """(log scale?, bottom, top, ticks) for ``values`` (plotted values and band limits)."""
    positive = [value for value in values if value > 0]
    if positive and len(positive) == len(values) and max(positive) / min(positive) >= LOG_SPAN:
        bottom = 10.0 ** math.floor(math.log10(min(positive)))
        top = 10.0 ** math.ceil(math.log10(max(positive)))
        if top == bottom:
            top *= 10
        decades = round(math.log10(top / bottom))
        return True, bottom, top, [bottom * 10.0**k for k in range(decades + 1)]
    high = max(values) if values else 1.0
    high = high if high > 0 else 1.0
    ticks = _linear_ticks(0.0, high * 1.08)
    return False, 0.0, ticks[-1], ticks


def drawing(chart: TrendChart) -> Drawing:
    """The chart as a reportlab ``Drawing`` of ``WIDTH`` × ``HEIGHT`` points."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    limits = [float(v) for v in (chart.band_low, chart.band_high) if v is not None and v > 0]
    is_log, bottom, top, ticks = _value_axis([float(p.value) for p in chart.points] + limits)

    def y_of(value: float) -> float:
        if is_log:
            fraction = math.log10(max(value, bottom) / bottom) / math.log10(top / bottom)
        else:
            fraction = (value - bottom) / (top - bottom)
        return BOTTOM + plot_h * min(max(fraction, 0.0), 1.0)

    xs = [p.x for p in chart.points]
    first, last = min(xs) - 0.5, max(xs) + 0.5

    def x_of(day: int) -> float:
        return LEFT + plot_w * (day - first) / (last - first)

    group = Group()
    group.add(_text(0, HEIGHT - 9, chart.title, size=8, bold=True))
    scale = "log scale" if is_log else "linear scale"
    group.add(_text(0, HEIGHT - 20, f"{chart.y_label}, {scale}"))
    if chart.band_high is not None or chart.band_low is not None:
        band_bottom = y_of(float(chart.band_low)) if chart.band_low is not None else BOTTOM
        band_top = y_of(float(chart.band_high)) if chart.band_high is not None else BOTTOM + plot_h
        group.add(
            Rect(
                LEFT,
                band_bottom,
                plot_w,
                band_top - band_bottom,
                fillColor=styles.HEADER_FILL,
                strokeColor=None,
            )
        )
        for edge, value in ((band_bottom, chart.band_low), (band_top, chart.band_high)):
            if value is not None:
                group.add(
                    Line(LEFT, edge, LEFT + plot_w, edge, strokeColor=styles.MUTED, strokeWidth=0.6)
                )
    for tick in ticks:
        y = y_of(tick)
        group.add(Line(LEFT - 3, y, LEFT, y, strokeColor=styles.TEXT, strokeWidth=0.5))
        group.add(_text(LEFT - 5, y - 2.2, _tick_text(tick), anchor="end"))
    for day, label in chart.x_ticks:
        at = x_of(day)
        group.add(Line(at, BOTTOM, at, BOTTOM - 3, strokeColor=styles.TEXT, strokeWidth=0.5))
        group.add(_text(at, BOTTOM - 11, label, anchor="middle"))
    group.add(Line(LEFT, BOTTOM, LEFT, BOTTOM + plot_h, strokeColor=styles.TEXT, strokeWidth=0.7))
    group.add(Line(LEFT, BOTTOM, LEFT + plot_w, BOTTOM, strokeColor=styles.TEXT, strokeWidth=0.7))
    group.add(_text(LEFT + plot_w / 2, BOTTOM - 22, chart.x_label, anchor="middle"))

    coordinates = [(x_of(p.x), y_of(float(p.value))) for p in chart.points]
    group.add(
        PolyLine([c for xy in coordinates for c in xy], strokeColor=styles.TEXT, strokeWidth=0.8)
    )
    labelled = len(chart.points) <= MAX_LABELLED
    for point, (x, y) in zip(chart.points, coordinates, strict=True):
        radius = 3.4 if point.is_current else 2.4
        fill = colors.white if point.is_censored else styles.TEXT
        group.add(Circle(x, y, radius, fillColor=fill, strokeColor=styles.TEXT, strokeWidth=0.9))
        if labelled or point.is_censored or point.is_current:
            below = point.label.startswith(("<", "≤"))
            group.add(_text(x + 4, y - 9 if below else y + 4, point.label, bold=point.is_current))
    result = Drawing(WIDTH, HEIGHT)
    result.add(group)
    return result


def legend(chart: TrendChart) -> str:
    """What the marks mean, then what the chart leaves out: printed under the chart."""
    parts = [LEGEND]
    if chart.band_label:
        parts.insert(0, f"Shaded band: {chart.band_label}.")
    if chart.note:
        parts.append(chart.note)
    return " ".join(parts)


def flowable(charts: Sequence[TrendChart]) -> Flowable:
    """The charts two to a row, each with its legend (a table row stays on one page)."""
    cells: list[Any] = [
        [drawing(chart), para(legend(chart), styles.CHART_NOTE)] for chart in charts
    ]
    rows = [cells[index : index + 2] for index in range(0, len(cells), 2)]
    if len(rows[-1]) == 1:
        rows[-1].append("")
    table = Table(rows, colWidths=(styles.CONTENT_WIDTH / 2,) * 2, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table
