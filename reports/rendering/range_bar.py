"""The per-result range bar: where the judged value sits against its reference interval.

One small flowable per result row that draws straight on the canvas (no reportlab Drawing, no
graphics tree): an axis, the interval as a shaded band with black edges, and the value as a
filled diamond, or, for a censored value ("<1.5", ">5000"), a stroke at the measuring limit with
a dashed arrow over every value it may stand for, to the end of the bar: never a point. It
reads in black-and-white print: shapes and position carry the meaning, the grey is decoration.
The scale is logarithmic when the value and the interval's limits span more than ``LOG_RATIO``
(the bar then says "log", with a tick per power of ten). Positions are drawing coordinates
only: no number is printed or rounded here, the row prints the values. ``geometry`` lays a bar
out (pure, tested); the flowable paints it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from reportlab.platypus import Flowable

from reports.rendering import styles
from reports.rendering.document import RangeBar

BAR_HEIGHT = 10.0
LOG_RATIO = 20.0  # largest/smallest positive number beyond which the scale is logarithmic
_MARGIN = 5.0  # room at each end for the marker and arrows
_BAND_HALF = 2.6
_DIAMOND = 3.2
_LABEL = 11.0  # room at the right for "log"


def is_logarithmic(bar: RangeBar) -> bool:
    """True when the value and the interval's limits span more than ``LOG_RATIO``."""
    positive = [number for number in (bar.value, bar.low, bar.high) if number is not None]
    positive = [number for number in positive if number > 0]
    return len(positive) > 1 and max(positive) / min(positive) > Decimal(LOG_RATIO)


def domain(bar: RangeBar) -> tuple[float, float, bool]:
    """(left, right, logarithmic): the span drawn, holding the value and both limits.

    Linear scales start at 0 (concentrations are never negative); logarithmic ones a third of
    the smallest positive number below it, three times the largest above it (ten times for a
    value reported above a measuring limit, so that its arrow shows).
    """
    numbers = [float(n) for n in (bar.value, bar.low, bar.high) if n is not None]
    largest = max(numbers)
    # a value bounded below (">5000") gets room on the right for its arrow
    above = bar.censoring == ">"
    if is_logarithmic(bar):
        smallest = min(n for n in numbers if n > 0)
        return smallest / 3, largest * (10 if above else 3), True
    if largest <= 0:
        return 0.0, 1.0, False
    return 0.0, largest * (1.5 if bar.high is None or above else 1.25), False


@dataclass(frozen=True, slots=True)
class BarGeometry:
    """Where each part of a range bar goes, in points from the bar's left edge."""

    axis: tuple[float, float]  # the axis line, start and end
    band: tuple[float, float]  # the interval's band, start and end
    band_edges: tuple[float, ...]  # the band's closed (bounded) sides
    value_x: float  # the value, or the measuring limit a censored value is bounded by
    marker: str  # "point" (an exact value), "below" or "above" (a bound: arrow to that end)
    arrow_tip: float | None  # where a bound's arrow ends (the end of the bar); None for a point
    decade_ticks: tuple[float, ...]  # one per power of ten on a logarithmic scale
    logarithmic: bool


def geometry(bar: RangeBar, width: float) -> BarGeometry:
    """Lay ``bar`` out across ``width`` points (pure: no drawing)."""
    left, right, logarithmic = domain(bar)
    end = width - _MARGIN - (_LABEL if logarithmic else 0.0)

    def x_of(number: float) -> float:
        if logarithmic:
            if number <= left:
                return _MARGIN
            fraction = (math.log10(number) - math.log10(left)) / (
                math.log10(right) - math.log10(left)
            )
        else:
            fraction = (number - left) / (right - left)
        return _MARGIN + (end - _MARGIN) * min(1.0, max(0.0, fraction))

    band_start = _MARGIN if bar.low is None else x_of(float(bar.low))
    band_end = end if bar.high is None else x_of(float(bar.high))
    edges = tuple(
        x for x, bounded in ((band_start, bar.low), (band_end, bar.high)) if bounded is not None
    )
    ticks: tuple[float, ...] = ()
    if logarithmic:
        powers = range(math.ceil(math.log10(left)), math.floor(math.log10(right)) + 1)
        ticks = tuple(x_of(10.0**power) for power in powers)
    marker = {"": "point", "<": "below", ">": "above"}[bar.censoring]
    tip = {"point": None, "below": 0.5, "above": end + _MARGIN - 0.5}[marker]
    return BarGeometry(
        axis=(_MARGIN, end),
        band=(band_start, band_end),
        band_edges=edges,
        value_x=x_of(float(bar.value)),
        marker=marker,
        arrow_tip=tip,
        decade_ticks=ticks,
        logarithmic=logarithmic,
    )


class RangeBarFlowable(Flowable):  # type: ignore[misc]  # reportlab ships no type hints
    """Draws one ``RangeBar`` across the width its table cell gives it."""

    def __init__(self, bar: RangeBar) -> None:
        super().__init__()
        self.bar = bar
        self.width = 0.0
        self.height = BAR_HEIGHT

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return available_width, BAR_HEIGHT

    def draw(self) -> None:
        shape, canvas = geometry(self.bar, self.width), self.canv
        middle = BAR_HEIGHT / 2
        canvas.saveState()
        canvas.setLineWidth(0.5)
        canvas.setStrokeColor(styles.MUTED)
        canvas.line(shape.axis[0], middle, shape.axis[1], middle)
        if shape.logarithmic:
            canvas.setFont(styles.FONT_REGULAR, 5.5)
            canvas.setFillColor(styles.MUTED)
            canvas.drawRightString(self.width, middle - 2, "log")
            for x in shape.decade_ticks:
                canvas.line(x, middle - 2.5, x, middle)
        # the interval: a grey band between black edges; an open side has no edge
        start, end = shape.band
        canvas.setFillColor(styles.BAR_FILL)
        canvas.rect(start, middle - _BAND_HALF, max(end - start, 0.8), 2 * _BAND_HALF, 0, 1)
        canvas.setStrokeColor(styles.TEXT)
        canvas.setFillColor(styles.TEXT)
        canvas.setLineWidth(0.8)
        for x in shape.band_edges:
            canvas.line(x, middle - _BAND_HALF - 1, x, middle + _BAND_HALF + 1)
        self._draw_value(shape, middle)
        canvas.restoreState()

    def _draw_value(self, shape: BarGeometry, middle: float) -> None:
        canvas, x = self.canv, shape.value_x
        if shape.arrow_tip is None:
            path = canvas.beginPath()
            path.moveTo(x, middle + _DIAMOND)
            path.lineTo(x + _DIAMOND, middle)
            path.lineTo(x, middle - _DIAMOND)
            path.lineTo(x - _DIAMOND, middle)
            path.close()
            canvas.drawPath(path, stroke=0, fill=1)
            return
        # a bound, not a point: a stroke at the limit, a dashed arrow over every possible value
        tip = shape.arrow_tip
        direction = -1.0 if shape.marker == "below" else 1.0
        canvas.setLineWidth(1.2)
        canvas.line(x, middle - _DIAMOND - 0.5, x, middle + _DIAMOND + 0.5)
        canvas.setDash(2, 1.5)
        canvas.line(x, middle, tip - direction * 3, middle)
        canvas.setDash()
        head = canvas.beginPath()
        head.moveTo(tip, middle)
        head.lineTo(tip - direction * 3.2, middle + 2.6)
        head.lineTo(tip - direction * 3.2, middle - 2.6)
        head.close()
        canvas.drawPath(head, stroke=0, fill=1)
