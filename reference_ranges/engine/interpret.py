"""Interpretation of measurements against a rule set: rule selection, flagging, and the words.

For each measurement the engine picks the one rule of the rule set for the measurement's analyte
and unit whose specimen, sex and age partitions admit the patient, then compares the value with
the rule's limits exactly as published (inclusive or exclusive, never rounded).

Units: when the rule set has no interval in the measurement's unit but has one in a unit that
physics converts it to (pg/mL ↔ ng/L ↔ ng/mL; pg/mL ↔ pmol/L with the rule set's molecular
weight for the analyte), the measurement, never the rule, is converted into the rule's unit
(:mod:`reference_ranges.engine.units`) and the conversion is shown in the reason and in
``Interpretation.conversion``. Arbitrary units (U/mL) are never converted.

Censored results ("<1.5", ">5000") keep their comparator and are judged on the whole set of
values they could stand for (concentrations are never negative):

* a definite code (N, H, L, HH, LL) only when every possible value would receive it;
* "<" when every possible value is low (at most some critically low), ">" when every possible
  value is high (at most some critically high), each with the reason;
* otherwise "IND" (indeterminate): the measuring limit straddles a limit of the interval
  ("<20" against "≤7.4" may be normal or high), and the reason says which.

Every conclusion carries the rule key, rule set key and version, the interval as published and a
reason naming the rule's source; an uncensored value outside the assay's measuring range
(LLOQ/ULOQ) is judged as reported and the reason says it was extrapolated; a dilution factor is
named in the reason.

Speed: rule sets are indexed once (per-rule limits, reason texts and value regions precomputed)
and identical questions get the identical, immutable answer from bounded memos kept with the
index: the rule chosen per patient profile (sex, specimen, and the band between the rule set's
age limits; an explanation why no rule applies is kept per exact age, since it names the age),
and the interpretation per (rule, unit, comparator and value exactly as written, "7.40" not
being "7.4"), for results without remarks of their own (measuring range, dilution). Per patient
facts (sex, specimen, age) the index remembers the profiles once computed, and per profile a
plan: analyte and unit straight to the chosen rule and its memo, so the loop over a panel's
results does two dictionary lookups before it reaches the answer. The memos are caches only: a
result never depends on them (tests compare warm and fresh rule sets, and every fast path with
a plain implementation that remembers nothing, ``tests/engine/test_fast_paths.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal

from reference_ranges.engine.errors import AmbiguousRules, InvalidRuleSet
from reference_ranges.engine.matching import no_match_reason, rule_applies
from reference_ranges.engine.types import (
    AgeUnit,
    Comparator,
    Interpretation,
    InterpretationCode,
    Measurement,
    PatientContext,
    RangeRule,
    RuleSet,
)
from reference_ranges.engine.units import conversion_obstacle, convert, quantity_of

__all__ = ["format_interval", "interpret"]

_ZERO = Decimal(0)
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

_COMPARATOR_TEXT = {
    Comparator.EQ: "",
    Comparator.LT: "<",
    Comparator.LE: "≤",
    Comparator.GT: ">",
    Comparator.GE: "≥",
}
_LIMIT_VERB = {
    Comparator.LT: "below",
    Comparator.LE: "at or below",
    Comparator.GT: "above",
    Comparator.GE: "at or above",
}

# Bounds of the memos. Per rule and unit, the first distinct reported values are remembered and
# later ones are not (no eviction: clearing thousands of entries costs more than it saves); per
# rule group, patient profiles (cleared when full: clear() is atomic, so threads sharing an
# index are safe).
_RESULT_MEMO_SIZE = 2048
_PROFILE_MEMO_SIZE = 4096
# Analyte/unit pairs outside the rule set (unknown analytes, other units) remembered per index.
_RESOLVED_LIMIT = 1024
# Units remembered per analyte in a profile's plan (other units are looked up each time), and
# analytes whose explanation (why no rule applies) is remembered per exact patient profile.
_PLAN_UNITS = 32
_UNMATCHED_ANALYTES = 64


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


# An exact value's verdict: (code, words after the value, the same words and the source).
_Verdict = tuple[InterpretationCode, str, str]
# An interval of the real line: (low, low_closed, high, high_closed); None is unbounded.
_Span = tuple[Decimal | None, bool, Decimal | None, bool]
# A region of the real line on which the exact code is constant: (low, high, is_point, code).
# A point has low == high; otherwise the region is the open interval (low, high), None unbounded.
_Region = tuple[Decimal | None, Decimal | None, bool, InterpretationCode]


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


class _PreparedRule:
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
        self.low_text = "" if rule.low is None else _number(rule.low)
        self.high_text = "" if rule.high is None else _number(rule.high)
        self.critical_low_text = "" if rule.critical_low is None else _number(rule.critical_low)
        self.critical_high_text = "" if rule.critical_high is None else _number(rule.critical_high)
        # Each exact verdict: the code, the words after the value ("12.4" + " > 7.4 (upper
        # limit, inclusive)"), and the same words followed by the source.
        self.verdict_hh = self._verdict(_HH, f" ≥ {self.critical_high_text} (critical high limit)")
        self.verdict_ll = self._verdict(_LL, f" ≤ {self.critical_low_text} (critical low limit)")
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

    def _verdict(self, code: InterpretationCode, tail: str) -> _Verdict:
        return (code, tail, tail + self.suffix)

    def code_of(self, value: Decimal) -> InterpretationCode:
        """The code of an exact value. A critical high limit takes precedence, then critical
        low, then the interval's upper and lower limits."""
        return _classify_exact(self, value)[0]

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

    def codes_within(self, span: _Span) -> list[InterpretationCode]:
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


