"""Hypothesis properties of ``interpret`` that hold for every interval and value. No database."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from reference_ranges.engine import (
    Age,
    Comparator,
    Interpretation,
    InterpretationCode,
    Measurement,
    PatientContext,
    RangeRule,
    RuleSet,
    Sex,
    convert,
    interpret,
)

PATIENT = PatientContext(sex=Sex.MALE, age=Age(days=12_000, years=32), specimen_type="plasma")
ANALYTES = ("IL1B", "IL6", "IL10", "TNFA", "SIL2R")
PROPERTY_SETTINGS = settings(database=None, deadline=None, max_examples=200)

values = st.decimals(
    min_value=Decimal(0),
    max_value=Decimal(100_000),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)
optional_values = st.none() | values


@st.composite
def rules(draw: st.DrawFn, analyte: str = "IL6") -> RangeRule:
    """Any interval with low < high; critical limits are drawn independently, even nonsensical
    ones, because the properties below must hold whatever the rule data."""
    low, high = draw(optional_values), draw(optional_values)
    if low is not None and high is not None:
        if low == high:
            high = None
        else:
            low, high = min(low, high), max(low, high)
    return RangeRule(
        key=f"{analyte}-rule",
        analyte=analyte,
        unit="pg/mL",
        low=low,
        low_inclusive=draw(st.booleans()),
        high=high,
        high_inclusive=draw(st.booleans()),
        source="property",
        critical_low=draw(optional_values),
        critical_high=draw(optional_values),
    )


def _interpret_one(rule: RangeRule, comparator: Comparator, value: Decimal) -> Interpretation:
    ruleset = RuleSet(key="props", version="1", rules=(rule,))
    [result] = interpret(
        [Measurement(rule.analyte, value, comparator, rule.unit)], PATIENT, ruleset
    )
    return result


@PROPERTY_SETTINGS
@given(
    bounds=st.lists(values, min_size=3, max_size=3, unique=True).map(sorted),
    low_inclusive=st.booleans(),
    high_inclusive=st.booleans(),
)
def test_value_strictly_inside_the_interval_is_never_flagged(
    bounds: list[Decimal], low_inclusive: bool, high_inclusive: bool
) -> None:
    low, value, high = bounds
    rule = RangeRule(
        key="r",
        analyte="IL6",
        unit="pg/mL",
        low=low,
        low_inclusive=low_inclusive,
        high=high,
        high_inclusive=high_inclusive,
        source="property",
    )

    result = _interpret_one(rule, Comparator.EQ, value)

    assert result.code is InterpretationCode.NORMAL
    assert result.is_abnormal is False


@PROPERTY_SETTINGS
@given(
    low=optional_values,
    low_inclusive=st.booleans(),
    high=values,
    high_inclusive=st.booleans(),
    excess=values.filter(lambda d: d > 0),
)
def test_value_strictly_above_high_without_critical_limit_is_high(
    low: Decimal | None, low_inclusive: bool, high: Decimal, high_inclusive: bool, excess: Decimal
) -> None:
    rule = RangeRule(
        key="r",
        analyte="IL6",
        unit="pg/mL",
        low=low if low is not None and low < high else None,
        low_inclusive=low_inclusive,
        high=high,
        high_inclusive=high_inclusive,
        source="property",
    )

    result = _interpret_one(rule, Comparator.EQ, high + excess)

    assert result.code is InterpretationCode.HIGH
    assert result.reason.startswith(f"{format(high + excess, 'f')} ")


@PROPERTY_SETTINGS
@given(rule=rules(), value=values)
def test_uncensored_result_is_never_off_scale(rule: RangeRule, value: Decimal) -> None:
    result = _interpret_one(rule, Comparator.EQ, value)

    assert result.code in {
        InterpretationCode.NORMAL,
        InterpretationCode.HIGH,
        InterpretationCode.LOW,
        InterpretationCode.CRITICAL_HIGH,
        InterpretationCode.CRITICAL_LOW,
    }
    assert result.rule_key == rule.key


_STEP = Decimal("0.000000001")  # far finer than the 4 decimal places of values and limits
_CENSORED = [Comparator.LT, Comparator.LE, Comparator.GT, Comparator.GE]


def _possible(comparator: Comparator, value: Decimal, point: Decimal) -> bool:
    """Could the censored result "comparator value" stand for the true value ``point``?"""
    if point < 0:
        return False
    return {
        Comparator.LT: point < value,
        Comparator.LE: point <= value,
        Comparator.GT: point > value,
        Comparator.GE: point >= value,
    }[comparator]


def _sample_points(rule: RangeRule, comparator: Comparator, value: Decimal) -> list[Decimal]:
    """True values the censored result can stand for: its extremes, and every rule limit with
    its immediate neighbours, wherever they are possible. Between two neighbouring limits the
    exact code is constant, so these points meet every code a possible value can receive."""
    anchors = [Decimal(0), value, value * 2 + 1, value + Decimal(10) ** 9]
    limits = [rule.low, rule.high, rule.critical_low, rule.critical_high]
    anchors += [limit for limit in limits if limit is not None]
    points = {anchor + delta for anchor in anchors for delta in (-_STEP, Decimal(0), _STEP)}
    return sorted(point for point in points if _possible(comparator, value, point))


def _expected_code(
    comparator: Comparator, exact_codes: set[InterpretationCode]
) -> InterpretationCode:
    """The specification of censored results, stated over the codes of their possible values."""
    below = comparator in (Comparator.LT, Comparator.LE)
    low = {InterpretationCode.LOW, InterpretationCode.CRITICAL_LOW}
    high = {InterpretationCode.HIGH, InterpretationCode.CRITICAL_HIGH}
    if not exact_codes:
        return InterpretationCode.INDETERMINATE
    if below and exact_codes <= low and exact_codes != {InterpretationCode.CRITICAL_LOW}:
        return InterpretationCode.OFF_SCALE_LOW
    if not below and exact_codes <= high and exact_codes != {InterpretationCode.CRITICAL_HIGH}:
        return InterpretationCode.OFF_SCALE_HIGH
    if len(exact_codes) == 1:
        [code] = exact_codes
        return code
    return InterpretationCode.INDETERMINATE


@PROPERTY_SETTINGS
@given(
    rule=rules(),
    comparator=st.sampled_from(_CENSORED),
    value=values,
)
def test_censored_result_gets_a_definite_code_only_if_every_possible_value_would(
    rule: RangeRule, comparator: Comparator, value: Decimal
) -> None:
    censored = _interpret_one(rule, comparator, value)

    exact_codes = set()
    for point in _sample_points(rule, comparator, value):
        code = _interpret_one(rule, Comparator.EQ, point).code
        assert code is not None
        exact_codes.add(code)

    assert censored.code is _expected_code(comparator, exact_codes)
    assert censored.reason.startswith(f"{comparator.value.replace('<=', '≤').replace('>=', '≥')}")


@PROPERTY_SETTINGS
@example(
    bounds=[Decimal(0), Decimal("7.4")],
    low_inclusive=True,
    high_inclusive=True,
    comparator=Comparator.LT,
    value=Decimal("1.5"),
)
@example(
    bounds=[Decimal(0), Decimal("7.4")],
    low_inclusive=True,
    high_inclusive=True,
    comparator=Comparator.LT,
    value=Decimal(0),
)
@example(
    bounds=[Decimal(0), Decimal("7.4")],
    low_inclusive=True,
    high_inclusive=False,
    comparator=Comparator.LE,
    value=Decimal("7.4"),
)
@given(
    bounds=st.lists(values, min_size=2, max_size=2, unique=True).map(sorted),
    low_inclusive=st.booleans(),
    high_inclusive=st.booleans(),
    comparator=st.sampled_from(_CENSORED),
    value=values,
)
def test_censored_result_is_normal_only_when_every_possible_value_is_inside(
    bounds: list[Decimal],
    low_inclusive: bool,
    high_inclusive: bool,
    comparator: Comparator,
    value: Decimal,
) -> None:
    low, high = bounds
    rule = RangeRule(
        key="r",
        analyte="IL6",
        unit="pg/mL",
        low=low,
        low_inclusive=low_inclusive,
        high=high,
        high_inclusive=high_inclusive,
        source="property",
    )

    result = _interpret_one(rule, comparator, value)

    # The possible values of "<x" are [0, x), of "≤x" [0, x], of ">x" (x, ∞): they reach 0 or
    # infinity, so only a below-range result under an interval starting at an inclusive 0 can
    # lie wholly inside a two-sided interval.
    if comparator is Comparator.LT:
        every_value_inside = 0 < value <= high
    elif comparator is Comparator.LE:
        every_value_inside = value < high or (value == high and high_inclusive)
    else:
        every_value_inside = False
    every_value_inside = every_value_inside and low == 0 and low_inclusive
    assert (result.code is InterpretationCode.NORMAL) is every_value_inside
    assert result.is_abnormal is (
        result.code not in {InterpretationCode.NORMAL, InterpretationCode.INDETERMINATE}
    )


@st.composite
def measurements(draw: st.DrawFn) -> Measurement:
    """Any result as a lab may send it: censored or not, in a rule's unit, a unit that converts
    to it or an arbitrary one, with or without a measuring range and a dilution factor."""
    lloq, uloq = draw(optional_values), draw(optional_values)
    if lloq is not None and uloq is not None and lloq > uloq:
        lloq, uloq = uloq, lloq
    return Measurement(
        analyte=draw(st.sampled_from(ANALYTES)),
        value=draw(values),
        comparator=draw(st.sampled_from(list(Comparator))),
        unit=draw(st.sampled_from(["pg/mL", "ng/L", "ng/mL", "pmol/L", "U/mL"])),
        lloq=lloq,
        uloq=uloq,
        dilution_factor=draw(st.none() | st.sampled_from([Decimal(1), Decimal(10)])),
    )


@PROPERTY_SETTINGS
@given(
    rule_list=st.lists(
        st.sampled_from(ANALYTES).flatmap(lambda analyte: rules(analyte=analyte)),
        max_size=len(ANALYTES),
        unique_by=lambda rule: rule.analyte,
    ),
    measurements=st.lists(measurements(), max_size=12),
    data=st.data(),
)
def test_interpretation_does_not_depend_on_measurement_order(
    rule_list: list[RangeRule], measurements: list[Measurement], data: st.DataObject
) -> None:
    ruleset = RuleSet(
        key="props",
        version="1",
        rules=tuple(rule_list),
        molecular_weights=(("IL1B", Decimal("17.5")),),
    )
    order = data.draw(st.permutations(range(len(measurements))))

    in_order = interpret(measurements, PATIENT, ruleset)
    permuted = interpret([measurements[i] for i in order], PATIENT, ruleset)

    assert len(in_order) == len(measurements)
    assert [r.analyte for r in in_order] == [m.analyte for m in measurements]
    assert permuted == [in_order[i] for i in order]


MASS_UNITS = ["pg/mL", "ng/L", "ng/mL", "µg/L"]


@PROPERTY_SETTINGS
@given(
    value=values,
    unit=st.sampled_from(MASS_UNITS),
    other=st.sampled_from(MASS_UNITS),
)
def test_converting_a_mass_concentration_and_back_gives_the_same_number(
    value: Decimal, unit: str, other: str
) -> None:
    there = convert(value, unit, other)
    assert there is not None
    assert there.exact
    back = convert(there.value, other, unit)
    assert back is not None

    assert back.value == value


@PROPERTY_SETTINGS
@given(
    rule=rules(),
    comparator=st.sampled_from(list(Comparator)),
    value=values,
    unit=st.sampled_from(MASS_UNITS),
)
def test_converting_units_never_changes_a_flag(
    rule: RangeRule, comparator: Comparator, value: Decimal, unit: str
) -> None:
    # given a result in pg/mL, and the same result converted to another mass unit
    in_rule_unit = _interpret_one(rule, comparator, value)
    converted = convert(value, "pg/mL", unit)
    assert converted is not None
    ruleset = RuleSet(key="props", version="1", rules=(rule,))
    # when the converted result is judged (the engine converts it back into the rule's pg/mL)
    [in_other_unit] = interpret(
        [Measurement(rule.analyte, converted.value, comparator, unit)], PATIENT, ruleset
    )
    # then the flag and the rule are the same, and the conversion is shown when there was one
    assert in_other_unit.code is in_rule_unit.code
    assert in_other_unit.rule_key == in_rule_unit.rule_key
    assert (in_other_unit.conversion is None) is (unit == "pg/mL")


@PROPERTY_SETTINGS
@given(
    bounds=st.lists(values, min_size=3, max_size=3, unique=True).map(sorted),
    low_inclusive=st.booleans(),
    high_inclusive=st.booleans(),
    unit=st.sampled_from(MASS_UNITS),
    lloq=optional_values,
    dilution_factor=st.none() | st.sampled_from([Decimal(1), Decimal(2), Decimal(100)]),
)
def test_value_inside_the_interval_is_never_flagged_whatever_its_unit_and_remarks(
    bounds: list[Decimal],
    low_inclusive: bool,
    high_inclusive: bool,
    unit: str,
    lloq: Decimal | None,
    dilution_factor: Decimal | None,
) -> None:
    low, value, high = bounds
    rule = RangeRule(
        key="r",
        analyte="IL6",
        unit="pg/mL",
        low=low,
        low_inclusive=low_inclusive,
        high=high,
        high_inclusive=high_inclusive,
        source="property",
    )
    converted = convert(value, "pg/mL", unit)
    assert converted is not None
    measurement = Measurement(
        "IL6", converted.value, Comparator.EQ, unit, lloq=lloq, dilution_factor=dilution_factor
    )

    [result] = interpret([measurement], PATIENT, RuleSet(key="p", version="1", rules=(rule,)))

    assert result.code is InterpretationCode.NORMAL
    assert result.is_flagged is False
