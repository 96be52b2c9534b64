"""Tests of age arithmetic, interval wording and partition matching. No database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from reference_ranges.engine import (
    Age,
    AgeUnit,
    PatientContext,
    RangeRule,
    Sex,
    age_on,
    format_interval,
)
from reference_ranges.engine.matching import no_match_reason, rule_applies


def _rule(**overrides: Any) -> RangeRule:
    fields: dict[str, Any] = {
        "key": "rule",
        "analyte": "IL6",
        "unit": "pg/mL",
        "low": None,
        "low_inclusive": True,
        "high": None,
        "high_inclusive": True,
        "source": "ARUP Laboratories",
    }
    fields.update(overrides)
    return RangeRule(**fields)


@pytest.mark.parametrize(
    ("_case", "birth_date", "on_date", "days", "years"),
    [
        ("same day", date(2000, 6, 15), date(2000, 6, 15), 0, 0),
        ("next day", date(2000, 6, 15), date(2000, 6, 16), 1, 0),
        ("day before first birthday", date(2000, 6, 15), date(2001, 6, 14), 364, 0),
        ("first birthday", date(2000, 6, 15), date(2001, 6, 15), 365, 1),
        ("day before eighteenth birthday", date(2000, 6, 15), date(2018, 6, 14), 6573, 17),
        ("eighteenth birthday", date(2000, 6, 15), date(2018, 6, 15), 6574, 18),
        (
            "birthday later in the year not yet reached",
            date(1980, 12, 31),
            date(2026, 1, 1),
            16437,
            45,
        ),
        ("leap-day birth on 28 Feb of a common year", date(2020, 2, 29), date(2021, 2, 28), 365, 0),
        ("leap-day birth on 1 Mar of a common year", date(2020, 2, 29), date(2021, 3, 1), 366, 1),
        ("leap-day birth on its fourth birthday", date(2020, 2, 29), date(2024, 2, 29), 1461, 4),
        ("leap-day birth the day before", date(2020, 2, 29), date(2024, 2, 28), 1460, 3),
        ("28 Feb birth in a leap year on 29 Feb", date(2019, 2, 28), date(2020, 2, 29), 366, 1),
        ("1 Mar birth on 29 Feb", date(2019, 3, 1), date(2020, 2, 29), 365, 0),
    ],
)
def test_age_on_counts_exact_days_and_completed_years(
    _case: str, birth_date: date, on_date: date, days: int, years: int
) -> None:
    assert age_on(birth_date, on_date) == Age(days=days, years=years)


def test_age_on_rejects_date_before_birth() -> None:
    with pytest.raises(ValueError, match="date 2000-06-14 is before birth date 2000-06-15"):
        age_on(date(2000, 6, 15), date(2000, 6, 14))


@pytest.mark.parametrize(
    ("_case", "limits", "text"),
    [
        ("high only inclusive", {"high": Decimal("7.4")}, "≤7.4 pg/mL"),
        ("high only exclusive", {"high": Decimal("20"), "high_inclusive": False}, "<20 pg/mL"),
        ("low only inclusive", {"low": Decimal("5")}, "≥5 pg/mL"),
        ("low only exclusive", {"low": Decimal("5"), "low_inclusive": False}, ">5 pg/mL"),
        (
            "both inclusive",
            {"low": Decimal("266.5"), "high": Decimal("1410.4")},
            "266.5–1410.4 pg/mL",
        ),
        (
            "low inclusive high exclusive",
            {"low": Decimal("5"), "high": Decimal("20"), "high_inclusive": False},
            "≥5 and <20 pg/mL",
        ),
        (
            "low exclusive high inclusive",
            {"low": Decimal("5"), "low_inclusive": False, "high": Decimal("20")},
            ">5 and ≤20 pg/mL",
        ),
        (
            "both exclusive",
            {
                "low": Decimal("5"),
                "low_inclusive": False,
                "high": Decimal("20"),
                "high_inclusive": False,
            },
            ">5 and <20 pg/mL",
        ),
        ("trailing zeros kept", {"high": Decimal("7.40")}, "≤7.40 pg/mL"),
        ("many decimals never rounded", {"high": Decimal("0.123456789")}, "≤0.123456789 pg/mL"),
        ("exponent form printed plainly", {"high": Decimal("1E+3")}, "≤1000 pg/mL"),
        ("tiny exponent printed plainly", {"high": Decimal("1E-7")}, "≤0.0000001 pg/mL"),
        ("zero low", {"low": Decimal("0"), "high": Decimal("14.5")}, "0–14.5 pg/mL"),
        ("other unit", {"low": Decimal(137), "high": Decimal(838), "unit": "U/mL"}, "137–838 U/mL"),
        ("no limits", {}, "no limits (pg/mL)"),
    ],
)
def test_format_interval_reads_as_published(_case: str, limits: dict[str, Any], text: str) -> None:
    assert format_interval(_rule(**limits)) == text


ADULT_FEMALE_SERUM = PatientContext(
    sex=Sex.FEMALE, age=Age(days=14_610, years=40), specimen_type="serum"
)


@pytest.mark.parametrize(
    ("_case", "partition", "patient", "applies"),
    [
        ("no partition, everything known", {}, ADULT_FEMALE_SERUM, True),
        (
            "no partition, nothing known",
            {},
            PatientContext(sex=Sex.UNKNOWN, age=None, specimen_type="serum"),
            True,
        ),
        ("same sex", {"sex": Sex.FEMALE}, ADULT_FEMALE_SERUM, True),
        ("other sex", {"sex": Sex.MALE}, ADULT_FEMALE_SERUM, False),
        (
            "sex-specific rule, unknown sex",
            {"sex": Sex.FEMALE},
            PatientContext(sex=Sex.UNKNOWN, age=None, specimen_type="serum"),
            False,
        ),
        (
            "sex-specific rule, other sex",
            {"sex": Sex.FEMALE},
            PatientContext(sex=Sex.OTHER, age=None, specimen_type="serum"),
            False,
        ),
        ("at min age", {"min_age": 40}, ADULT_FEMALE_SERUM, True),
        ("below min age", {"min_age": 41}, ADULT_FEMALE_SERUM, False),
        ("at max age, which is excluded", {"max_age": 40}, ADULT_FEMALE_SERUM, False),
        ("below max age", {"max_age": 41}, ADULT_FEMALE_SERUM, True),
        ("min age zero", {"min_age": 0}, ADULT_FEMALE_SERUM, True),
        (
            "days unit compares days",
            {"age_unit": AgeUnit.DAYS, "min_age": 14_610},
            ADULT_FEMALE_SERUM,
            True,
        ),
        (
            "days unit, one day short",
            {"age_unit": AgeUnit.DAYS, "min_age": 14_611},
            ADULT_FEMALE_SERUM,
            False,
        ),
        (
            "age-partitioned rule, age unknown",
            {"min_age": 0},
            PatientContext(sex=Sex.FEMALE, age=None, specimen_type="serum"),
            False,
        ),
        ("listed specimen", {"specimen_types": frozenset({"serum"})}, ADULT_FEMALE_SERUM, True),
        ("unlisted specimen", {"specimen_types": frozenset({"plasma"})}, ADULT_FEMALE_SERUM, False),
        ("empty specimen list", {"specimen_types": frozenset()}, ADULT_FEMALE_SERUM, False),
    ],
)
def test_rule_applies_only_when_every_partition_admits_the_patient(
    _case: str, partition: dict[str, Any], patient: PatientContext, applies: bool
) -> None:
    assert rule_applies(_rule(**partition), patient) is applies


@pytest.mark.parametrize(
    ("_case", "rules", "patient", "reason"),
    [
        (
            "age unknown",
            (_rule(max_age=18), _rule(min_age=18)),
            PatientContext(sex=Sex.FEMALE, age=None, specimen_type="serum"),
            "patient age unknown; intervals are age-partitioned",
        ),
        (
            "age outside every band, mixed units",
            (_rule(age_unit=AgeUnit.DAYS, max_age=28), _rule(min_age=18)),
            PatientContext(sex=Sex.FEMALE, age=Age(days=4383, years=12), specimen_type="serum"),
            "no reference interval for age 12 years (4383 days); no age partition covers it "
            "(intervals exist for ages <28 days, ≥18 years)",
        ),
        (
            "sex unknown and specimen wrong: specimen is not an unknown fact",
            (
                _rule(sex=Sex.FEMALE),
                _rule(specimen_types=frozenset({"CSF"})),
            ),
            PatientContext(sex=Sex.UNKNOWN, age=None, specimen_type="serum"),
            "patient sex unknown; intervals for this analyte are sex-specific",
        ),
        (
            "wrong specimen only",
            (_rule(specimen_types=frozenset({"plasma", "CSF"})),),
            ADULT_FEMALE_SERUM,
            "no reference interval for specimen serum (intervals exist for CSF, plasma)",
        ),
    ],
)
def test_no_match_reason_names_what_kept_the_nearest_rules_out(
    _case: str, rules: tuple[RangeRule, ...], patient: PatientContext, reason: str
) -> None:
    assert no_match_reason(rules, patient) == reason


# --- Generic "plasma": never judged by an interval for a named anticoagulant unless the lab says


HEPARIN_INTERVAL = _rule(specimen_types=frozenset({"plasma", "plasma_heparin"}))
EDTA_INTERVAL = _rule(specimen_types=frozenset({"plasma", "plasma_edta"}))
ANY_PLASMA_INTERVAL = _rule(specimen_types=frozenset({"plasma"}))
ADULT = Age(days=16_000, years=43)


def _plasma(anticoagulant: str | None, specimen: str = "plasma") -> PatientContext:
    return PatientContext(
        sex=Sex.FEMALE, age=ADULT, specimen_type=specimen, plasma_anticoagulant=anticoagulant
    )


@pytest.mark.parametrize(
    ("_case", "rule", "patient", "applies"),
    [
        ("unspecified plasma, heparin interval", HEPARIN_INTERVAL, _plasma(None), False),
        ("unspecified plasma, EDTA interval", EDTA_INTERVAL, _plasma(None), False),
        ("lab says heparin, heparin interval", HEPARIN_INTERVAL, _plasma("plasma_heparin"), True),
        ("lab says heparin, EDTA interval", EDTA_INTERVAL, _plasma("plasma_heparin"), False),
        ("lab says EDTA, EDTA interval", EDTA_INTERVAL, _plasma("plasma_edta"), True),
        ("an interval for any plasma", ANY_PLASMA_INTERVAL, _plasma(None), True),
        ("an interval for any specimen", _rule(), _plasma(None), True),
        (
            "EDTA tube, EDTA interval, whatever the lab says of generic plasma",
            EDTA_INTERVAL,
            _plasma("plasma_heparin", specimen="plasma_edta"),
            True,
        ),
        ("serum is never plasma", HEPARIN_INTERVAL, _plasma("plasma_heparin", "serum"), False),
    ],
)
def test_generic_plasma_is_judged_by_an_anticoagulant_interval_only_when_the_lab_says(
    _case: str, rule: RangeRule, patient: PatientContext, applies: bool
) -> None:
    assert rule_applies(rule, patient) is applies


def test_unspecified_plasma_reason_names_the_anticoagulant_and_what_the_lab_has_not_said() -> None:
    assert no_match_reason([EDTA_INTERVAL], _plasma(None)) == (
        "no reference interval for unspecified plasma: the interval applies to EDTA plasma; "
        "the lab has not said which anticoagulant its plasma is"
    )
    assert no_match_reason([EDTA_INTERVAL], _plasma("plasma_heparin")) == (
        "no reference interval for plasma: the interval applies to EDTA plasma, and the lab's "
        "plasma is heparin plasma"
    )
