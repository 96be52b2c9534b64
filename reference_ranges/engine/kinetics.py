"""Serial panels of one patient: change from the previous panel and fold change from baseline.

Pure and clock-free: collection times and the optional anchor event (e.g. CAR-T infusion =
day 0) are passed in. Units are never converted and a censored result ("<2", ">5000") is never
used as a number: any change, fold or change code that would need one is ``None``.

Two rules hold for every trend and fold change (issue 11, item 7), here and in the fold-rise
pattern, which reads the baseline :func:`baseline_choose` picks:

* the baseline is a panel the lab marked as baseline, or else the last panel collected before
  the anchor event (pre-infusion); without either there is no baseline (the first panel on
  file is not one);
* results are compared only within one series (:func:`reference_ranges.engine.series.series_key`:
  analyte, unit, specimen type, method): earlier panels of another specimen type are set apart,
  never drawn beside this one, and so is an earlier result by another stated method (a blank
  method compares with any: the rule is in :mod:`reference_ranges.engine.series`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal
from enum import StrEnum

from reference_ranges.engine.decimals import COMPARATOR_SYMBOLS, plain
from reference_ranges.engine.patterns import SerialPoint
from reference_ranges.engine.series import SeriesKey, series_admits, series_key, series_method
from reference_ranges.engine.types import Measurement

__all__ = [
    "FOLD_CONTEXT",
    "AnalyteTrend",
    "AnalyteTrendPoint",
    "Baseline",
    "BaselineBasis",
    "ChangeRule",
    "NoBaseline",
    "SerialHistory",
    "anchor_day",
    "baseline_choose",
    "format_day",
    "serial_history",
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
    either is censored or the previous panel has no result in this series.
    ``fold_from_baseline`` is this value / the baseline's, rounded to :data:`FOLD_CONTEXT`
    (6 significant digits), ``None`` when either is censored, the baseline has no result in
    this series (another unit, or another stated method), or the baseline is zero.
    ``change_code`` is "U" / "D" only when a :class:`ChangeRule` for the analyte says the
    change from the previous panel is significant. ``method`` is the result's method as the
    lab stated it ("" when not stated).
    """

    panel_key: str
    collected_at: datetime
    day: int | None
    value_text: str
    value: Decimal | None
    change_from_previous: Decimal | None
    fold_from_baseline: Decimal | None
    change_code: str | None
    method: str = ""


@dataclass(frozen=True, slots=True)
class AnalyteTrend:
    """The results of one series (analyte, unit, specimen type, method) across the panels,
    oldest first.

    An analyte reported in two units (e.g. sIL-2R in U/mL and in pg/mL) has one trend per unit:
    results in different units, or on different specimen types, are never compared. ``method``
    is the one stated method of the series ("" when its results state none; see
    :func:`series_method`); ``points`` are by that method or state none. ``set_apart`` holds the
    results on the same line by another stated method, oldest first: never compared (no change,
    no fold), only named.
    """

    analyte: str
    unit: str
    specimen_type: str
    points: tuple[AnalyteTrendPoint, ...]
    method: str = ""
    set_apart: tuple[AnalyteTrendPoint, ...] = ()


class BaselineBasis(StrEnum):
    """Why a panel is the baseline."""

    MARKED = "marked"  # the lab marked the panel as baseline
    BEFORE_ANCHOR = "before_anchor"  # the last panel collected before the anchor event


class NoBaseline(StrEnum):
    """Why no fold change can be computed."""

    CURRENT_IS_MARKED = "current_is_marked"  # this panel is itself the marked baseline
    OTHER_SPECIMEN = "other_specimen"  # the only candidates are of another specimen type
    NONE_BEFORE_ANCHOR = "none_before_anchor"  # every earlier panel is after the anchor
    NO_ANCHOR = "no_anchor"  # no anchor event and no marked panel