def _classify_exact(prepared: _PreparedRule, value: Decimal) -> _Verdict:
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
    prepared: _PreparedRule, below: bool, value: Decimal, codes: Sequence[InterpretationCode]
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


def _classify_censored(
    prepared: _PreparedRule, comparator: Comparator, value: Decimal, unit: str
) -> tuple[InterpretationCode, str]:
    reference = prepared.reference_text
    value_text = _number(value)
    shown = f"{_COMPARATOR_TEXT[comparator]}{value_text}"
    below = comparator is _LT or comparator is _LE
    possible = _possible_values(comparator, value)
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
                "(critical high limit)",
            )
        if code is _LL:
            return (
                _LL,
                f"{shown}: every possible value is ≤ {prepared.critical_low_text} "
                "(critical low limit)",
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
        return f"LLOQ {_number(lloq)} / ULOQ {_number(uloq)} {unit}"
    if lloq is not None:
        return f"LLOQ {_number(lloq)} {unit}"
    return f"ULOQ {_number(uloq)} {unit}" if uloq is not None else unit


def _notes(measurement: Measurement) -> str:
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
                f"; above the assay's ULOQ {_number(uloq)} {measurement.unit} for an undiluted "
                "sample"
            )
    if dilution is not None:
        if dilution == _ONE:
            notes += "; undiluted (dilution factor 1)"
        else:
            notes += (
                f"; dilution factor {_number(dilution)} (already applied by the lab to the "
                "reported value)"
            )
    return notes


class _Choice:
    """The rule a group chose for some patients, with its memo of interpretations.

    Carries what an interpretation by it is built from (analyte, rule key, interval text, and
    whether measurements are converted first), so the hot loop reads one object.
    """

    __slots__ = ("analyte", "cache", "converts", "group", "prepared", "reference_text", "rule_key")

    def __init__(self, group: _Group, prepared: _PreparedRule) -> None:
        self.group = group
        self.analyte = group.analyte
        self.prepared = prepared
        self.converts = group.to_unit is not None
        self.rule_key = prepared.rule.key
        self.reference_text = prepared.reference_text
        self.cache: dict[str, Interpretation] = {}


