"""Judging one value by one rule: the code and the words, exact or censored, and the interval.

:class:`PreparedRule` holds what every interpretation by a rule needs (limits, texts, the regions
of the real line on which the code is constant). An exact value gets the code of the limits it
passes; a censored one ("<1.5", ">5000") a definite code only when every value it can stand for
gets it, otherwise "<", ">" or "IND" with the reason. Limits are compared exactly as published.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal

from reference_ranges.engine.censoring import Span, possible_values
from reference_ranges.engine.decimals import COMPARATOR_SYMBOLS, plain
from reference_ranges.engine.types import (
    Comparator,
    InterpretationCode,
    Measurement,
    RangeRule,
)

__all__ = [
    "PreparedRule",
    "classify_censored",
    "classify_exact",
    "format_interval",
    "measurement_notes",
]

_ONE = Decimal(1)
_TWO = Decimal(2)
# Midpoints between limits: wide enough that a midpoint of two stored limits is exact.
_MIDPOINT_CONTEXT = Context(prec=80)

_EQ = Comparator.EQ
_LT = Comparator.LT
_LE = Comparator.LE

_N = InterpretationCode.NORMAL
_H = InterpretationCode.HIGH
_L = InterpretationCode.LOW
_HH = InterpretationCode.CRITICAL_HIGH
_LL = InterpretationCode.CRITICAL_LOW
_OFF_LOW = InterpretationCode.OFF_SCALE_LOW
_OFF_HIGH = InterpretationCode.OFF_SCALE_HIGH
_IND = InterpretationCode.INDETERMINATE

# Exact codes from the lowest values to the highest, for reasons that list possibilities.
_SEVERITY_ORDER = (_LL, _L, _N, _H, _HH)

_LIMIT_VERB = {
    Comparator.LT: "below",
    Comparator.LE: "at or below",
    Comparator.GT: "above",
    Comparator.GE: "at or above",
}


def format_interval(rule: RangeRule) -> str:
    """Return the rule's interval as a clinician reads it, with the unit.

    "≤7.4 pg/mL", "<20 pg/mL", "≥5 pg/mL", ">5 pg/mL", "266.5–1410.4 pg/mL" (both limits
    inclusive), "≥5 and <20 pg/mL" (any other two-sided interval). Limits are printed exactly as
    stored, in plain notation, never rounded. A rule with neither limit reads "no limits (unit)".
    """
    low, high, unit = rule.low, rule.high, rule.unit
    low_text = None if low is None else f"{'≥' if rule.low_inclusive else '>'}{plain(low)}"
    high_text = None if high is None else f"{'≤' if rule.high_inclusive else '<'}{plain(high)}"
    if low is not None and high is not None and rule.low_inclusive and rule.high_inclusive:
        text = f"{plain(low)}–{plain(high)}"
    elif low_text is not None and high_text is not None:
        text = f"{low_text} and {high_text}"
    elif low_text is not None or high_text is not None:
        text = low_text or high_text or ""
    else:
        return f"no limits ({unit})"
    return f"{text} {unit}" if unit else text


# An exact value's verdict: (code, words after the value, the same words and the source).
Verdict = tuple[InterpretationCode, str, str]
# A region of the real line on which the exact code is constant: (low, high, is_point, code).
# A point has low == high; otherwise the region is the open interval (low, high), None unbounded.
_Region = tuple[Decimal | None, Decimal | None, bool, InterpretationCode]


class PreparedRule:
    """A rule with the limits, texts and value regions every interpretation by it needs."""

    __slots__ = (
        "critical_high",
        "critical_high_text",
        "critical_low",
        "critical_low_text",
        "high",
        "high_inclusive",
        "high_text",
        "low",
        "low_inclusive",
        "low_text",
        "reference_text",
        "regions",
        "rule",
        "suffix",
        "verdict_h",
        "verdict_hh",
        "verdict_l",
        "verdict_ll",
        "verdict_n",
    )

    def __init__(self, rule: RangeRule) -> None:
        self.rule = rule
        self.reference_text = format_interval(rule)
        suffix = f" — {rule.source}" if rule.source else ""
        if not rule.verified:
            suffix += " [unverified source]"
        self.suffix = suffix
        self.low, self.low_inclusive = rule.low, rule.low_inclusive
        self.high, self.high_inclusive = rule.high, rule.high_inclusive
        self.critical_low, self.critical_high = rule.critical_low, rule.critical_high
        self.low_text = "" if rule.low is None else plain(rule.low)
        self.high_text = "" if rule.high is None else plain(rule.high)
        self.critical_low_text = "" if rule.critical_low is None else plain(rule.critical_low)
        self.critical_high_text = "" if rule.critical_high is None else plain(rule.critical_high)
        # Each exact verdict: the code, the words after the value ("12.4" + " > 7.4 (upper
        # limit, inclusive)"), and the same words followed by the interval's source. A critical
        # limit is the lab's own setting, not part of the published interval: its verdict never
        # names the interval's source as if it had set the limit (interpret.py ``_CRITICAL``).
        hh = f" ≥ {self.critical_high_text} (critical high limit set by the laboratory)"
        ll = f" ≤ {self.critical_low_text} (critical low limit set by the laboratory)"
        self.verdict_hh = (_HH, hh, hh)
        self.verdict_ll = (_LL, ll, ll)
        self.verdict_h = self._verdict(
            _H,
            f" > {self.high_text} (upper limit, inclusive)"
            if rule.high_inclusive
            else f" ≥ {self.high_text} (upper limit, exclusive)",
        )
        self.verdict_l = self._verdict(
            _L,
            f" < {self.low_text} (lower limit, inclusive)"
            if rule.low_inclusive
            else f" ≤ {self.low_text} (lower limit, exclusive)",
        )
        self.verdict_n = self._verdict(_N, f" within {self.reference_text}")
        self.regions = self._regions()

    def _verdict(self, code: InterpretationCode, tail: str) -> Verdict:
        return (code, tail, tail + self.suffix)

    def code_of(self, value: Decimal) -> InterpretationCode:
        """The code of an exact value. A critical high limit takes precedence, then critical
        low, then the interval's upper and lower limits."""
        return classify_exact(self, value)[0]

    def _regions(self) -> tuple[_Region, ...]:
        limits = sorted(
            {
                limit
                for limit in (self.critical_low, self.critical_high, self.low, self.high)
                if limit is not None
            }
        )
        if not limits:
            return ((None, None, False, _N),)
        context = _MIDPOINT_CONTEXT
        below_all = context.subtract(limits[0], _ONE)
        regions: list[_Region] = [(None, limits[0], False, self.code_of(below_all))]
        for index, limit in enumerate(limits):
            regions.append((limit, limit, True, self.code_of(limit)))
            following = limits[index + 1] if index + 1 < len(limits) else None
            inside = (
                context.add(limit, _ONE)
                if following is None
                else context.divide(context.add(limit, following), _TWO)
            )
            regions.append((limit, following, False, self.code_of(inside)))
        return tuple(regions)

    def codes_within(self, span: Span) -> list[InterpretationCode]:
        """Every exact code some value of the non-empty ``span`` receives, lowest first."""
        span_low, span_low_closed, span_high, span_high_closed = span
        found: set[InterpretationCode] = set()
        for low, high, is_point, code in self.regions:
            if is_point and low is not None:
                point = low
                inside = (
                    span_low is None or point > span_low or (point == span_low and span_low_closed)
                ) and (
                    span_high is None
                    or point < span_high
                    or (point == span_high and span_high_closed)
                )
            else:
                inside = (high is None or span_low is None or span_low < high) and (
                    low is None or span_high is None or low < span_high
                )
            if inside:
                found.add(code)
        return [code for code in _SEVERITY_ORDER if code in found]


