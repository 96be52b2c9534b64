"""Table-driven tests of ``interpret``: every limit, every partition, every reason. No database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from reference_ranges.engine import (
    Age,
    AgeUnit,
    AmbiguousRules,
    Comparator,
    Interpretation,
    InterpretationCode,
    Measurement,
    PatientContext,
    RangeRule,
    RuleSet,
    Sex,
    age_on,
    interpret,
)

N = InterpretationCode.NORMAL
H = InterpretationCode.HIGH
L = InterpretationCode.LOW
HH = InterpretationCode.CRITICAL_HIGH
LL = InterpretationCode.CRITICAL_LOW
OFF_LOW = InterpretationCode.OFF_SCALE_LOW
OFF_HIGH = InterpretationCode.OFF_SCALE_HIGH
IND = InterpretationCode.INDETERMINATE

ARUP = "ARUP Laboratories 3002601"
ADULT = PatientContext(sex=Sex.FEMALE, age=Age(days=14_610, years=40), specimen_type="serum")


def _rule(**overrides: Any) -> RangeRule:
    fields: dict[str, Any] = {
        "key": "il6-arup",
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


def _ruleset(*rules: RangeRule) -> RuleSet:
    return RuleSet(key="cytokines", version="2026.1", rules=rules)


def _measurement(text: str, analyte: str = "IL6", unit: str = "pg/mL") -> Measurement:
    """Parse a result as a lab reports it: "12.4", "<20", "<=7.4", ">5000", ">=1000"."""
    for comparator in (Comparator.LE, Comparator.GE, Comparator.LT, Comparator.GT):
        if text.startswith(comparator.value):
            return Measurement(analyte, Decimal(text[len(comparator.value) :]), comparator, unit)
    return Measurement(analyte, Decimal(text), Comparator.EQ, unit)


def _one(
    rule_or_rules: RangeRule | tuple[RangeRule, ...],
    text: str,
    patient: PatientContext = ADULT,
    unit: str = "pg/mL",
    analyte: str = "IL6",
) -> Interpretation:
    rules = rule_or_rules if isinstance(rule_or_rules, tuple) else (rule_or_rules,)
    [result] = interpret([_measurement(text, analyte, unit)], patient, _ruleset(*rules))
    return result


HIGH_ONLY_INCLUSIVE = {"high": Decimal("7.4"), "high_inclusive": True}
HIGH_ONLY_EXCLUSIVE = {"high": Decimal("20"), "high_inclusive": False}
LOW_ONLY_INCLUSIVE = {"low": Decimal("5"), "low_inclusive": True, "high": None}
LOW_ONLY_EXCLUSIVE = {"low": Decimal("5"), "low_inclusive": False, "high": None}
SIL2R = {
    "low": Decimal("266.5"),
    "low_inclusive": True,
    "high": Decimal("1410.4"),
    "high_inclusive": True,
}
WITH_CRITICALS = {
    "low": Decimal("10"),
    "low_inclusive": True,
    "high": Decimal("100"),
    "high_inclusive": True,
    "critical_low": Decimal("2"),
    "critical_high": Decimal("1000"),
}


@pytest.mark.parametrize(
    ("_case", "limits", "value", "code", "reason"),
    [
        ("exactly at inclusive high", HIGH_ONLY_INCLUSIVE, "7.4", N, "7.4 within ≤7.4 pg/mL"),
        (
            "trailing zero at inclusive high",
            HIGH_ONLY_INCLUSIVE,
            "7.40",
            N,
            "7.40 within ≤7.4 pg/mL",
        ),
        (
            "just above inclusive high",
            HIGH_ONLY_INCLUSIVE,
            "7.4000001",
            H,
            "7.4000001 > 7.4 (upper limit, inclusive)",
        ),
        (
            "just below inclusive high",
            HIGH_ONLY_INCLUSIVE,
            "7.3999999",
            N,
            "7.3999999 within ≤7.4 pg/mL",
        ),
        (
            "well above inclusive high",
            HIGH_ONLY_INCLUSIVE,
            "12.4",
            H,
            "12.4 > 7.4 (upper limit, inclusive)",
        ),
        ("zero under high-only interval", HIGH_ONLY_INCLUSIVE, "0", N, "0 within ≤7.4 pg/mL"),
        (
            "exactly at exclusive high",
            HIGH_ONLY_EXCLUSIVE,
            "20",
            H,
            "20 ≥ 20 (upper limit, exclusive)",
        ),
        ("just below exclusive high", HIGH_ONLY_EXCLUSIVE, "19.999", N, "19.999 within <20 pg/mL"),
        (
            "just above exclusive high",
            HIGH_ONLY_EXCLUSIVE,
            "20.001",
            H,
            "20.001 ≥ 20 (upper limit, exclusive)",
        ),
        ("exactly at inclusive low", LOW_ONLY_INCLUSIVE, "5", N, "5 within ≥5 pg/mL"),
        (
            "just below inclusive low",
            LOW_ONLY_INCLUSIVE,
            "4.999",
            L,
            "4.999 < 5 (lower limit, inclusive)",
        ),
        ("exactly at exclusive low", LOW_ONLY_EXCLUSIVE, "5", L, "5 ≤ 5 (lower limit, exclusive)"),
        ("just above exclusive low", LOW_ONLY_EXCLUSIVE, "5.001", N, "5.001 within >5 pg/mL"),
        (
            "huge value under low-only interval",
            LOW_ONLY_INCLUSIVE,
            "1E+9",
            N,
            "1000000000 within ≥5 pg/mL",
        ),
        ("sIL-2R exactly at low", SIL2R, "266.5", N, "266.5 within 266.5–1410.4 pg/mL"),
        ("sIL-2R exactly at high", SIL2R, "1410.4", N, "1410.4 within 266.5–1410.4 pg/mL"),
        ("sIL-2R just below low", SIL2R, "266.49", L, "266.49 < 266.5 (lower limit, inclusive)"),
        (
            "sIL-2R just above high",
            SIL2R,
            "1410.41",
            H,
            "1410.41 > 1410.4 (upper limit, inclusive)",
        ),
        ("sIL-2R mid interval", SIL2R, "800", N, "800 within 266.5–1410.4 pg/mL"),
        (
            "at critical high",
            WITH_CRITICALS,
            "1000",
            HH,
            "1000 ≥ 1000 (critical high limit set by the laboratory)",
        ),
        (
            "beyond critical high",
            WITH_CRITICALS,
            "5000",
            HH,
            "5000 ≥ 1000 (critical high limit set by the laboratory)",
        ),
        (
            "just inside critical high",
            WITH_CRITICALS,
            "999.99",
            H,
            "999.99 > 100 (upper limit, inclusive)",
        ),
        (
            "at critical low",
            WITH_CRITICALS,
            "2",
            LL,
            "2 ≤ 2 (critical low limit set by the laboratory)",
        ),
        (
            "beyond critical low",
            WITH_CRITICALS,
            "0.5",
            LL,
            "0.5 ≤ 2 (critical low limit set by the laboratory)",
        ),
        (
            "just inside critical low",
            WITH_CRITICALS,
            "2.01",
            L,
            "2.01 < 10 (lower limit, inclusive)",
        ),
        ("normal between criticals", WITH_CRITICALS, "50", N, "50 within 10–100 pg/mL"),
    ],
)
def test_flags_exact_value_against_published_limits(
    _case: str, limits: dict[str, Any], value: str, code: InterpretationCode, reason: str
) -> None:
    result = _one(_rule(**limits), value)

    assert result.code is code
    # A critical limit is the laboratory's: its verdict does not name the interval's source.
    critical = code in (InterpretationCode.CRITICAL_HIGH, InterpretationCode.CRITICAL_LOW)
    assert result.reason == (reason if critical else f"{reason} — {ARUP}")


@pytest.mark.parametrize(
    ("_case", "limits", "value", "code", "reason"),
    [
        (
            "below-range result entirely inside high-only interval",
            {"high": Decimal("14.5")},
            "<2.0",
            N,
            "<2.0: every possible value is within ≤14.5 pg/mL",
        ),
        (
            "below-range result straddling the upper limit",
            HIGH_ONLY_INCLUSIVE,
            "<20",
            IND,
            "<20: below the measuring limit 20 pg/mL, which is above the interval's upper limit "
            "7.4: cannot be placed (could be within ≤7.4 pg/mL or high)",
        ),
        (
            "below-range result certainly below the lower limit",
            LOW_ONLY_INCLUSIVE,
            "<1",
            OFF_LOW,
            "<1: below the measuring range and below the interval's lower limit (≥5 pg/mL)",
        ),
        (
            "below-range result reaching an inclusive lower limit is indeterminate",
            LOW_ONLY_INCLUSIVE,
            "<=5",
            IND,
            "≤5: at or below the measuring limit 5 pg/mL, which is at the interval's lower limit "
            "5: cannot be placed (could be low or within ≥5 pg/mL)",
        ),
        (
            "below-range result up to an exclusive lower limit is certainly below",
            LOW_ONLY_EXCLUSIVE,
            "<=5",
            OFF_LOW,
            "≤5: below the measuring range and below the interval's lower limit (>5 pg/mL)",
        ),
        (
            "below-range result under a two-sided interval",
            SIL2R,
            "<100",
            OFF_LOW,
            "<100: below the measuring range and below the interval's lower limit "
            "(266.5–1410.4 pg/mL)",
        ),
        (
            "less-than exactly at inclusive high",
            HIGH_ONLY_INCLUSIVE,
            "<7.4",
            N,
            "<7.4: every possible value is within ≤7.4 pg/mL",
        ),
        (
            "less-than exactly at exclusive high",
            HIGH_ONLY_EXCLUSIVE,
            "<20",
            N,
            "<20: every possible value is within <20 pg/mL",
        ),
        (
            "less-or-equal exactly at inclusive high",
            HIGH_ONLY_INCLUSIVE,
            "<=7.4",
            N,
            "≤7.4: every possible value is within ≤7.4 pg/mL",
        ),
        (
            "less-or-equal exactly at exclusive high",
            HIGH_ONLY_EXCLUSIVE,
            "<=20",
            IND,
            "≤20: at or below the measuring limit 20 pg/mL, which is at the interval's upper "
            "limit 20: cannot be placed (could be within <20 pg/mL or high)",
        ),
        (
            "below-range result entirely at or under critical low",
            WITH_CRITICALS,
            "<2",
            LL,
            "<2: every possible value is ≤ 2 (critical low limit set by the laboratory)",
        ),
        (
            "below-range result partly above critical low",
            WITH_CRITICALS,
            "<5",
            OFF_LOW,
            "<5: below the measuring range and below the interval's lower limit (10–100 pg/mL); "
            "may be at or below the critical low limit 2",
        ),
        (
            "below-range result under a high-only interval with critical high",
            {"high": Decimal("7.4"), "critical_high": Decimal("7.4")},
            "<7.4",
            N,
            "<7.4: every possible value is within ≤7.4 pg/mL",
        ),
        (
            "less-or-equal reaching critical high is indeterminate",
            {"high": Decimal("7.4"), "critical_high": Decimal("7.4")},
            "<=7.4",
            IND,
            "≤7.4: at or below the measuring limit 7.4 pg/mL, which is at the interval's upper "
            "limit 7.4: cannot be placed (could be within ≤7.4 pg/mL or critically high)",
        ),
        (
            "zero lower limit inclusive admits every below-range value",
            {"low": Decimal("0"), "low_inclusive": True, "high": Decimal("14.5")},
            "<2",
            N,
            "<2: every possible value is within 0–14.5 pg/mL",
        ),
        (
            "zero lower limit exclusive excludes a possible zero",
            {"low": Decimal("0"), "low_inclusive": False, "high": Decimal("14.5")},
            "<2",
            IND,
            "<2: below the measuring limit 2 pg/mL, which is above the interval's lower limit 0: "
            "cannot be placed (could be low or within >0 and ≤14.5 pg/mL)",
        ),
        (
            "above-range result certainly above the upper limit",
            {"high": Decimal("2.5")},
            ">5000",
            OFF_HIGH,
            ">5000: above the measuring range and above the interval's upper limit (≤2.5 pg/mL)",
        ),
        (
            "above-range result beyond critical high",
            {"high": Decimal("2.5"), "critical_high": Decimal("1000")},
            ">5000",
            HH,
            ">5000: every possible value is ≥ 1000 (critical high limit set by the laboratory)",
        ),
        (
            "greater-or-equal exactly at critical high",
            {"high": Decimal("2.5"), "critical_high": Decimal("1000")},
            ">=1000",
            HH,
            "≥1000: every possible value is ≥ 1000 (critical high limit set by the laboratory)",
        ),
        (
            "greater-than exactly at critical high",
            {"high": Decimal("2.5"), "critical_high": Decimal("1000")},
            ">1000",
            HH,
            ">1000: every possible value is ≥ 1000 (critical high limit set by the laboratory)",
        ),
        (
            "above-range result just under critical high",
            {"high": Decimal("2.5"), "critical_high": Decimal("1000")},
            ">999.9",
            OFF_HIGH,
            ">999.9: above the measuring range and above the interval's upper limit "
            "(≤2.5 pg/mL); may be at or above the critical high limit 1000",
        ),
        (
            "greater-than exactly at inclusive high is certainly above",
            HIGH_ONLY_INCLUSIVE,
            ">7.4",
            OFF_HIGH,
            ">7.4: above the measuring range and above the interval's upper limit (≤7.4 pg/mL)",
        ),
        (
            "greater-or-equal exactly at inclusive high is indeterminate",
            HIGH_ONLY_INCLUSIVE,
            ">=7.4",
            IND,
            "≥7.4: at or above the measuring limit 7.4 pg/mL, which is at the interval's upper "
            "limit 7.4: cannot be placed (could be within ≤7.4 pg/mL or high)",
        ),
        (
            "greater-or-equal exactly at exclusive high is certainly above",
            HIGH_ONLY_EXCLUSIVE,
            ">=20",
            OFF_HIGH,
            "≥20: above the measuring range and above the interval's upper limit (<20 pg/mL)",
        ),
        (
            "above-range result inside a two-sided interval is indeterminate",
            SIL2R,
            ">300",
            IND,
            ">300: above the measuring limit 300 pg/mL, which is below the interval's upper limit "
            "1410.4: cannot be placed (could be within 266.5–1410.4 pg/mL or high)",
        ),
        (
            "above-range result entirely inside a low-only interval",
            LOW_ONLY_INCLUSIVE,
            ">10",
            N,
            ">10: every possible value is within ≥5 pg/mL",
        ),
        (
            "greater-or-equal exactly at inclusive low of a low-only interval",
            LOW_ONLY_INCLUSIVE,
            ">=5",
            N,
            "≥5: every possible value is within ≥5 pg/mL",
        ),
        (
            "greater-or-equal exactly at exclusive low of a low-only interval",
            LOW_ONLY_EXCLUSIVE,
            ">=5",
            IND,
            "≥5: at or above the measuring limit 5 pg/mL, which is at the interval's lower limit "
            "5: cannot be placed (could be low or within >5 pg/mL)",
        ),
        (
            "greater-than exactly at exclusive low of a low-only interval",
            LOW_ONLY_EXCLUSIVE,
            ">5",
            N,
            ">5: every possible value is within >5 pg/mL",
        ),
        (
            "less-than zero admits no concentration",
            HIGH_ONLY_INCLUSIVE,
            "<0",
            IND,
            "<0: no concentration is possible (concentrations are never negative); "
            "cannot be placed within or outside the interval ≤7.4 pg/mL",
        ),
    ],
)
def test_judges_censored_result_by_every_value_it_could_stand_for(
    _case: str, limits: dict[str, Any], value: str, code: InterpretationCode, reason: str
) -> None:
    result = _one(_rule(**limits), value)

    assert result.code is code
    # A critical limit is the laboratory's: its verdict does not name the interval's source.
    critical = code in (InterpretationCode.CRITICAL_HIGH, InterpretationCode.CRITICAL_LOW)
    assert result.reason == (reason if critical else f"{reason} — {ARUP}")


FEMALE_RULE = _rule(key="il6-f", sex=Sex.FEMALE, high=Decimal("5"))
MALE_RULE = _rule(key="il6-m", sex=Sex.MALE, high=Decimal("9"))


@pytest.mark.parametrize(
    ("_case", "sex", "code", "rule_key", "reason"),
    [
        ("female patient gets the female interval", Sex.FEMALE, H, "il6-f", "7 > 5 (upper limit"),
        ("male patient gets the male interval", Sex.MALE, N, "il6-m", "7 within ≤9 pg/mL"),
        (
            "unknown sex gets no interval",
            Sex.UNKNOWN,
            None,
            None,
            "patient sex unknown; intervals for this analyte are sex-specific",
        ),
        (
            "other sex gets no sex-specific interval",
            Sex.OTHER,
            None,
            None,
            "no reference interval for patient sex other; intervals for this analyte are "
            "sex-specific (female, male)",
        ),
    ],
)
def test_selects_sex_specific_interval_only_for_that_sex(
    _case: str, sex: Sex, code: InterpretationCode | None, rule_key: str | None, reason: str
) -> None:
    patient = replace(ADULT, sex=sex)

    result = _one((FEMALE_RULE, MALE_RULE), "7", patient)

    assert result.code is code
    assert result.rule_key == rule_key
    assert reason in result.reason


@pytest.mark.parametrize("sex", list(Sex))
def test_unisex_interval_applies_whatever_the_sex(sex: Sex) -> None:
    result = _one(_rule(sex=None), "7", replace(ADULT, sex=sex))

    assert result.code is N
    assert result.rule_key == "il6-arup"


def test_male_patient_with_only_female_intervals_gets_no_interval() -> None:
    result = _one(FEMALE_RULE, "7", replace(ADULT, sex=Sex.MALE))

    assert result.code is None
    assert result.reason == "no reference interval for male patients (intervals exist for female)"


def test_blames_unknown_sex_not_age_when_adult_intervals_are_sex_specific() -> None:
    # given adult intervals split by sex and one unisex paediatric interval
    adult_female = _rule(key="adult-f", sex=Sex.FEMALE, min_age=18)
    adult_male = _rule(key="adult-m", sex=Sex.MALE, min_age=18)
    child = _rule(key="child", max_age=18)
    # when an adult of unknown sex is interpreted
    patient = replace(ADULT, sex=Sex.UNKNOWN)
    result = _one((adult_female, adult_male, child), "7", patient)
    # then the reason is the unknown sex alone
    assert result.code is None
    assert result.reason == "patient sex unknown; intervals for this analyte are sex-specific"


def test_names_every_partition_that_kept_the_nearest_intervals_out() -> None:
    # given a female serum interval and a unisex plasma interval
    female_serum = _rule(key="f-serum", sex=Sex.FEMALE, specimen_types=frozenset({"serum"}))
    plasma = _rule(key="plasma", specimen_types=frozenset({"plasma"}))
    # when a male patient's serum is interpreted
    result = _one((female_serum, plasma), "7", replace(ADULT, sex=Sex.MALE))
    # then both near misses are explained
    assert result.code is None
    assert result.reason == (
        "no reference interval for specimen serum (intervals exist for plasma) / "
        "no reference interval for male patients (intervals exist for female)"
    )


def _cincinnati_sil2r() -> tuple[RangeRule, ...]:
    """sIL-2R in U/mL, age-partitioned as Cincinnati Children's publishes it."""
    source = "Cincinnati Children's Diagnostic Immunology Laboratories"
    common: dict[str, Any] = {
        "analyte": "SIL2R",
        "unit": "U/mL",
        "low_inclusive": True,
        "high_inclusive": True,
        "source": source,
        "age_unit": AgeUnit.YEARS,
    }
    return (
        _rule(
            key="sil2r-0-3", low=Decimal(398), high=Decimal(1940), min_age=0, max_age=3, **common
        ),
        _rule(
            key="sil2r-3-8", low=Decimal(144), high=Decimal(1329), min_age=3, max_age=8, **common
        ),
        _rule(key="sil2r-8+", low=Decimal(137), high=Decimal(838), min_age=8, **common),
    )