class _Group:
    """The rules of one analyte that can judge one measurement unit.

    ``to_unit`` is set when measurements in ``unit`` are converted into the rules' unit.
    ``fixed`` answers every patient alike: an interval that is not partitioned, or the
    explanation why no interval can judge this unit. ``memo`` maps a patient profile to the
    rule chosen for it, or to the explanation why none applies.
    """

    __slots__ = ("analyte", "choices", "fixed", "memo", "molecular_weight", "rules", "to_unit")

    def __init__(
        self,
        analyte: str,
        rules: tuple[_PreparedRule, ...],
        *,
        to_unit: str | None = None,
        molecular_weight: Decimal | None = None,
        unmatched: Interpretation | None = None,
    ) -> None:
        self.analyte = analyte
        self.rules = rules
        self.to_unit = to_unit
        self.molecular_weight = molecular_weight
        self.choices = tuple(_Choice(self, prepared) for prepared in rules)
        self.memo: dict[str, _Choice | Interpretation] = {}
        self.fixed: _Choice | Interpretation | None = unmatched
        if len(rules) == 1:
            rule = rules[0].rule
            if rule.specimen_types is None and rule.sex is None and not rule.is_age_partitioned:
                self.fixed = self.choices[0]


# analyte -> unit -> the rule chosen for one patient profile.
_Plan = dict[str, dict[str, _Choice]]
# analyte -> unit -> why no rule applies, for one exact patient profile.
_Unmatched = dict[str, dict[str, Interpretation]]
# (plan, unmatched, profile, exact profile) of one patient: see ``_Index.profile``.
_Profile = tuple[_Plan, _Unmatched, str, str]


