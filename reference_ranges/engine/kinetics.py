"""Serial panels of one patient: change from the previous panel and fold change from baseline.

Pure and clock-free: collection times and the optional anchor event (e.g. CAR-T infusion =
day 0) are passed in. Units are never converted and a censored result ("<2", ">5000") is never
used as a number: any change, fold or change code that would need one is ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal

from reference_ranges.engine.decimals import COMPARATOR_SYMBOLS, plain
from reference_ranges.engine.patterns import SerialPoint
from reference_ranges.engine.types import Measurement

__all__ = [
    "FOLD_CONTEXT",
    "AnalyteTrend",
    "AnalyteTrendPoint",
    "ChangeRule",
    "format_day",
    "serial_trends",
]

FOLD_CONTEXT = Context(prec=6)
"""Fold changes are exact Decimal divisions rounded to 6 significant digits (half-even)."""

# Differences and products of reported values are exact: 100 digits is far beyond any result.
_EXACT = Context(prec=100)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ChangeRule:
    """When a change from the previous panel is significant (HL7 "U" up / "D" down).

    ``rise_fold=2`` flags "U" when a result is at least twice the previous one; ``fall_fold=2``
    flags "D" when it is at most half of it. Both, when given, must be greater than 1.
    ``source`` cites where the rule comes from; ``verified`` says whether it was checked there.
    """

    analyte: str
    rise_fold: Decimal | None
    fall_fold: Decimal | None
    source: str
    verified: bool

    def __post_init__(self) -> None:
        for name, fold in (("rise_fold", self.rise_fold), ("fall_fold", self.fall_fold)):
            if fold is not None and (not fold.is_finite() or fold <= 1):
                raise ValueError(f"ChangeRule {self.analyte}: {name} must be greater than 1")


@dataclass(frozen=True, slots=True)
class AnalyteTrendPoint:
    """One result of an analyte in one panel of the series.

    ``day``: calendar days from the anchor's date, ``collected_at.date() - anchor.date()``, as
    clinical day numbering counts them (the infusion date is day 0, the next date day +1,
    negative before; ``None`` without an anchor). Callers pass both datetimes in the lab's
    local time zone so that "date" means the date on the lab's calendar. ``value_text`` is the
    result as reported, without the unit (the trend's unit): "12.4", "<2.0", ">5000".
    ``value`` is ``None`` when censored.
    ``change_from_previous`` is this value minus the previous panel's (exact), ``None`` when
    either is censored or the previous panel has no result for the analyte in this unit.
    ``fold_from_baseline`` is this value / the baseline's, rounded to :data:`FOLD_CONTEXT`
    (6 significant digits), ``None`` when either is censored, the baseline has no result in
    this unit, or the baseline is zero. ``change_code`` is "U" / "D" only when a
    :class:`ChangeRule` for the analyte says the change from the previous panel is significant.
    """

    panel_key: str
    collected_at: datetime
    day: int | None
    value_text: str
    value: Decimal | None
    change_from_previous: Decimal | None
    fold_from_baseline: Decimal | None
    change_code: str | None


@dataclass(frozen=True, slots=True)
class AnalyteTrend:
    """The results of one analyte in one unit across the series, oldest first.

    An analyte reported in two units (e.g. sIL-2R in U/mL and in pg/mL) has one trend per unit:
    results in different units are never compared.
    """

    analyte: str
    unit: str
    points: tuple[AnalyteTrendPoint, ...]


def _day(collected_at: datetime, anchor: datetime | None) -> int | None:
    return None if anchor is None else (collected_at.date() - anchor.date()).days


def format_day(day: int) -> str:
    """Return "day 0", "day +7" or "day -2" (ASCII hyphen-minus: every font and search has it)."""
    if day > 0:
        return f"day +{day}"
    return f"day {day}"


def _value_text(measurement: Measurement) -> str:
    return f"{COMPARATOR_SYMBOLS[measurement.comparator]}{plain(measurement.value)}"


def _exact_value(measurement: Measurement | None) -> Decimal | None:
    if measurement is None or measurement.comparator.is_censored:
        return None
    return measurement.value if measurement.value.is_finite() else None


_Key = tuple[str, str]


def _by_analyte_and_unit(point: SerialPoint) -> dict[_Key, Measurement]:
    found: dict[_Key, Measurement] = {}
    for measurement in point.measurements:
        key = (measurement.analyte, measurement.unit)
        if key in found:
            raise ValueError(
                f"panel {point.panel_key} reports {measurement.analyte} in {measurement.unit} "
                "more than once"
            )
        found[key] = measurement
    return found


def _baseline(
    ordered: Sequence[SerialPoint], anchor: datetime | None, baseline_key: str | None
) -> SerialPoint | None:
    if baseline_key is not None:
        for point in ordered:
            if point.panel_key == baseline_key:
                return point
        raise ValueError(f"baseline panel {baseline_key} is not in the series")
    if anchor is not None:
        before = [point for point in ordered if point.collected_at <= anchor]
        return before[-1] if before else None
    return ordered[0] if ordered else None


def _change_code(
    rule: ChangeRule | None, previous: Decimal | None, current: Decimal | None
) -> str | None:
    if rule is None or previous is None or current is None or previous == current:
        return None
    rise, fall = rule.rise_fold, rule.fall_fold
    if (
        rise is not None
        and current > previous >= _ZERO
        and current >= _EXACT.multiply(previous, rise)
    ):
        return "U"
    if (
        fall is not None
        and _ZERO <= current < previous
        and previous >= _EXACT.multiply(current, fall)
    ):
        return "D"
    return None


def serial_trends(
    points: Sequence[SerialPoint],
    anchor: datetime | None,
    baseline_key: str | None = None,
    change_rules: Sequence[ChangeRule] = (),
) -> list[AnalyteTrend]:
    """One trend per (analyte, unit) across the patient's panels, in order of first appearance.

    ``points`` are the panels oldest first, the current last (sorted here by ``collected_at``,
    keeping the given order for equal times). The baseline is the panel ``baseline_key`` when
    given; otherwise, with an ``anchor``, the last panel collected at or before the anchor
    (none if every panel is after it: a post-anchor panel is never a baseline); otherwise the
    first panel. "Previous" is the panel immediately before in the series. ``anchor`` and the
    collection times must be alike (all timezone-aware, or all naive).

    Raises ``ValueError`` for a ``baseline_key`` not in the series, two panels with one key,
    one panel reporting an analyte twice in one unit, or two change rules for one analyte.
    """
    ordered = sorted(points, key=lambda point: point.collected_at)
    keys = [point.panel_key for point in ordered]
    if len(set(keys)) != len(keys):
        raise ValueError("two panels of the series have the same key")
    rules: dict[str, ChangeRule] = {}
    for rule in change_rules:
        if rule.analyte in rules:
            raise ValueError(f"two change rules for {rule.analyte}")
        rules[rule.analyte] = rule
    baseline = _baseline(ordered, anchor, baseline_key)
    indexed = [_by_analyte_and_unit(point) for point in ordered]
    baseline_results = {} if baseline is None else indexed[ordered.index(baseline)]

    trend_keys: list[_Key] = []
    for results in indexed:
        trend_keys.extend(key for key in results if key not in trend_keys)

    trends = []
    for key in trend_keys:
        analyte, unit = key
        base_value = _exact_value(baseline_results.get(key))
        trend_points = []
        for position, point in enumerate(ordered):
            measurement = indexed[position].get(key)
            if measurement is None:
                continue
            value = _exact_value(measurement)
            previous = _exact_value(indexed[position - 1].get(key)) if position else None
            change = (
                _EXACT.subtract(value, previous)
                if value is not None and previous is not None
                else None
            )
            fold = (
                FOLD_CONTEXT.divide(value, base_value)
                if value is not None and base_value is not None and base_value != _ZERO
                else None
            )
            trend_points.append(
                AnalyteTrendPoint(
                    panel_key=point.panel_key,
                    collected_at=point.collected_at,
                    day=_day(point.collected_at, anchor),
                    value_text=_value_text(measurement),
                    value=value,
                    change_from_previous=change,
                    fold_from_baseline=fold,
                    change_code=_change_code(rules.get(analyte), previous, value),
                )
            )
        trends.append(AnalyteTrend(analyte=analyte, unit=unit, points=tuple(trend_points)))
    return trends