def classify_exact(prepared: PreparedRule, value: Decimal) -> Verdict:
    critical_high = prepared.critical_high
    if critical_high is not None and value >= critical_high:
        return prepared.verdict_hh
    critical_low = prepared.critical_low
    if critical_low is not None and value <= critical_low:
        return prepared.verdict_ll
    high = prepared.high
    if high is not None and (value > high if prepared.high_inclusive else value >= high):
        return prepared.verdict_h
    low = prepared.low
    if low is not None and (value < low if prepared.low_inclusive else value <= low):
        return prepared.verdict_l
    return prepared.verdict_n


def _possibilities(codes: Sequence[InterpretationCode], reference: str) -> str:
    words = {
        _LL: "critically low",
        _L: "low",
        _N: f"within {reference}",
        _H: "high",
        _HH: "critically high",
    }
    listed = [words[code] for code in codes]
    text = listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} or {listed[-1]}"
    return text if _N in codes else f"{text}; interval {reference}"


def _relation(
    prepared: PreparedRule, below: bool, value: Decimal, codes: Sequence[InterpretationCode]
) -> str:
    """ ", which is above the interval's upper limit 7.4" — the limit the measuring limit
    straddles, or "" when only critical limits are straddled."""
    low, high = prepared.low, prepared.high
    reaches_low = _L in codes or _LL in codes
    if below:
        if (_H in codes or _HH in codes) and high is not None and value >= high:
            side = "above" if value > high else "at"
            return f", which is {side} the interval's upper limit {prepared.high_text}"
        if reaches_low and low is not None and value >= low:
            side = "above" if value > low else "at"
            return f", which is {side} the interval's lower limit {prepared.low_text}"
        return ""
    if reaches_low and low is not None and value <= low:
        side = "below" if value < low else "at"
        return f", which is {side} the interval's lower limit {prepared.low_text}"
    if (reaches_low or _N in codes) and high is not None and value <= high:
        side = "below" if value < high else "at"
        return f", which is {side} the interval's upper limit {prepared.high_text}"
    return ""


