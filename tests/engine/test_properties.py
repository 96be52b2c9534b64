"""Hypothesis properties of ``interpret`` that hold for every interval and value. No database."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
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


def _sample_points(comparator: Comparator, value: Decimal) -> list[Decimal]:
    """True values a censored result can stand for, including its extremes where attainable."""
    step = Decimal("0.00001")
    if comparator is Comparator.LT:
        return [Decimal(0), value / 2, value - step]
    if comparator is Comparator.LE:
        return [Decimal(0), value / 2, value]
    if comparator is Comparator.GT:
        return [value + step, value * 2 + 1, value + Decimal(10) ** 9]
    return [value, value * 2 + 1, value + Decimal(10) ** 9]


@PROPERTY_SETTINGS
@given(
    rule=rules(),
    comparator=st.sampled_from([Comparator.LT, Comparator.LE, Comparator.GT, Comparator.GE]),
    value=values.filter(lambda d: d >= Decimal("0.0001")),
)
def test_censored_result_gets_a_definite_code_only_if_every_possible_value_would(
    rule: RangeRule, comparator: Comparator, value: Decimal
) -> None:
    censored = _interpret_one(rule, comparator, value)

    exact_codes = {
        _interpret_one(rule, Comparator.EQ, point).code
        for point in _sample_points(comparator, value)
    }
    if censored.code in {InterpretationCode.OFF_SCALE_LOW, InterpretationCode.OFF_SCALE_HIGH}:
        is_below_range = comparator in (Comparator.LT, Comparator.LE)
        assert censored.code is (
            InterpretationCode.OFF_SCALE_LOW
            if is_below_range
            else InterpretationCode.OFF_SCALE_HIGH
        )
    else:
        assert exact_codes == {censored.code}


@PROPERTY_SETTINGS
@given(
    rule_list=st.lists(
        st.sampled_from(ANALYTES).flatmap(lambda analyte: rules(analyte=analyte)),
        max_size=len(ANALYTES),
        unique_by=lambda rule: rule.analyte,
    ),
    measurements=st.lists(
        st.builds(
            Measurement,
            analyte=st.sampled_from(ANALYTES),
            value=values,
            comparator=st.sampled_from(list(Comparator)),
            unit=st.sampled_from(["pg/mL", "U/mL"]),
        ),
        max_size=12,
    ),
    data=st.data(),
)
def test_interpretation_does_not_depend_on_measurement_order(
    rule_list: list[RangeRule], measurements: list[Measurement], data: st.DataObject
) -> None:
    ruleset = RuleSet(key="props", version="1", rules=tuple(rule_list))
    order = data.draw(st.permutations(range(len(measurements))))

    in_order = interpret(measurements, PATIENT, ruleset)
    permuted = interpret([measurements[i] for i in order], PATIENT, ruleset)

    assert len(in_order) == len(measurements)
    assert [r.analyte for r in in_order] == [m.analyte for m in measurements]
    assert permuted == [in_order[i] for i in order]
