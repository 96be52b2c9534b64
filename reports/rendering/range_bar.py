"""The per-result range bar: where the judged value sits against its reference interval.

One small flowable per result row that draws straight on the canvas (no reportlab Drawing, no
graphics tree): an axis, the interval as a shaded band with black edges, and the value as a
filled diamond, or, for a censored value ("<1.5", ">5000"), a stroke at the measuring limit with
an arrow pointing where the true value lies, never a point. It reads in black-and-white print:
shapes and position carry the meaning, the grey is decoration. The scale is logarithmic when the
value and the interval's limits span more than ``LOG_RATIO`` (the bar then says "log", with a
tick per power of ten). Positions are drawing coordinates only: no number is printed or rounded
here, the row prints the values.
"""

from __future__ import annotations

import math
from decimal import Decimal

from reportlab.platypus import Flowable

from reports.rendering import styles
from reports.rendering.document import RangeBar

BAR_HEIGHT = 10.0
LOG_RATIO = 20.0  # largest/smallest positive number beyond which the scale is logarithmic
_MARGIN = 5.0  # room at each end for the marker and arrows
_BAND_HALF = 2.6
_DIAMOND = 3.2
_ARROW = 9.0


def is_logarithmic(bar: RangeBar) -> bool:
    """True when the value and the interval's limits span more than ``LOG_RATIO``."""
    positive = [number for number in (bar.value, bar.low, bar.high) if number is not None]
    positive = [number for number in positive if number > 0]
    return len(positive) > 1 and max(positive) / min(positive) > Decimal(LOG_RATIO)


def domain(bar: RangeBar) -> tuple[float, float, bool]:
    """(left, right, logarithmic): the span drawn, holding the value and both limits.

    Linear scales start at 0 (concentrations are never negative); logarithmic ones a third of
    the smallest positive number below it, three times the largest above it.
    """
    numbers = [float(n) for n in (bar.value, bar.low, bar.high) if n is not None]
    largest = max(numbers)
    if is_logarithmic(bar):
        smallest = min(n for n in numbers if n > 0)
        return smallest / 3, largest * 3, True
    if largest <= 0:
        return 0.0, 1.0, False
    return 0.0, largest * (1.5 if bar.high is None else 1.25), False


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

    def _x(self, value: float, left: float, right: float, logarithmic: bool) -> float:
        span = self.width - 2 * _MARGIN
        if logarithmic:
            if value <= left:
                return _MARGIN
            fraction = (math.log10(value) - math.log10(left)) / (
                math.log10(right) - math.log10(left)
            )
        else:
            fraction = (value - left) / (right - left)
        return _MARGIN + span * min(1.0, max(0.0, fraction))

    def draw(self) -> None:
        bar, canvas = self.bar, self.canv
        left, right, logarithmic = domain(bar)
        middle = BAR_HEIGHT / 2
        canvas.saveState()
        canvas.setLineWidth(0.5)
        canvas.setStrokeColor(styles.MUTED)
        canvas.line(_MARGIN, middle, self.width - _MARGIN, middle)
        if logarithmic:
            canvas.setFont(styles.FONT_REGULAR, 5)
            canvas.setFillColor(styles.MUTED)
            canvas.drawRightString(self.width, 0, "log")
            for power in range(math.ceil(math.log10(left)), math.floor(math.log10(right)) + 1):
                x = self._x(10.0**power, left, right, logarithmic)
                canvas.line(x, middle - 2.5, x, middle)
        # the interval: a grey band between black edges; an open side has no edge
        start = _MARGIN if bar.low is None else self._x(float(bar.low), left, right, logarithmic)
        end = (
            self.width - _MARGIN
            if bar.high is None
            else self._x(float(bar.high), left, right, logarithmic)
        )
        canvas.setFillColor(styles.BAR_FILL)
        canvas.rect(start, middle - _BAND_HALF, max(end - start, 0.8), 2 * _BAND_HALF, 0, 1)
        canvas.setStrokeColor(styles.TEXT)
        canvas.setLineWidth(0.8)
        for x, closed in ((start, bar.low is not None), (end, bar.high is not None)):
            if closed:
                canvas.line(x, middle - _BAND_HALF - 1, x, middle + _BAND_HALF + 1)
        self._draw_value(self._x(float(bar.value), left, right, logarithmic), middle)
        canvas.restoreState()

    def _draw_value(self, x: float, middle: float) -> None:
        canvas = self.canv
        canvas.setFillColor(styles.TEXT)
        canvas.setStrokeColor(styles.TEXT)
        censoring = self.bar.censoring
        if not censoring:
            path = canvas.beginPath()
            path.moveTo(x, middle + _DIAMOND)
            path.lineTo(x + _DIAMOND, middle)
            path.lineTo(x, middle - _DIAMOND)
            path.lineTo(x - _DIAMOND, middle)
            path.close()
            canvas.drawPath(path, stroke=0, fill=1)
            return
        # a bound, not a point: a stroke at the limit, an arrow towards the possible values
        direction = -1.0 if censoring == "<" else 1.0
        tip = min(max(x + direction * _ARROW, 0.5), self.width - 0.5)
        canvas.setLineWidth(1.2)
        canvas.line(x, middle - _DIAMOND - 0.5, x, middle + _DIAMOND + 0.5)
        canvas.line(x, middle, tip, middle)
        head = canvas.beginPath()
        head.moveTo(tip, middle)
        head.lineTo(tip - direction * 3.2, middle + 2.6)
        head.lineTo(tip - direction * 3.2, middle - 2.6)
        head.close()
        canvas.drawPath(head, stroke=0, fill=1)