def classify_censored(
    prepared: PreparedRule, comparator: Comparator, value: Decimal, unit: str
) -> tuple[InterpretationCode, str]:
    reference = prepared.reference_text
    value_text = plain(value)
    shown = f"{COMPARATOR_SYMBOLS[comparator]}{value_text}"
    below = comparator is _LT or comparator is _LE
    possible = possible_values(comparator, value)
    if possible is None:
        return (
            _IND,
            f"{shown}: no concentration is possible (concentrations are never negative); "
            f"cannot be placed within or outside the interval {reference}",
        )
    codes = prepared.codes_within(possible)
    if len(codes) == 1:
        [code] = codes
        if code is _N:
            return _N, f"{shown}: every possible value is within {reference}"
        if code is _HH:
            return (
                _HH,
                f"{shown}: every possible value is ≥ {prepared.critical_high_text} "
                "(critical high limit set by the laboratory)",
            )
        if code is _LL:
            return (
                _LL,
                f"{shown}: every possible value is ≤ {prepared.critical_low_text} "
                "(critical low limit set by the laboratory)",
            )
    if below and all(code is _L or code is _LL for code in codes):
        note = (
            f"; may be at or below the critical low limit {prepared.critical_low_text}"
            if _LL in codes
            else ""
        )
        return (
            _OFF_LOW,
            f"{shown}: below the measuring range and below the interval's lower limit "
            f"({reference}){note}",
        )
    if not below and all(code is _H or code is _HH for code in codes):
        note = (
            f"; may be at or above the critical high limit {prepared.critical_high_text}"
            if _HH in codes
            else ""
        )
        return (
            _OFF_HIGH,
            f"{shown}: above the measuring range and above the interval's upper limit "
            f"({reference}){note}",
        )
    if len(codes) == 1:
        # Only reachable with contradictory limits (e.g. "<5" when every value from 0 is high).
        [code] = codes
        return code, f"{shown}: every possible value is {_possibilities(codes, reference)}"
    return (
        _IND,
        f"{shown}: {_LIMIT_VERB[comparator]} the measuring limit {value_text} {unit}"
        f"{_relation(prepared, below, value, codes)}: cannot be placed "
        f"(could be {_possibilities(codes, reference)})",
    )


def _measuring_range_text(measurement: Measurement) -> str:
    lloq, uloq, unit = measurement.lloq, measurement.uloq, measurement.unit
    if lloq is not None and uloq is not None:
        return f"LLOQ {plain(lloq)} / ULOQ {plain(uloq)} {unit}"
    if lloq is not None:
        return f"LLOQ {plain(lloq)} {unit}"
    return f"ULOQ {plain(uloq)} {unit}" if uloq is not None else unit


def measurement_notes(measurement: Measurement) -> str:
    """The measuring-range and dilution remarks, in the measurement's own unit."""
    notes = ""
    lloq, uloq, value = measurement.lloq, measurement.uloq, measurement.value
    dilution = measurement.dilution_factor
    if measurement.comparator is _EQ:
        if (lloq is not None and value < lloq) or (
            uloq is not None and value > uloq and (dilution is None or dilution <= _ONE)
        ):
            notes += (
                f"; outside the assay's measuring range ({_measuring_range_text(measurement)}):"
                " extrapolated"
            )
        elif uloq is not None and value > uloq:
            notes += (
                f"; above the assay's ULOQ {plain(uloq)} {measurement.unit} for an undiluted sample"
            )
    if dilution is not None:
        if dilution == _ONE:
            notes += "; undiluted (dilution factor 1)"
        else:
            notes += (
                f"; dilution factor {plain(dilution)} (already applied by the lab to the "
                "reported value)"
            )
    return notes