@dataclass(frozen=True, slots=True)
class Baseline:
    """The panel fold changes are measured from (``point``) and why, or why there is none.

    Exactly one of ``basis`` and ``missing`` is set. ``other_specimen_types`` names the specimen
    types of the candidates set apart (``missing`` = ``OTHER_SPECIMEN``), sorted.
    """

    point: SerialPoint | None
    basis: BaselineBasis | None = None
    missing: NoBaseline | None = None
    other_specimen_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SerialHistory:
    """What a panel's report shows of the patient's series.

    ``compared``: the panels of the current panel's specimen type, oldest first (ties broken by
    panel key), the current last; ``excluded``: earlier panels of other specimen types, never
    compared with it; ``trends`` (one per series) are computed over ``compared`` only, and are
    empty when ``compared`` holds the current panel alone.
    """

    baseline: Baseline
    compared: tuple[SerialPoint, ...]
    excluded: tuple[SerialPoint, ...]
    trends: tuple[AnalyteTrend, ...]


def anchor_day(collected_at: datetime, anchor: datetime | None) -> int | None:
    """Calendar days from the anchor's date (see :class:`AnalyteTrendPoint`); None without one."""
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


def _by_series(point: SerialPoint) -> dict[SeriesKey, Measurement]:
    """``point``'s results by line (the series key without its method)."""
    found: dict[SeriesKey, Measurement] = {}
    for measurement in point.measurements:
        key = series_key(point.specimen_type, measurement).line
        if key in found:
            raise ValueError(
                f"panel {point.panel_key} reports {measurement.analyte} in {measurement.unit} "
                "more than once"
            )
        found[key] = measurement
    return found


def _collection_order(point: SerialPoint) -> tuple[datetime, str]:
    return point.collected_at, point.panel_key


def baseline_choose(
    history: Sequence[SerialPoint], current: SerialPoint, anchor: datetime | None
) -> Baseline:
    """The baseline of ``current`` among its earlier panels ``history``: the one rule.

    Only panels of ``current``'s specimen type qualify. The latest one the lab marked as
    baseline wins; otherwise, with an ``anchor`` (e.g. CAR-T infusion), the last panel collected
    strictly before it (pre-infusion); otherwise there is none, and :class:`NoBaseline` says
    why. A panel marked as baseline has no baseline itself. ``anchor`` and the collection times
    must be alike (all timezone-aware, or all naive).
    """
    if current.is_marked_baseline:
        return Baseline(point=None, missing=NoBaseline.CURRENT_IS_MARKED)
    ordered = sorted(history, key=_collection_order)

    def qualifies(point: SerialPoint) -> bool:
        return point.is_marked_baseline or (anchor is not None and point.collected_at < anchor)

    same = [point for point in ordered if point.specimen_type == current.specimen_type]
    marked = [point for point in same if point.is_marked_baseline]
    if marked:
        return Baseline(point=marked[-1], basis=BaselineBasis.MARKED)
    before = [point for point in same if qualifies(point)]
    if before:
        return Baseline(point=before[-1], basis=BaselineBasis.BEFORE_ANCHOR)
    elsewhere = sorted({point.specimen_type for point in ordered if qualifies(point)})
    if elsewhere:
        return Baseline(
            point=None,
            missing=NoBaseline.OTHER_SPECIMEN,
            other_specimen_types=tuple(elsewhere),
        )
    missing = NoBaseline.NO_ANCHOR if anchor is None else NoBaseline.NONE_BEFORE_ANCHOR
    return Baseline(point=None, missing=missing)


