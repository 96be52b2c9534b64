"""Interpretation of measurements against a rule set: rule selection, flagging, and the words.

For each measurement the engine picks the one rule of the rule set for the measurement's analyte
and unit whose specimen, sex and age partitions admit the patient, then compares the value with
the rule's limits exactly as published (inclusive or exclusive, never rounded, never converted).
Censored results ("<2.0", ">5000") are judged on the whole set of values they could stand for:
they receive a definite code only when every possible value would receive it; otherwise they are
off scale ("<" / ">"). Every conclusion carries the rule key, rule set key and version, the
interval as published and a reason naming the rule's source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from reference_ranges.engine.errors import AmbiguousRules
from reference_ranges.engine.matching import no_match_reason, rule_applies
from reference_ranges.engine.types import (
    Comparator,
    Interpretation,
    InterpretationCode,
    Measurement,
    PatientContext,
    RangeRule,
    RuleSet,
)

__all__ = ["format_interval", "interpret"]

_ZERO = Decimal(0)

_COMPARATOR_TEXT = {
    Comparator.EQ: "",
    Comparator.LT: "<",
    Comparator.LE: "≤",
    Comparator.GT: ">",
    Comparator.GE: "≥",
}


def _number(value: Decimal) -> str:
    # str() is several times faster than format(); it only differs where it would use exponent
    # notation ("1E+3", "1E-7"), which a clinician must never read.
    text = str(value)
    return format(value, "f") if "E" in text else text


def format_interval(rule: RangeRule) -> str:
    """Return the rule's interval as a clinician reads it, with the unit.

    "≤7.4 pg/mL", "<20 pg/mL", "≥5 pg/mL", ">5 pg/mL", "266.5–1410.4 pg/mL" (both limits
    inclusive), "≥5 and <20 pg/mL" (any other two-sided interval). Limits are printed exactly as
    stored, in plain notation, never rounded. A rule with neither limit reads "no limits (unit)".
    """
    low, high, unit = rule.low, rule.high, rule.unit
    low_text = None if low is None else f"{'≥' if rule.low_inclusive else '>'}{_number(low)}"
    high_text = None if high is None else f"{'≤' if rule.high_inclusive else '<'}{_number(high)}"
    if low is not None and high is not None and rule.low_inclusive and rule.high_inclusive:
        text = f"{_number(low)}–{_number(high)}"
    elif low_text is not None and high_text is not None:
        text = f"{low_text} and {high_text}"
    elif low_text is not None or high_text is not None:
        text = low_text or high_text or ""
    else:
        return f"no limits ({unit})"
    return f"{text} {unit}" if unit else text


# An interval of the real line: (low, low_closed, high, high_closed); None is unbounded.
_Span = tuple[Decimal | None, bool, Decimal | None, bool]


def _contains(outer: _Span, inner: _Span) -> bool:
    """True when every real number of the non-empty span ``inner`` lies in ``outer``."""
    outer_low, outer_low_closed, outer_high, outer_high_closed = outer
    inner_low, inner_low_closed, inner_high, inner_high_closed = inner
    if outer_low is not None and (
        inner_low is None
        or inner_low < outer_low
        or (inner_low == outer_low and inner_low_closed and not outer_low_closed)
    ):
        return False
    return outer_high is None or not (
        inner_high is None
        or inner_high > outer_high
        or (inner_high == outer_high and inner_high_closed and not outer_high_closed)
    )


def _possible_values(comparator: Comparator, value: Decimal) -> _Span | None:
    """The true values a censored result can stand for (concentrations are never negative).

    ``None`` when no non-negative value is possible ("<0").
    """
    if comparator is Comparator.LT:
        return (_ZERO, True, value, False) if value > _ZERO else None
    if comparator is Comparator.LE:
        return (_ZERO, True, value, True) if value >= _ZERO else None
    if value < _ZERO:
        return (_ZERO, True, None, False)
    return (value, comparator is Comparator.GE, None, False)


def _tighter_low(
    first: Decimal | None, first_closed: bool, second: Decimal | None, second_closed: bool
) -> tuple[Decimal | None, bool]:
    if first is None:
        return second, second_closed
    if second is None or first > second:
        return first, first_closed
    if second > first:
        return second, second_closed
    return first, first_closed and second_closed


def _tighter_high(
    first: Decimal | None, first_closed: bool, second: Decimal | None, second_closed: bool
) -> tuple[Decimal | None, bool]:
    if first is None:
        return second, second_closed
    if second is None or first < second:
        return first, first_closed
    if second < first:
        return second, second_closed
    return first, first_closed and second_closed


@dataclass(frozen=True, slots=True)
class _PreparedRule:
    """A rule with the spans and texts every interpretation by it needs, computed once."""

    rule: RangeRule
    reference_text: str
    suffix: str
    normal: _Span
    low_text: str
    high_text: str
    critical_low_text: str
    critical_high_text: str


def _prepare(rule: RangeRule) -> _PreparedRule:
    low, low_closed = _tighter_low(rule.low, rule.low_inclusive, rule.critical_low, False)
    high, high_closed = _tighter_high(rule.high, rule.high_inclusive, rule.critical_high, False)
    suffix = f" — {rule.source}" if rule.source else ""
    if not rule.verified:
        suffix += " [unverified source]"
    return _PreparedRule(
        rule=rule,
        reference_text=format_interval(rule),
        suffix=suffix,
        normal=(low, low_closed, high, high_closed),
        low_text="" if rule.low is None else _number(rule.low),
        high_text="" if rule.high is None else _number(rule.high),
        critical_low_text="" if rule.critical_low is None else _number(rule.critical_low),
        critical_high_text="" if rule.critical_high is None else _number(rule.critical_high),
    )


# analyte -> unit -> the analyte's rules in that unit, in rule set order.
_Index = dict[str, dict[str, tuple[_PreparedRule, ...]]]

# Memo of recent indexes. Each entry holds its rule set, so an id cannot be reused while cached;
# the identity check makes a stale entry harmless. Purely a cache: results never depend on it.
_INDEX_CACHE: dict[int, tuple[RuleSet, _Index]] = {}
_INDEX_CACHE_SIZE = 32


def _build_index(ruleset: RuleSet) -> _Index:
    grouped: dict[str, dict[str, list[_PreparedRule]]] = {}
    for rule in ruleset.rules:
        grouped.setdefault(rule.analyte, {}).setdefault(rule.unit, []).append(_prepare(rule))
    return {
        analyte: {unit: tuple(rules) for unit, rules in by_unit.items()}
        for analyte, by_unit in grouped.items()
    }


def _index_for(ruleset: RuleSet) -> _Index:
    cached = _INDEX_CACHE.get(id(ruleset))
    if cached is not None and cached[0] is ruleset:
        return cached[1]
    index = _build_index(ruleset)
    if len(_INDEX_CACHE) >= _INDEX_CACHE_SIZE:
        # clear() is atomic, unlike evicting one entry, so threads sharing the cache are safe.
        _INDEX_CACHE.clear()
    _INDEX_CACHE[id(ruleset)] = (ruleset, index)
    return index


def _classify_exact(prepared: _PreparedRule, value: Decimal) -> tuple[InterpretationCode, str]:
    rule = prepared.rule
    shown = _number(value)
    if rule.critical_high is not None and value >= rule.critical_high:
        return (
            InterpretationCode.CRITICAL_HIGH,
            f"{shown} ≥ {prepared.critical_high_text} (critical high limit)",
        )
    if rule.critical_low is not None and value <= rule.critical_low:
        return (
            InterpretationCode.CRITICAL_LOW,
            f"{shown} ≤ {prepared.critical_low_text} (critical low limit)",
        )
    high = rule.high
    if high is not None:
        if rule.high_inclusive:
            if value > high:
                return (
                    InterpretationCode.HIGH,
                    f"{shown} > {prepared.high_text} (upper limit, inclusive)",
                )
        elif value >= high:
            return (
                InterpretationCode.HIGH,
                f"{shown} ≥ {prepared.high_text} (upper limit, exclusive)",
            )
    low = rule.low
    if low is not None:
        if rule.low_inclusive:
            if value < low:
                return (
                    InterpretationCode.LOW,
                    f"{shown} < {prepared.low_text} (lower limit, inclusive)",
                )
        elif value <= low:
            return (
                InterpretationCode.LOW,
                f"{shown} ≤ {prepared.low_text} (lower limit, exclusive)",
            )
    return InterpretationCode.NORMAL, f"{shown} within {prepared.reference_text}"


def _classify_censored(
    prepared: _PreparedRule, comparator: Comparator, value: Decimal
) -> tuple[InterpretationCode, str]:
    rule = prepared.rule
    reference = prepared.reference_text
    shown = f"{_COMPARATOR_TEXT[comparator]}{_number(value)}"
    is_below_range = comparator in (Comparator.LT, Comparator.LE)
    off_scale = (
        InterpretationCode.OFF_SCALE_LOW if is_below_range else InterpretationCode.OFF_SCALE_HIGH
    )
    possible = _possible_values(comparator, value)
    if possible is None:
        return (
            off_scale,
            f"{shown}: no concentration is possible (concentrations are never negative); "
            f"cannot be placed within or outside the interval {reference}",
        )
    if is_below_range:
        critical = rule.critical_low
        # A critical high limit takes precedence for exact values, so it must be out of reach.
        if (
            critical is not None
            and _contains((None, False, critical, True), possible)
            and (
                rule.critical_high is None
                or _contains((None, False, rule.critical_high, False), possible)
            )
        ):
            return (
                InterpretationCode.CRITICAL_LOW,
                f"{shown}: every possible value is ≤ {prepared.critical_low_text} "
                "(critical low limit)",
            )
    else:
        critical = rule.critical_high
        if critical is not None and _contains((critical, True, None, False), possible):
            return (
                InterpretationCode.CRITICAL_HIGH,
                f"{shown}: every possible value is ≥ {prepared.critical_high_text} "
                "(critical high limit)",
            )
    if _contains(prepared.normal, possible):
        return InterpretationCode.NORMAL, f"{shown}: every possible value is within {reference}"

    if is_below_range:
        low = rule.low
        certain = low is not None and _contains(
            (None, False, low, not rule.low_inclusive), possible
        )
        # ``possible`` starts at 0, so it reaches a critical low limit exactly when that is >= 0.
        may_be_critical = critical is not None and critical >= _ZERO
        if certain:
            reason = "below the measuring range and below the interval's lower limit"
        else:
            reason = "below the measuring range; cannot be placed within or outside the interval"
        critical_note = (
            f"; may be at or below the critical low limit {prepared.critical_low_text}"
            if may_be_critical
            else ""
        )
    else:
        high = rule.high
        certain = high is not None and _contains(
            (high, not rule.high_inclusive, None, False), possible
        )
        # ``possible`` is unbounded above, so it always reaches a critical high limit.
        if certain:
            reason = "above the measuring range and above the interval's upper limit"
        else:
            reason = "above the measuring range; cannot be placed within or outside the interval"
        critical_note = (
            f"; may be at or above the critical high limit {prepared.critical_high_text}"
            if critical is not None
            else ""
        )
    if certain:
        return off_scale, f"{shown}: {reason} ({reference}){critical_note}"
    return off_scale, f"{shown}: {reason} {reference}{critical_note}"


def _unmatched(measurement: Measurement, ruleset: RuleSet, reason: str) -> Interpretation:
    return Interpretation(
        analyte=measurement.analyte,
        code=None,
        reason=reason,
        ruleset_key=ruleset.key,
        ruleset_version=ruleset.version,
    )


def _interpret_one(
    measurement: Measurement, patient: PatientContext, ruleset: RuleSet, index: _Index
) -> Interpretation:
    analyte = measurement.analyte
    by_unit = index.get(analyte)
    if by_unit is None:
        return _unmatched(
            measurement,
            ruleset,
            f"no reference interval for {analyte} in rule set {ruleset.key} {ruleset.version}",
        )
    candidates = by_unit.get(measurement.unit)
    if candidates is None:
        return _unmatched(
            measurement,
            ruleset,
            f"no reference interval in {measurement.unit} for {analyte} "
            f"(intervals exist in {', '.join(sorted(by_unit))}); units are never converted",
        )
    chosen: _PreparedRule | None = None
    for prepared in candidates:
        if rule_applies(prepared.rule, patient):
            if chosen is not None:
                keys = [p.rule.key for p in candidates if rule_applies(p.rule, patient)]
                raise AmbiguousRules(analyte, keys)
            chosen = prepared
    if chosen is None:
        return _unmatched(
            measurement, ruleset, no_match_reason([p.rule for p in candidates], patient)
        )
    if measurement.comparator is Comparator.EQ:
        code, reason = _classify_exact(chosen, measurement.value)
    else:
        code, reason = _classify_censored(chosen, measurement.comparator, measurement.value)
    return Interpretation(
        analyte=analyte,
        code=code,
        reason=reason + chosen.suffix,
        rule_key=chosen.rule.key,
        ruleset_key=ruleset.key,
        ruleset_version=ruleset.version,
        reference_text=chosen.reference_text,
    )


def interpret(
    measurements: Sequence[Measurement], patient: PatientContext, ruleset: RuleSet
) -> list[Interpretation]:
    """Interpret each measurement for the patient against the rule set.

    Returns one ``Interpretation`` per measurement, in input order; none is ever dropped. A
    measurement no rule applies to gets ``code=None`` and a reason saying why (analyte not in
    the rule set, no interval in its unit, or no partition for the patient's specimen, sex or
    age, including an unknown sex or age). Units are never converted, an unknown sex or age is
    never guessed, and limits are compared exactly as published.

    Raises ``AmbiguousRules`` when more than one rule applies to one measurement: overlapping
    partitions are an error in the rule set, not in the patient's data. Has no side effects.
    """
    index = _index_for(ruleset)
    return [_interpret_one(m, patient, ruleset, index) for m in measurements]