class _Index:
    __slots__ = (
        "day_limits",
        "groups",
        "molecular_weights",
        "plans",
        "profiles",
        "resolved",
        "rule_groups",
        "ruleset",
        "year_limits",
    )

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        grouped: dict[str, dict[str, list[_PreparedRule]]] = {}
        for rule in ruleset.rules:
            grouped.setdefault(rule.analyte, {}).setdefault(rule.unit, []).append(
                _PreparedRule(rule)
            )
        # analyte -> unit -> group, for the rules' own units only.
        self.rule_groups = {
            analyte: {unit: _Group(analyte, tuple(rules)) for unit, rules in by_unit.items()}
            for analyte, by_unit in grouped.items()
        }
        # The lookup table: the rules' groups, then groups resolved for other units and
        # analytes as measurements ask for them.
        self.groups = {analyte: dict(by_unit) for analyte, by_unit in self.rule_groups.items()}
        self.resolved = 0
        # Every age limit of the rule set, per unit: patients whose ages fall between the same
        # two limits are admitted by the same rules.
        self.year_limits = self._age_limits(AgeUnit.YEARS)
        self.day_limits = self._age_limits(AgeUnit.DAYS)
        # Patient facts -> (plan, unmatched, profile, exact profile); profile -> plan. A plan
        # maps analyte and unit to the rule chosen for the profile, for the pairs seen so far
        # that a rule judges; ``unmatched`` the pairs no rule judges for the exact profile to
        # the explanation why.
        self.profiles: dict[tuple[object, ...], _Profile] = {}
        self.plans: dict[str, _Plan] = {}
        weights: dict[str, Decimal] = {}
        for analyte, weight in ruleset.molecular_weights:
            if not weight > _ZERO:
                raise InvalidRuleSet(f"molecular weight of {analyte} ({weight} kDa) is not > 0")
            if weights.setdefault(analyte, weight) != weight:
                raise InvalidRuleSet(
                    f"rule set {ruleset.key} {ruleset.version} gives {analyte} two molecular "
                    f"weights ({weights[analyte]} and {weight} kDa)"
                )
        self.molecular_weights = weights

    def _age_limits(self, unit: AgeUnit) -> tuple[int, ...]:
        limits = {
            limit
            for rule in self.ruleset.rules
            if rule.age_unit is unit
            for limit in (rule.min_age, rule.max_age)
            if limit is not None
        }
        return tuple(sorted(limits))

    def profile(self, patient: PatientContext, key: tuple[object, ...]) -> _Profile:
        """The patient's plan, explanations and profiles, remembered under ``key`` (the facts
        they depend on).

        Everything rule selection depends on, as one string: sex, specimen and the age band
        between the rule set's age limits (``profile``); the same with the exact age, which an
        explanation why no rule applies may name (``exact_profile``).
        """
        age = patient.age
        if age is None:
            band = exact_age = "-"
        else:
            band = f"{_band(age.years, self.year_limits)}y{_band(age.days, self.day_limits)}d"
            # An explanation names the age in days only where some interval is in days.
            exact_age = f"{age.years}y{age.days}d" if self.day_limits else f"{age.years}y"
        profile = "\x1f".join((patient.sex, patient.specimen_type, band))
        exact_profile = "\x1f".join((patient.sex, patient.specimen_type, exact_age, ""))
        plans = self.plans
        plan = plans.get(profile)
        if plan is None:
            if len(plans) >= _PROFILE_MEMO_SIZE:
                plans.clear()
            plan = plans[profile] = {}
        found: _Profile = (plan, {}, profile, exact_profile)
        profiles = self.profiles
        if len(profiles) >= _PROFILE_MEMO_SIZE:
            profiles.clear()
        profiles[key] = found
        return found

    def unmatched(self, analyte: str, reason: str) -> Interpretation:
        return Interpretation(
            analyte=analyte,
            code=None,
            reason=reason,
            ruleset_key=self.ruleset.key,
            ruleset_version=self.ruleset.version,
        )

    def resolve(self, analyte: str, unit: str) -> _Group:
        """The group for a unit (or analyte) the rule set has no interval in."""
        ruleset = self.ruleset
        by_unit = self.rule_groups.get(analyte)
        if by_unit is None:
            reason = (
                f"no reference interval for {analyte} in rule set {ruleset.key} {ruleset.version}"
            )
            group = _Group(analyte, (), unmatched=self.unmatched(analyte, reason))
        else:
            group = self._converting_group(analyte, unit, by_unit)
        if self.resolved < _RESOLVED_LIMIT:
            self.resolved += 1
            self.groups.setdefault(analyte, {})[unit] = group
        return group

    def _converting_group(self, analyte: str, unit: str, by_unit: dict[str, _Group]) -> _Group:
        weight = self.molecular_weights.get(analyte)
        source = quantity_of(unit)
        convertible = [
            rule_unit
            for rule_unit in sorted(by_unit)
            if convert(_ONE, unit, rule_unit, molecular_weight_kda=weight) is not None
        ]
        if convertible:
            # Prefer a conversion by a power of ten (exact) over one by a molecular weight.
            convertible.sort(key=lambda rule_unit: quantity_of(rule_unit) is not source)
            to_unit = convertible[0]
            return _Group(
                analyte,
                by_unit[to_unit].rules,
                to_unit=to_unit,
                molecular_weight=weight if quantity_of(to_unit) is not source else None,
            )
        obstacles = "; ".join(
            conversion_obstacle(
                unit, rule_unit, analyte=analyte, has_molecular_weight=weight is not None
            )
            for rule_unit in sorted(by_unit)
        )
        reason = (
            f"no reference interval in {unit} for {analyte} "
            f"(intervals exist in {', '.join(sorted(by_unit))}); {obstacles}"
        )
        return _Group(analyte, (), unmatched=self.unmatched(analyte, reason))


# Memo of recent indexes. Each entry holds its rule set, so an id cannot be reused while cached;
# the identity check makes a stale entry harmless. Purely a cache: results never depend on it.
_INDEX_CACHE: dict[int, _Index] = {}
_INDEX_CACHE_SIZE = 8