@pytest.mark.parametrize(
    ("_case", "on_date", "rule_key", "reference_text", "code"),
    [
        ("day before third birthday", date(2023, 3, 14), "sil2r-0-3", "398–1940 U/mL", N),
        ("exactly three years", date(2023, 3, 15), "sil2r-3-8", "144–1329 U/mL", H),
        ("seven years", date(2027, 9, 1), "sil2r-3-8", "144–1329 U/mL", H),
        ("day before eighth birthday", date(2028, 3, 14), "sil2r-3-8", "144–1329 U/mL", H),
        ("exactly eight years", date(2028, 3, 15), "sil2r-8+", "137–838 U/mL", H),
        ("newborn", date(2020, 3, 15), "sil2r-0-3", "398–1940 U/mL", N),
        ("adult", date(2060, 1, 1), "sil2r-8+", "137–838 U/mL", H),
    ],
)
def test_selects_age_band_by_completed_years(
    _case: str, on_date: date, rule_key: str, reference_text: str, code: InterpretationCode
) -> None:
    patient = replace(ADULT, age=age_on(date(2020, 3, 15), on_date))

    result = _one(_cincinnati_sil2r(), "1500", patient, unit="U/mL", analyte="SIL2R")

    assert result.rule_key == rule_key
    assert result.reference_text == reference_text
    assert result.code is code


