"""Which results of a patient may be compared across panels: one series per key.

Two results belong to one series only when they are of the same analyte, in the same unit,
on the same specimen type. The method and instrument join the key here when results carry
them: :func:`series_key` is the one place that decides comparability, for the trend table,
the trend chart and the fold-rise pattern alike. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_ranges.engine.types import Measurement

__all__ = ["SeriesKey", "series_key"]


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """What a result must share with another to be compared with it."""

    analyte: str
    unit: str
    specimen_type: str


def series_key(specimen_type: str, measurement: Measurement) -> SeriesKey:
    """The series of ``measurement`` taken on a specimen of ``specimen_type``."""
    return SeriesKey(
        analyte=measurement.analyte, unit=measurement.unit, specimen_type=specimen_type
    )