def _index_for(ruleset: RuleSet) -> _Index:
    cached = _INDEX_CACHE.get(id(ruleset))
    if cached is not None and cached.ruleset is ruleset:
        return cached
    index = _Index(ruleset)
    if len(_INDEX_CACHE) >= _INDEX_CACHE_SIZE:
        # clear() is atomic, unlike evicting one entry, so threads sharing the cache are safe.
        _INDEX_CACHE.clear()
    _INDEX_CACHE[id(ruleset)] = index
    return index


def _choose(
    index: _Index, group: _Group, patient: PatientContext, profile: str, exact_profile: str
) -> _Choice | Interpretation:
    """Choose the group's rule for the patient and remember it for the patient's profile.

    A chosen rule is remembered for the age band (``profile``): the same for every age between
    the same two age limits of the rule set. Why no rule applies may name the patient's age, so
    it is remembered for the exact age (``exact_profile``).
    """
    memo = group.memo
    known = memo.get(exact_profile)
    if known is not None:
        return known
    applicable = [choice for choice in group.choices if rule_applies(choice.prepared.rule, patient)]
    if len(applicable) > 1:
        raise AmbiguousRules(group.analyte, [choice.prepared.rule.key for choice in applicable])
    chosen: _Choice | Interpretation
    if applicable:
        chosen = applicable[0]
        key = profile
    else:
        reason = no_match_reason([prepared.rule for prepared in group.rules], patient)
        chosen = index.unmatched(group.analyte, reason)
        key = exact_profile
    if len(memo) >= _PROFILE_MEMO_SIZE:
        memo.clear()
    memo[key] = chosen
    return chosen


def _lookup(
    index: _Index,
    plan: _Plan,
    unmatched: _Unmatched,
    patient: PatientContext,
    profile: str,
    exact_profile: str,
    measurement: Measurement,
) -> _Choice | Interpretation:
    """The rule chosen for the measurement's analyte and unit and the patient's profile, or the
    explanation why none applies. A chosen rule is kept in the profile's plan, an explanation
    with the exact profile's."""
    analyte, unit = measurement.analyte, measurement.unit
    explained = unmatched.get(analyte)
    if explained is not None:
        known = explained.get(unit)
        if known is not None:
            return known
    by_unit = index.groups.get(analyte)
    group = None if by_unit is None else by_unit.get(unit)
    if group is None:
        group = index.resolve(analyte, unit)
    choice = (
        group.fixed
        or group.memo.get(profile)
        or _choose(index, group, patient, profile, exact_profile)
    )
    if isinstance(choice, _Choice):
        units = plan.get(analyte)
        if units is None:
            units = plan[analyte] = {}
        if len(units) < _PLAN_UNITS:
            units[unit] = choice
    elif explained is not None:
        if len(explained) < _PLAN_UNITS:
            explained[unit] = choice
    elif len(unmatched) < _UNMATCHED_ANALYTES:
        unmatched[analyte] = {unit: choice}
    return choice


def _band(age: int, limits: tuple[int, ...]) -> int:
    """How many of the sorted age limits ``age`` has reached."""
    band = 0
    for limit in limits:
        if age < limit:
            break
        band += 1
    return band


def _evaluate(index: _Index, choice: _Choice, measurement: Measurement) -> Interpretation:
    group, prepared = choice.group, choice.prepared
    value, comparator = measurement.value, measurement.comparator
    conversion_text = None
    unit = measurement.unit
    if group.to_unit is not None:
        conversion = convert(
            value, unit, group.to_unit, molecular_weight_kda=group.molecular_weight
        )
        if conversion is None:  # pragma: no cover - the group exists because it converts
            raise AssertionError(f"{unit} no longer converts to {group.to_unit}")
        value, unit = conversion.value, conversion.to_unit
        conversion_text = conversion.describe(_COMPARATOR_TEXT[comparator])
    if comparator is _EQ:
        code, tail, _ = _classify_exact(prepared, value)
        reason = _number(value) + tail
    else:
        code, reason = _classify_censored(prepared, comparator, value, unit)
    if (
        measurement.lloq is not None
        or measurement.uloq is not None
        or measurement.dilution_factor is not None
    ):
        reason += _notes(measurement)
    reason += prepared.suffix
    if conversion_text is not None:
        reason = f"{conversion_text}; {reason}"
    ruleset = index.ruleset
    # Positional arguments: several times faster than keywords, and this runs per result.
    return Interpretation(
        group.analyte,
        code,
        reason,
        prepared.rule.key,
        ruleset.key,
        ruleset.version,
        prepared.reference_text,
        conversion_text,
    )


