"""Which results of a patient may be compared across panels: one series per key.

Two results belong to one series only when they are of the same analyte, in the same unit,
on the same specimen type (the key's *line*), and by comparable methods. :func:`series_key`
and the rules below are the one place that decides comparability, for the trend table, the
trend chart and the fold-rise pattern alike. Pure Python.

The method rule (issue 11, item 7). Methods are compared exactly as the lab stated them (two
spellings are two methods: never guessed to be one). A blank method means "not stated":

* two results compare when their methods are equal, or when either is blank: a lab that never
  states methods keeps its trends;
* two *stated, different* methods never compare;
* a series is drawn in one stated method at most (:func:`series_method`): this report's result's
  method when it states one, else the one method the other results of the line state. When
  this report's result states none and the others state more than one, no stated method joins
  (picking one would be a guess): only results that state none compare.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reference_ranges.engine.types import Measurement

__all__ = ["SeriesKey", "series_admits", "series_key", "series_method"]


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """What a result must share with another to be compared with it; ``method`` "" when not
    stated (see the module's method rule)."""

    analyte: str
    unit: str
    specimen_type: str
    method: str = ""

    @property
    def line(self) -> SeriesKey:
        """The key without its method: results on one line compare when their methods allow."""
        return SeriesKey(self.analyte, self.unit, self.specimen_type) if self.method else self


def series_key(specimen_type: str, measurement: Measurement) -> SeriesKey:
    """The series of ``measurement`` taken on a specimen of ``specimen_type``."""
    return SeriesKey(
        analyte=measurement.analyte,
        unit=measurement.unit,
        specimen_type=specimen_type,
        method=measurement.method,
    )


def series_method(current: SeriesKey | None, others: Iterable[SeriesKey]) -> str | None:
    """The method the series of one line is drawn in.

    ``current`` is this report's result on the line (``None`` when it has none), ``others``
    the earlier results on it. Returns the current result's stated method; else the one method
    the others state; "" when none states one; ``None`` when the current states none and the
    others state more than one (then only results that state none compare: no stated method
    is picked).
    """
    if current is not None and current.method:
        return current.method
    stated = {key.method for key in others if key.method}
    if len(stated) > 1:
        return None
    return stated.pop() if stated else ""


def series_admits(method: str | None, key: SeriesKey) -> bool:
    """Whether the result ``key`` joins a series drawn in ``method`` (:func:`series_method`)."""
    if method is None:
        return not key.method
    return not method or not key.method or key.method == method