def serial_history(
    history: Sequence[SerialPoint],
    current: SerialPoint,
    anchor: datetime | None,
    change_rules: Sequence[ChangeRule] = (),
) -> SerialHistory:
    """The series ``current``'s report shows: its baseline (:func:`baseline_choose`), the
    earlier panels it is compared with (same specimen type), those set apart, and the trends.

    Raises what :func:`serial_trends` raises.
    """
    baseline = baseline_choose(history, current, anchor)
    ordered = sorted(history, key=_collection_order)
    compared = (
        *(point for point in ordered if point.specimen_type == current.specimen_type),
        current,
    )
    excluded = tuple(point for point in ordered if point.specimen_type != current.specimen_type)
    trends = (
        serial_trends(
            compared,
            anchor=anchor,
            baseline_key=baseline.point.panel_key if baseline.point else None,
            change_rules=change_rules,
            current_key=current.panel_key,
        )
        if len(compared) > 1
        else []
    )
    return SerialHistory(
        baseline=baseline, compared=compared, excluded=excluded, trends=tuple(trends)
    )


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
    current_key: str | None = None,
) -> list[AnalyteTrend]:
    """One trend per series (analyte, unit, specimen type, method: :func:`series_key`) across
    the patient's panels, in order of first appearance.

    ``points`` are the panels (sorted here by ``collected_at``, then panel key);
    ``current_key`` is the panel the trends are drawn for (default: the latest): its result's
    method decides the method of each series (:func:`series_method`), and an earlier result
    by another stated method is set apart (:attr:`AnalyteTrend.set_apart`), never compared.
    Fold changes are computed from the panel ``baseline_key`` only (choose it with
    :func:`baseline_choose`), and only when the baseline's result is in the series; without it
    there is none. "Previous" is the panel immediately before in the series.
    ``anchor`` (day 0) and the collection times must be alike (all aware, or all naive).

    Raises ``ValueError`` for a ``baseline_key`` or ``current_key`` not in the series, two
    panels with one key, one panel reporting an analyte twice in one unit, or two change rules
    for one analyte.
    """
    ordered = sorted(points, key=_collection_order)
    keys = [point.panel_key for point in ordered]
    if len(set(keys)) != len(keys):
        raise ValueError("two panels of the series have the same key")
    rules: dict[str, ChangeRule] = {}
    for rule in change_rules:
        if rule.analyte in rules:
            raise ValueError(f"two change rules for {rule.analyte}")
        rules[rule.analyte] = rule
    if baseline_key is not None and baseline_key not in keys:
        raise ValueError(f"baseline panel {baseline_key} is not in the series")
    if current_key is not None and current_key not in keys:
        raise ValueError(f"current panel {current_key} is not in the series")
    current_position = keys.index(current_key) if current_key is not None else len(keys) - 1
    indexed = [_by_series(point) for point in ordered]

    lines: list[SeriesKey] = []
    for results in indexed:
        lines.extend(line for line in results if line not in lines)

    trends = []
    for line in lines:
        found = [
            (position, series_key(ordered[position].specimen_type, results[line]))
            for position, results in enumerate(indexed)
            if line in results
        ]
        current = next((key for position, key in found if position == current_position), None)
        method = series_method(
            current, (key for position, key in found if position != current_position)
        )
        members = {
            position: indexed[position][line]
            for position, key in found
            if series_admits(method, key)
        }
        base_value = (
            _exact_value(members.get(keys.index(baseline_key)))
            if baseline_key is not None
            else None
        )
        trend_points, set_apart = [], []
        for position, _key in found:
            point = ordered[position]
            measurement = indexed[position][line]
            value = _exact_value(measurement)
            if position not in members:
                set_apart.append(_point(point, measurement, value, anchor))
                continue
            previous = _exact_value(members.get(position - 1)) if position else None
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
                _point(
                    point,
                    measurement,
                    value,
                    anchor,
                    change=change,
                    fold=fold,
                    change_code=_change_code(rules.get(line.analyte), previous, value),
                )
            )
        trends.append(
            AnalyteTrend(
                analyte=line.analyte,
                unit=line.unit,
                specimen_type=line.specimen_type,
                points=tuple(trend_points),
                method=method or "",
                set_apart=tuple(set_apart),
            )
        )
    return trends


def _point(
    point: SerialPoint,
    measurement: Measurement,
    value: Decimal | None,
    anchor: datetime | None,
    *,
    change: Decimal | None = None,
    fold: Decimal | None = None,
    change_code: str | None = None,
) -> AnalyteTrendPoint:
    return AnalyteTrendPoint(
        panel_key=point.panel_key,
        collected_at=point.collected_at,
        day=anchor_day(point.collected_at, anchor),
        value_text=_value_text(measurement),
        value=value,
        change_from_previous=change,
        fold_from_baseline=fold,
        change_code=change_code,
        method=measurement.method,
    )