def interpret(
    measurements: Sequence[Measurement], patient: PatientContext, ruleset: RuleSet
) -> list[Interpretation]:
    """Interpret each measurement for the patient against the rule set.

    Returns one ``Interpretation`` per measurement, in input order; none is ever dropped. A
    measurement no rule applies to gets ``code=None`` and a reason saying why (analyte not in
    the rule set, no interval in its unit or in a unit it converts to, or no partition for the
    patient's specimen, sex or age, including an unknown sex or age). Only the measurement is
    ever converted, only where physics defines it, and the conversion is shown; an unknown sex
    or age is never guessed, and limits are compared exactly as published.

    Raises ``AmbiguousRules`` when more than one rule applies to one measurement: overlapping
    partitions are an error in the rule set, not in the patient's data. Raises
    ``InvalidRuleSet`` for contradictory molecular weights. Has no side effects beyond its
    memos, which never change a result.
    """
    index = _index_for(ruleset)
    ruleset_key, ruleset_version = ruleset.key, ruleset.version
    # The patient's profile (and the plan of rules chosen for it), remembered per patient facts:
    # sex, specimen and age (in days only where some interval is in days).
    age = patient.age
    if age is None:
        facts: tuple[object, ...] = (patient.sex, patient.specimen_type)
    elif index.day_limits:
        facts = (patient.sex, patient.specimen_type, age.years, age.days)
    else:
        facts = (patient.sex, patient.specimen_type, age.years)
    known = index.profiles.get(facts)
    plan, unmatched, profile, exact_profile = known or index.profile(patient, facts)
    results: list[Interpretation] = []
    append = results.append
    # Locals, not globals, in the loop: each global lookup costs as much as the work around it.
    exact, classify, new = _EQ, _classify_exact, Interpretation
    limit = _RESULT_MEMO_SIZE
    for measurement in measurements:
        by_unit = plan.get(measurement.analyte)
        choice = None if by_unit is None else by_unit.get(measurement.unit)
        if choice is None:
            chosen = _lookup(index, plan, unmatched, patient, profile, exact_profile, measurement)
            if isinstance(chosen, Interpretation):
                append(chosen)
                continue
            choice = chosen
        if measurement.dilution_factor is None:
            value = measurement.value
            comparator = measurement.comparator
            if comparator is exact:
                lloq, uloq = measurement.lloq, measurement.uloq
                if (lloq is None or lloq <= value) and (uloq is None or value <= uloq):
                    # The common case, kept inline: an exact value within the measuring range.
                    # The memo key is the value as written ("7.40" is not "7.4").
                    text = str(value)
                    cache = choice.cache
                    found = cache.get(text)
                    if found is None:
                        if choice.converts:
                            found = _evaluate(index, choice, measurement)
                        else:
                            code, _, tail = classify(choice.prepared, value)
                            found = new(
                                choice.analyte,
                                code,
                                (format(value, "f") if "E" in text else text) + tail,
                                choice.rule_key,
                                ruleset_key,
                                ruleset_version,
                                choice.reference_text,
                                None,
                            )
                        if len(cache) < limit:
                            cache[text] = found
                    append(found)
                    continue
            else:
                key = comparator + str(value)
                cache = choice.cache
                found = cache.get(key)
                if found is None:
                    found = _evaluate(index, choice, measurement)
                    if len(cache) < limit:
                        cache[key] = found
                append(found)
                continue
        # Outside the measuring range, or diluted: the reason has remarks of its own.
        append(_evaluate(index, choice, measurement))
    return results
