"""Unit conversion only where physics defines it, shown to the reader; never between arbitrary
units. The measurement is converted into the rule's unit, never the rule. No database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from reference_ranges.engine import (
    Age,
    Comparator,
    Conversion,
    Interpretation,
    InterpretationCode,
    InvalidRuleSet,
    Measurement,
    PatientContext,
    RangeRule,
    RuleSet,
    Sex,
    convert,
    interpret,
)
from reference_ranges.engine.units import (
    CONTEXT,
    Quantity,
    conversion_obstacle,
    quantity_of,
)

N = InterpretationCode.NORMAL
H = InterpretationCode.HIGH
IND = InterpretationCode.INDETERMINATE
IL1B_MW = Decimal("17.5")
ARUP = "ARUP Laboratories 3002601"
ADULT = PatientContext(sex=Sex.FEMALE, age=Age(days=15_000, years=41), specimen_type="plasma")


# --- convert() ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "converted", "text"),
    [
        ("12.4", "pg/mL", "ng/L", "12.4", "12.4 pg/mL = 12.4 ng/L (1 pg/mL = 1 ng/L)"),
        ("12.4", "ng/L", "pg/mL", "12.4", "12.4 ng/L = 12.4 pg/mL (1 ng/L = 1 pg/mL)"),
        ("1.5", "ng/mL", "pg/mL", "1500", "1.5 ng/mL = 1500 pg/mL (1 ng/mL = 1000 pg/mL)"),
        ("12.4", "pg/mL", "ng/mL", "0.0124", "12.4 pg/mL = 0.0124 ng/mL (1 pg/mL = 0.001 ng/mL)"),
        ("350", "ng/mL", "µg/L", "350", "350 ng/mL = 350 µg/L (1 ng/mL = 1 µg/L)"),
        ("350", "ug/L", "ng/mL", "350", "350 ug/L = 350 ng/mL (1 ug/L = 1 ng/mL)"),
        ("12", "mg/L", "mg/dL", "1.2", "12 mg/L = 1.2 mg/dL (1 mg/L = 0.1 mg/dL)"),
        ("1.2", "mg/dL", "mg/L", "12", "1.2 mg/dL = 12 mg/L (1 mg/dL = 10 mg/L)"),
        ("12.4", "pg/ml", "pg/mL", "12.4", "12.4 pg/ml = 12.4 pg/mL (1 pg/ml = 1 pg/mL)"),
        ("137", "U/mL", "U/mL", "137", "137 U/mL = 137 U/mL (1 U/mL = 1 U/mL)"),
    ],
)
def test_converts_mass_concentrations_by_powers_of_ten_exactly(
    value: str, from_unit: str, to_unit: str, converted: str, text: str
) -> None:
    conversion = convert(Decimal(value), from_unit, to_unit)

    assert conversion is not None
    assert conversion.value == Decimal(converted)
    assert conversion.exact is True
    assert conversion.from_value == Decimal(value)
    assert (conversion.from_unit, conversion.to_unit) == (from_unit, to_unit)
    assert conversion.describe() == text


def test_converts_pg_per_ml_to_pmol_per_litre_with_a_molecular_weight() -> None:
    exact = convert(Decimal("35"), "pg/mL", "pmol/L", molecular_weight_kda=IL1B_MW)
    rounded = convert(Decimal("12.4"), "pg/mL", "pmol/L", molecular_weight_kda=IL1B_MW)

    assert exact == Conversion(
        value=Decimal(2),
        from_unit="pg/mL",
        to_unit="pmol/L",
        factor_text="1 pg/mL = 1/17.5 pmol/L, molecular weight 17.5 kDa",
        from_value=Decimal(35),
    )
    assert exact.describe() == (
        "35 pg/mL = 2 pmol/L (1 pg/mL = 1/17.5 pmol/L, molecular weight 17.5 kDa)"
    )
    assert rounded is not None
    # 12.4 / 17.5 = 0.708571428571... : kept at the context's 28 significant digits, not
    # rounded to a display precision, and shown with "≈".
    assert rounded.value == Decimal("0.7085714285714285714285714286")
    assert len(rounded.value.as_tuple().digits) == CONTEXT.prec == 28
    assert rounded.exact is False
    assert rounded.describe().startswith("12.4 pg/mL ≈ 0.7085714285714285714285714286 pmol/L")


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "converted", "factor"),
    [
        ("2", "pmol/L", "pg/mL", "35", "1 pmol/L = 17.5 pg/mL, molecular weight 17.5 kDa"),
        ("2", "pmol/L", "ng/mL", "0.035", "1 pmol/L = 0.0175 ng/mL, molecular weight 17.5 kDa"),
        ("2", "nmol/L", "ng/mL", "35", "1 nmol/L = 17.5 ng/mL, molecular weight 17.5 kDa"),
        (
            "1.75",
            "ng/mL",
            "pmol/L",
            "100",
            "1 ng/mL = 1000/17.5 pmol/L, molecular weight 17.5 kDa",
        ),
    ],
)
def test_converts_between_mass_and_substance_both_ways(
    value: str, from_unit: str, to_unit: str, converted: str, factor: str
) -> None:
    conversion = convert(Decimal(value), from_unit, to_unit, molecular_weight_kda=IL1B_MW)

    assert conversion is not None
    assert conversion.value == Decimal(converted)
    assert conversion.factor_text == factor
    assert conversion.exact is True


@pytest.mark.parametrize(
    ("from_unit", "to_unit", "molecular_weight"),
    [
        ("U/mL", "pg/mL", None),
        ("pg/mL", "U/mL", IL1B_MW),
        ("U/mL", "kU/L", None),
        ("IU/mL", "U/mL", None),
        ("pg/mL", "pmol/L", None),
        ("pmol/L", "ng/mL", None),
        ("pg/mL", "mmHg", None),
        ("mg/L", "%", None),
    ],
)
def test_never_converts_without_physics(
    from_unit: str, to_unit: str, molecular_weight: Decimal | None
) -> None:
    assert (
        convert(Decimal("500"), from_unit, to_unit, molecular_weight_kda=molecular_weight) is None
    )


@pytest.mark.parametrize("weight", [Decimal(0), Decimal("-17.5")])
def test_refuses_a_molecular_weight_that_is_not_positive(weight: Decimal) -> None:
    with pytest.raises(ValueError, match="is not positive"):
        convert(Decimal(1), "pg/mL", "pmol/L", molecular_weight_kda=weight)


def test_names_the_physical_quantity_of_a_unit() -> None:
    assert quantity_of("pg/mL") is Quantity.MASS_CONCENTRATION
    assert quantity_of("μg/L") is Quantity.MASS_CONCENTRATION  # Greek mu
    assert quantity_of("pmol/L") is Quantity.SUBSTANCE_CONCENTRATION
    assert quantity_of("U/mL") is None


@pytest.mark.parametrize(
    ("from_unit", "to_unit", "has_weight", "text"),
    [
        (
            "pg/mL",
            "U/mL",
            False,
            "U/mL is an arbitrary (assay-defined) unit: no physical conversion between pg/mL "
            "and U/mL",
        ),
        (
            "IU/mL",
            "U/mL",
            False,
            "IU/mL and U/mL are arbitrary (assay-defined) units: no physical conversion between "
            "IU/mL and U/mL",
        ),
        (
            "pg/mL",
            "pmol/L",
            False,
            "pg/mL converts to pmol/L only with a single molecular weight of IL6, and the rule "
            "set records none",
        ),
        (
            "pg/mL",
            "mmHg",
            False,
            "mmHg is not a unit of a quantity the engine can convert: no physical conversion "
            "between pg/mL and mmHg",
        ),
    ],
)
def test_says_why_two_units_do_not_convert(
    from_unit: str, to_unit: str, has_weight: bool, text: str
) -> None:
    assert (
        conversion_obstacle(from_unit, to_unit, analyte="IL6", has_molecular_weight=has_weight)
        == text
    )


# --- interpret() converts the measurement into the rule's unit ----------------------------------


def _rule(**overrides: Any) -> RangeRule:
    fields: dict[str, Any] = {
        "key": "il6",
        "analyte": "IL6",
        "unit": "pg/mL",
        "low": None,
        "low_inclusive": True,
        "high": Decimal("7.4"),
        "high_inclusive": True,
        "source": ARUP,
    }
    fields.update(overrides)
    return RangeRule(**fields)


def _ruleset(*rules: RangeRule, weights: tuple[tuple[str, Decimal], ...] = ()) -> RuleSet:
    return RuleSet(
        key="cytokines", version="2026.1", rules=rules or (_rule(),), molecular_weights=weights
    )


def _one(
    value: str,
    unit: str,
    ruleset: RuleSet,
    comparator: Comparator = Comparator.EQ,
    analyte: str = "IL6",
) -> Interpretation:
    [result] = interpret([Measurement(analyte, Decimal(value), comparator, unit)], ADULT, ruleset)
    return result


def test_converts_the_measurement_into_the_rules_unit_and_shows_it() -> None:
    result = _one("12.4", "ng/L", _ruleset())

    assert result == Interpretation(
        analyte="IL6",
        code=H,
        reason=(
            "12.4 ng/L = 12.4 pg/mL (1 ng/L = 1 pg/mL); 12.4 > 7.4 (upper limit, inclusive) — "
            f"{ARUP}"
        ),
        rule_key="il6",
        ruleset_key="cytokines",
        ruleset_version="2026.1",
        reference_text="≤7.4 pg/mL",
        conversion="12.4 ng/L = 12.4 pg/mL (1 ng/L = 1 pg/mL)",
    )


def test_never_converts_the_rule() -> None:
    result = _one("0.0124", "ng/mL", _ruleset())

    assert result.code is H
    assert result.reference_text == "≤7.4 pg/mL"
    assert result.conversion == "0.0124 ng/mL = 12.4 pg/mL (1 ng/mL = 1000 pg/mL)"
    assert result.reason.endswith(f"12.4 > 7.4 (upper limit, inclusive) — {ARUP}")


def test_a_value_in_the_rules_unit_is_not_converted() -> None:
    result = _one("12.4", "pg/mL", _ruleset())

    assert result.conversion is None
    assert result.reason == f"12.4 > 7.4 (upper limit, inclusive) — {ARUP}"


@pytest.mark.parametrize(
    ("value", "comparator", "code", "conversion", "judged"),
    [
        (
            "0.0015",
            Comparator.LT,
            N,
            "<0.0015 ng/mL = <1.5 pg/mL (1 ng/mL = 1000 pg/mL)",
            "<1.5: every possible value is within ≤7.4 pg/mL",
        ),
        (
            "0.02",
            Comparator.LT,
            IND,
            "<0.02 ng/mL = <20 pg/mL (1 ng/mL = 1000 pg/mL)",
            "<20: below the measuring limit 20 pg/mL, which is above the interval's upper limit "
            "7.4: cannot be placed (could be within ≤7.4 pg/mL or high)",
        ),
        (
            "5",
            Comparator.GE,
            InterpretationCode.OFF_SCALE_HIGH,
            "≥5 ng/mL = ≥5000 pg/mL (1 ng/mL = 1000 pg/mL)",
            "≥5000: above the measuring range and above the interval's upper limit (≤7.4 pg/mL)",
        ),
    ],
)
def test_a_censored_value_converts_its_bound_and_keeps_its_comparator(
    value: str, comparator: Comparator, code: InterpretationCode, conversion: str, judged: str
) -> None:
    result = _one(value, "ng/mL", _ruleset(), comparator)

    assert result.code is code
    assert result.conversion == conversion
    assert result.reason == f"{conversion}; {judged} — {ARUP}"


def test_converts_to_pmol_per_litre_with_the_rule_sets_molecular_weight() -> None:
    rule = _rule(key="il1b-pmol", analyte="IL1B", unit="pmol/L", high=Decimal("0.5"))
    ruleset = _ruleset(rule, weights=(("IL1B", IL1B_MW),))

    result = _one("12.4", "pg/mL", ruleset, analyte="IL1B")

    assert result.code is H
    assert result.rule_key == "il1b-pmol"
    assert result.conversion == (
        "12.4 pg/mL ≈ 0.7085714285714285714285714286 pmol/L "
        "(1 pg/mL = 1/17.5 pmol/L, molecular weight 17.5 kDa)"
    )
    assert "0.7085714285714285714285714286 > 0.5 (upper limit, inclusive)" in result.reason


def test_never_converts_to_pmol_per_litre_without_a_single_molecular_weight() -> None:
    # IL-6 is glycosylated (20–28 kDa): no single molecular weight, so none is recorded.
    rule = _rule(key="il6-pmol", unit="pmol/L", high=Decimal("0.3"))
    ruleset = _ruleset(rule, weights=(("IL1B", IL1B_MW),))

    result = _one("12.4", "pg/mL", ruleset)

    assert result.code is None
    assert result.conversion is None
    assert result.reason == (
        "no reference interval in pg/mL for IL6 (intervals exist in pmol/L); pg/mL converts to "
        "pmol/L only with a single molecular weight of IL6, and the rule set records none"
    )


def test_a_u_per_ml_rule_never_judges_a_pg_per_ml_value() -> None:
    rule = _rule(key="sil2r-u", analyte="SIL2R", unit="U/mL", low=Decimal(137), high=Decimal(838))

    result = _one("900", "pg/mL", _ruleset(rule), analyte="SIL2R")

    assert result.code is None
    assert result.rule_key is None
    assert "no physical conversion between pg/mL and U/mL" in result.reason


def test_a_pg_per_ml_rule_never_judges_a_u_per_ml_value() -> None:
    rule = _rule(key="sil2r-pg", analyte="SIL2R", low=Decimal("266.5"), high=Decimal("1410.4"))

    result = _one("900", "U/mL", _ruleset(rule), analyte="SIL2R")

    assert result.code is None
    assert result.reason == (
        "no reference interval in U/mL for SIL2R (intervals exist in pg/mL); U/mL is an "
        "arbitrary (assay-defined) unit: no physical conversion between U/mL and pg/mL"
    )


def test_prefers_an_exact_conversion_to_one_by_molecular_weight() -> None:
    pmol = _rule(key="il1b-pmol", analyte="IL1B", unit="pmol/L", high=Decimal("0.5"))
    ng = _rule(key="il1b-ng", analyte="IL1B", unit="ng/mL", high=Decimal("0.0074"))
    ruleset = _ruleset(pmol, ng, weights=(("IL1B", IL1B_MW),))

    result = _one("12.4", "ng/L", ruleset, analyte="IL1B")

    assert result.rule_key == "il1b-ng"
    assert result.conversion == "12.4 ng/L = 0.0124 ng/mL (1 ng/L = 0.001 ng/mL)"


def test_a_measuring_range_remark_stays_in_the_measurements_unit() -> None:
    measurement = Measurement(
        "IL6", Decimal("0.8"), Comparator.EQ, "ng/L", lloq=Decimal("1.5"), uloq=Decimal("5000")
    )

    [result] = interpret([measurement], ADULT, _ruleset())

    assert result.reason == (
        "0.8 ng/L = 0.8 pg/mL (1 ng/L = 1 pg/mL); 0.8 within ≤7.4 pg/mL; outside the assay's "
        f"measuring range (LLOQ 1.5 / ULOQ 5000 ng/L): extrapolated — {ARUP}"
    )


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (
            (("IL1B", IL1B_MW), ("IL1B", Decimal("17"))),
            "gives IL1B two molecular weights",
        ),
        ((("IL1B", Decimal(0)),), "molecular weight of IL1B"),
    ],
)
def test_refuses_contradictory_molecular_weights(
    weights: tuple[tuple[str, Decimal], ...], message: str
) -> None:
    with pytest.raises(InvalidRuleSet, match=message):
        interpret([], ADULT, _ruleset(weights=weights))


def test_the_same_molecular_weight_twice_is_not_a_contradiction() -> None:
    ruleset = _ruleset(weights=(("IL1B", IL1B_MW), ("IL1B", Decimal("17.50"))))

    assert interpret([], ADULT, ruleset) == []