@pytest.mark.parametrize(
    ("_case", "years", "code", "rule_key", "reason"),
    [
        (
            "seventeen years is below the adult partition",
            17,
            None,
            None,
            "no reference interval for age 17 years; no age partition covers it "
            "(intervals exist for ages ≥18 years)",
        ),
        (
            "exactly eighteen years is adult",
            18,
            H,
            "il6-adult",
            f"12.4 > 7.4 (upper limit, inclusive) — {ARUP}",
        ),
    ],
)
def test_adult_only_interval_starts_at_eighteen(
    _case: str, years: int, code: InterpretationCode | None, rule_key: str | None, reason: str
) -> None:
    patient = replace(ADULT, age=Age(days=years * 365 + years // 4, years=years))

    result = _one(_rule(key="il6-adult", min_age=18), "12.4", patient)

    assert result.code is code
    assert result.rule_key == rule_key
    assert result.reason == reason


def test_age_in_days_partitions_compare_exact_days() -> None:
    neonate = _rule(key="neonate", age_unit=AgeUnit.DAYS, min_age=0, max_age=28, high=Decimal("20"))
    infant = _rule(key="infant", age_unit=AgeUnit.DAYS, min_age=28, max_age=365)

    day_27 = _one((neonate, infant), "10", replace(ADULT, age=Age(days=27, years=0)))
    day_28 = _one((neonate, infant), "10", replace(ADULT, age=Age(days=28, years=0)))
    day_365 = _one((neonate, infant), "10", replace(ADULT, age=Age(days=365, years=1)))

    assert (day_27.rule_key, day_27.code) == ("neonate", N)
    assert (day_28.rule_key, day_28.code) == ("infant", H)
    assert (day_365.rule_key, day_365.code) == (None, None)
    assert day_365.reason == (
        "no reference interval for age 365 days; no age partition covers it "
        "(intervals exist for ages 0 to <28 days, 28 to <365 days)"
    )


def test_missing_age_never_matches_age_partitioned_interval() -> None:
    patient = replace(ADULT, age=None)

    result = _one(_cincinnati_sil2r(), "1500", patient, unit="U/mL", analyte="SIL2R")

    assert result.code is None
    assert result.rule_key is None
    assert result.reference_text is None
    assert result.reason == "patient age unknown; intervals are age-partitioned"


def test_missing_age_still_interprets_unpartitioned_interval() -> None:
    patient = replace(ADULT, age=None)

    result = _one(_rule(), "12.4", patient)

    assert result.code is H
    assert result.rule_key == "il6-arup"


def test_missing_age_and_unknown_sex_name_both_unknowns() -> None:
    rules = (_rule(key="f", sex=Sex.FEMALE, min_age=18), _rule(key="m", sex=Sex.MALE, min_age=18))
    patient = PatientContext(sex=Sex.UNKNOWN, age=None, specimen_type="serum")

    result = _one(rules, "3", patient)

    assert result.code is None
    assert result.reason == (
        "patient sex unknown; intervals for this analyte are sex-specific / "
        "patient age unknown; intervals are age-partitioned"
    )


@pytest.mark.parametrize(
    ("_case", "specimen_types", "code", "reason"),
    [
        ("any specimen", None, H, f"12.4 > 7.4 (upper limit, inclusive) — {ARUP}"),
        (
            "listed specimen",
            frozenset({"serum", "plasma"}),
            H,
            f"12.4 > 7.4 (upper limit, inclusive) — {ARUP}",
        ),
        (
            "unlisted specimen",
            frozenset({"plasma", "CSF"}),
            None,
            "no reference interval for specimen serum (intervals exist for CSF, plasma)",
        ),
    ],
)
def test_selects_interval_only_for_its_specimen_types(
    _case: str,
    specimen_types: frozenset[str] | None,
    code: InterpretationCode | None,
    reason: str,
) -> None:
    result = _one(_rule(specimen_types=specimen_types), "12.4")

    assert result.code is code
    assert result.reason == reason


def test_never_judges_a_value_in_an_arbitrary_unit_by_a_mass_rule() -> None:
    rules = _cincinnati_sil2r()

    result = _one(rules, "500", unit="pg/mL", analyte="SIL2R")

    assert result == Interpretation(
        analyte="SIL2R",
        code=None,
        reason=(
            "no reference interval in pg/mL for SIL2R (intervals exist in U/mL); U/mL is an "
            "arbitrary (assay-defined) unit: no physical conversion between pg/mL and U/mL"
        ),
        ruleset_key="cytokines",
        ruleset_version="2026.1",
    )


def test_unknown_analyte_gets_no_interval() -> None:
    result = _one(_rule(), "3", analyte="IL17A")

    assert result == Interpretation(
        analyte="IL17A",
        code=None,
        reason="no reference interval for IL17A in rule set cytokines 2026.1",
        ruleset_key="cytokines",
        ruleset_version="2026.1",
    )


def test_overlapping_rules_raise_ambiguity() -> None:
    unisex = _rule(key="il6-any")
    female = _rule(key="il6-f", sex=Sex.FEMALE)

    with pytest.raises(AmbiguousRules) as raised:
        _one((unisex, female), "3")

    assert raised.value.analyte == "IL6"
    assert raised.value.rule_keys == ["il6-any", "il6-f"]


def test_overlap_that_does_not_reach_the_patient_is_not_ambiguous() -> None:
    unisex = _rule(key="il6-any")
    female = _rule(key="il6-f", sex=Sex.FEMALE)

    result = _one((unisex, female), "3", replace(ADULT, sex=Sex.MALE))

    assert (result.code, result.rule_key) == (N, "il6-any")


def test_rules_in_other_units_do_not_make_a_match_ambiguous() -> None:
    pg = _rule(
        key="sil2r-pg", analyte="SIL2R", unit="pg/mL", low=Decimal("266.5"), high=Decimal("1410.4")
    )
    units = _rule(key="sil2r-u", analyte="SIL2R", unit="U/mL", low=Decimal(137), high=Decimal(838))

    result = _one((pg, units), "900", unit="U/mL", analyte="SIL2R")

    assert (result.code, result.rule_key, result.reference_text) == (H, "sil2r-u", "137–838 U/mL")


def test_returns_one_result_per_measurement_in_input_order() -> None:
    ruleset = _ruleset(
        _rule(),
        _rule(key="tnf", analyte="TNFA", high=Decimal("22"), high_inclusive=False),
    )
    measurements = [
        _measurement("30", "TNFA"),
        _measurement("3", "IL6"),
        _measurement("1", "UNKNOWN"),
        _measurement("<20", "IL6"),
        _measurement("3", "TNFA"),
        _measurement("3", "IL6", unit="U/mL"),
    ]

    results = interpret(measurements, ADULT, ruleset)

    assert [(r.analyte, r.code, r.rule_key) for r in results] == [
        ("TNFA", H, "tnf"),
        ("IL6", N, "il6-arup"),
        ("UNKNOWN", None, None),
        ("IL6", IND, "il6-arup"),
        ("TNFA", N, "tnf"),
        ("IL6", None, None),
    ]


def test_no_measurements_give_no_results() -> None:
    assert interpret([], ADULT, _ruleset(_rule())) == []


def test_records_rule_ruleset_version_and_published_interval() -> None:
    result = _one(_rule(high=Decimal("2.5"), citation="Table 3"), "12.4")

    assert result == Interpretation(
        analyte="IL6",
        code=H,
        reason=f"12.4 > 2.5 (upper limit, inclusive) — {ARUP}",
        rule_key="il6-arup",
        ruleset_key="cytokines",
        ruleset_version="2026.1",
        reference_text="≤2.5 pg/mL",
    )
    assert result.is_abnormal is True


@pytest.mark.parametrize(
    ("_case", "value", "reason"),
    [
        ("normal", "3", f"3 within ≤7.4 pg/mL — {ARUP} [unverified source]"),
        ("high", "12.4", f"12.4 > 7.4 (upper limit, inclusive) — {ARUP} [unverified source]"),
        (
            "censored",
            "<20",
            "<20: below the measuring limit 20 pg/mL, which is above the interval's upper limit "
            f"7.4: cannot be placed (could be within ≤7.4 pg/mL or high) — {ARUP} "
            "[unverified source]",
        ),
    ],
)
def test_marks_unverified_source_in_every_reason(_case: str, value: str, reason: str) -> None:
    result = _one(_rule(verified=False), value)

    assert result.reason == reason


def test_reinterprets_with_each_new_rule_set_object() -> None:
    # Rule sets are indexed once and cached; a rebuilt rule set must never reuse a stale index.
    for step in range(100):
        high = Decimal(step)
        ruleset = _ruleset(_rule(high=high))

        [result] = interpret([_measurement("50")], ADULT, ruleset)

        assert result.code is (N if step >= 50 else H)
        assert result.reference_text == f"≤{step} pg/mL"


def test_same_rule_set_object_gives_identical_results_on_reuse() -> None:
    ruleset = _ruleset(_rule(), _rule(key="tnf", analyte="TNFA"))
    measurements = [_measurement("12.4"), _measurement("1", "TNFA")]

    first = interpret(measurements, ADULT, ruleset)
    second = interpret(measurements, ADULT, ruleset)

    assert first == second
    assert [r.code for r in first] == [H, N]


def test_remembered_rule_choices_never_mix_up_patients() -> None:
    # One rule set object (so its memos are shared) judged for patients of many ages, sexes and
    # specimens, twice, must answer exactly as a fresh rule set does for each patient alone.
    rules = (
        _rule(key="adult", min_age=18, specimen_types=frozenset({"serum"})),
        _rule(key="child", max_age=18, min_age=1, high=Decimal("9")),
        _rule(key="neonate-f", sex=Sex.FEMALE, age_unit=AgeUnit.DAYS, max_age=28),
    )
    shared = _ruleset(*rules)
    patients = [
        PatientContext(sex=sex, age=age, specimen_type=specimen)
        for sex in (Sex.FEMALE, Sex.MALE, Sex.UNKNOWN)
        for specimen in ("serum", "plasma")
        for age in (
            None,
            Age(days=27, years=0),
            Age(days=28, years=0),
            Age(days=400, years=1),
            Age(days=6_000, years=16),
            Age(days=6_574, years=17),
            Age(days=6_575, years=18),
            Age(days=14_610, years=40),
        )
    ]
    measurements = [_measurement("3"), _measurement("12.4"), _measurement("<20")]

    for patient in patients + patients[::-1]:
        alone = interpret(measurements, patient, _ruleset(*rules))

        assert interpret(measurements, patient, shared) == alone
