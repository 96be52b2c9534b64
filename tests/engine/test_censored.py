"""Censored results, measuring ranges and dilution factors: values as the lab reports them.

"<1.5" and ">5000" keep their comparator end to end and are judged honestly: normal only when
every value they could stand for is inside the interval, "IND" when they straddle a limit. An
uncensored value outside the assay's measuring range is judged as reported and called
extrapolated; a dilution factor is named, never multiplied. No database.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

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

N = InterpretationCode.NORMAL
H = InterpretationCode.HIGH
L = InterpretationCode.LOW
HH = InterpretationCode.CRITICAL_HIGH
LL = InterpretationCode.CRITICAL_LOW
OFF_LOW = InterpretationCode.OFF_SCALE_LOW
OFF_HIGH = InterpretationCode.OFF_SCALE_HIGH
IND = InterpretationCode.INDETERMINATE

ARUP = "ARUP Laboratories 3002601"
ADULT = PatientContext(sex=Sex.MALE, age=Age(days=15_000, years=41), specimen_type="plasma")


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


RULESET = RuleSet(key="cytokines", version="2026.1", rules=(_rule(),))


def _one(measurement: Measurement, *rules: RangeRule) -> Interpretation:
    ruleset = RuleSet(key="cytokines", version="2026.1", rules=rules or (_rule(),))
    [result] = interpret([measurement], ADULT, ruleset)
    return result


def _m(value: str, comparator: Comparator = Comparator.EQ, /, **extra: Any) -> Measurement:
    return Measurement("IL6", Decimal(value), comparator, "pg/mL", **extra)


# --- codes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "abnormal", "flagged", "critical"),
    [
        (N, False, False, False),
        (IND, False, True, False),
        (H, True, True, False),
        (L, True, True, False),
        (OFF_LOW, True, True, False),
        (OFF_HIGH, True, True, False),
        (HH, True, True, True),
        (LL, True, True, True),
    ],
)
def test_indeterminate_is_flagged_but_not_abnormal(
    code: InterpretationCode, abnormal: bool, flagged: bool, critical: bool
) -> None:
    interpretation = Interpretation(analyte="IL6", code=code, reason="r")

    assert (code.is_abnormal, code.is_flagged, code.is_critical) == (abnormal, flagged, critical)
    assert (interpretation.is_abnormal, interpretation.is_flagged) == (abnormal, flagged)


def test_indeterminate_is_the_hl7_code() -> None:
    assert InterpretationCode.INDETERMINATE.value == "IND"
    assert len(InterpretationCode.INDETERMINATE.value) <= 3  # fits Result.interpretation


def test_no_rule_is_neither_abnormal_nor_flagged() -> None:
    interpretation = Interpretation(analyte="IL6", code=None, reason="no interval")

    assert (interpretation.is_abnormal, interpretation.is_flagged) == (False, False)


# --- censored values: the cases ---------------------------------------------------------


@pytest.mark.parametrize(
    ("_case", "limits", "comparator", "value", "code", "reason"),
    [
        (
            "below an LLOQ that lies within the interval is normal",
            {},
            Comparator.LT,
            "1.5",
            N,
            "<1.5: every possible value is within ≤7.4 pg/mL",
        ),
        (
            "below an LLOQ above the interval's upper limit cannot be placed",
            {},
            Comparator.LT,
            "20",
            IND,
            "<20: below the measuring limit 20 pg/mL, which is above the interval's upper limit "
            "7.4: cannot be placed (could be within ≤7.4 pg/mL or high)",
        ),
        (
            "below an LLOQ under the interval's lower limit is certainly below",
            {"low": Decimal("5"), "high": None},
            Comparator.LT,
            "1",
            OFF_LOW,
            "<1: below the measuring range and below the interval's lower limit (≥5 pg/mL)",
        ),
        (
            "below an LLOQ at or under the critical low limit is critical",
            {"low": Decimal("10"), "high": Decimal("100"), "critical_low": Decimal("2")},
            Comparator.LT,
            "2",
            LL,
            "<2: every possible value is ≤ 2 (critical low limit set by the laboratory)",
        ),
        (
            "above a ULOQ at the critical high limit is critical",
            {"critical_high": Decimal("5000")},
            Comparator.GT,
            "5000",
            HH,
            ">5000: every possible value is ≥ 5000 (critical high limit set by the laboratory)",
        ),
        (
            "above a ULOQ beyond the critical high limit is critical",
            {"critical_high": Decimal("1000")},
            Comparator.GT,
            "5000",
            HH,
            ">5000: every possible value is ≥ 1000 (critical high limit set by the laboratory)",
        ),
        (
            "above a ULOQ above the upper limit, no critical limit",
            {},
            Comparator.GT,
            "5000",
            OFF_HIGH,
            ">5000: above the measuring range and above the interval's upper limit (≤7.4 pg/mL)",
        ),
        (
            "above a ULOQ under the critical high limit may be critical",
            {"critical_high": Decimal("10000")},
            Comparator.GT,
            "5000",
            OFF_HIGH,
            ">5000: above the measuring range and above the interval's upper limit "
            "(≤7.4 pg/mL); may be at or above the critical high limit 10000",
        ),
        (
            "above a limit inside the interval cannot be placed",
            {},
            Comparator.GT,
            "2",
            IND,
            ">2: above the measuring limit 2 pg/mL, which is below the interval's upper limit "
            "7.4: cannot be placed (could be within ≤7.4 pg/mL or high)",
        ),
        (
            "above a limit under a two-sided interval may be anything",
            {
                "low": Decimal("10"),
                "high": Decimal("100"),
                "critical_high": Decimal("1000"),
            },
            Comparator.GT,
            "2",
            IND,
            ">2: above the measuring limit 2 pg/mL, which is below the interval's lower limit "
            "10: cannot be placed (could be low, within 10–100 pg/mL, high or critically high)",
        ),
        (
            "below a limit straddling a critical limit only",
            {"low": Decimal("10"), "high": Decimal("100"), "critical_low": Decimal("2")},
            Comparator.LE,
            "5",
            OFF_LOW,
            "≤5: below the measuring range and below the interval's lower limit (10–100 pg/mL); "
            "may be at or below the critical low limit 2",
        ),
    ],
)
def test_judges_a_censored_value_by_every_value_it_could_stand_for(
    _case: str,
    limits: dict[str, Any],
    comparator: Comparator,
    value: str,
    code: InterpretationCode,
    reason: str,
) -> None:
    result = _one(_m(value, comparator), _rule(**limits))

    assert result.code is code
    # A critical limit is the laboratory's: its verdict does not name the interval's source.
    critical = code in (InterpretationCode.CRITICAL_HIGH, InterpretationCode.CRITICAL_LOW)
    assert result.reason == (reason if critical else f"{reason} — {ARUP}")


def test_keeps_the_comparator_end_to_end() -> None:
    measurement = _m("1.5", Comparator.LT)

    result = _one(measurement)

    assert (measurement.value, measurement.comparator) == (Decimal("1.5"), Comparator.LT)
    assert measurement.is_censored is True
    assert result.reason.startswith("<1.5: ")


@pytest.mark.parametrize("comparator", [c for c in Comparator if c is not Comparator.EQ])
def test_a_censored_value_is_never_a_number(comparator: Comparator) -> None:
    assert _m("1.5", comparator).exact_value is None


def test_an_exact_value_is_its_number() -> None:
    assert _m("12.40").exact_value == Decimal("12.40")
    assert _m("12.40").is_censored is False


# --- measuring range ----------------------------------------------------------------------------

ROCHE = {"lloq": Decimal("1.5"), "uloq": Decimal("5000")}


@pytest.mark.parametrize(
    ("_case", "value", "extra", "code", "reason"),
    [
        ("inside the measuring range", "3.2", ROCHE, N, "3.2 within ≤7.4 pg/mL"),
        ("exactly at the LLOQ", "1.5", ROCHE, N, "1.5 within ≤7.4 pg/mL"),
        ("exactly at the ULOQ", "5000", ROCHE, H, "5000 > 7.4 (upper limit, inclusive)"),
        (
            "below the LLOQ is judged as reported, and called extrapolated",
            "0.8",
            ROCHE,
            N,
            "0.8 within ≤7.4 pg/mL; outside the assay's measuring range "
            "(LLOQ 1.5 / ULOQ 5000 pg/mL): extrapolated",
        ),
        (
            "above the ULOQ is judged as reported, and called extrapolated",
            "6200",
            ROCHE,
            H,
            "6200 > 7.4 (upper limit, inclusive); outside the assay's measuring range "
            "(LLOQ 1.5 / ULOQ 5000 pg/mL): extrapolated",
        ),
        (
            "only an LLOQ known",
            "0.8",
            {"lloq": Decimal("1.5")},
            N,
            "0.8 within ≤7.4 pg/mL; outside the assay's measuring range (LLOQ 1.5 pg/mL): "
            "extrapolated",
        ),
        (
            "only a ULOQ known",
            "6200",
            {"uloq": Decimal("5000")},
            H,
            "6200 > 7.4 (upper limit, inclusive); outside the assay's measuring range "
            "(ULOQ 5000 pg/mL): extrapolated",
        ),
        (
            "a diluted result above the ULOQ is not extrapolated, and not multiplied",
            "12000",
            {**ROCHE, "dilution_factor": Decimal("10")},
            H,
            "12000 > 7.4 (upper limit, inclusive); above the assay's ULOQ 5000 pg/mL for an "
            "undiluted sample; dilution factor 10 (already applied by the lab to the reported "
            "value)",
        ),
        (
            "a dilution factor inside the measuring range",
            "3.2",
            {**ROCHE, "dilution_factor": Decimal("2")},
            N,
            "3.2 within ≤7.4 pg/mL; dilution factor 2 (already applied by the lab to the "
            "reported value)",
        ),
        (
            "an undiluted sample",
            "3.2",
            {"dilution_factor": Decimal("1")},
            N,
            "3.2 within ≤7.4 pg/mL; undiluted (dilution factor 1)",
        ),
        (
            "an undiluted sample above the ULOQ is extrapolated",
            "6200",
            {**ROCHE, "dilution_factor": Decimal("1")},
            H,
            "6200 > 7.4 (upper limit, inclusive); outside the assay's measuring range "
            "(LLOQ 1.5 / ULOQ 5000 pg/mL): extrapolated; undiluted (dilution factor 1)",
        ),
    ],
)
def test_names_the_measuring_range_and_dilution_in_the_reason(
    _case: str, value: str, extra: dict[str, Decimal], code: InterpretationCode, reason: str
) -> None:
    result = _one(_m(value, **extra))

    assert result.code is code
    # A critical limit is the laboratory's: its verdict does not name the interval's source.
    critical = code in (InterpretationCode.CRITICAL_HIGH, InterpretationCode.CRITICAL_LOW)
    assert result.reason == (reason if critical else f"{reason} — {ARUP}")


def test_a_censored_value_at_its_lloq_needs_no_measuring_range_remark() -> None:
    result = _one(_m("1.5", Comparator.LT, **ROCHE))

    assert result.reason == f"<1.5: every possible value is within ≤7.4 pg/mL — {ARUP}"


def test_a_censored_value_keeps_its_dilution_remark() -> None:
    result = _one(_m("5000", Comparator.GT, dilution_factor=Decimal("10")))

    assert result.code is OFF_HIGH
    assert result.reason == (
        ">5000: above the measuring range and above the interval's upper limit (≤7.4 pg/mL); "
        f"dilution factor 10 (already applied by the lab to the reported value) — {ARUP}"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"lloq": Decimal("10"), "uloq": Decimal("5")}, "LLOQ 10 is above ULOQ 5"),
        ({"dilution_factor": Decimal("0")}, "dilution factor 0 is not > 0"),
        ({"dilution_factor": Decimal("-2")}, "dilution factor -2 is not > 0"),
    ],
)
def test_refuses_an_impossible_measuring_range_or_dilution(
    extra: dict[str, Decimal], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _m("3", **extra)


# --- memos never change a result ----------------------------------------------------------------


def test_a_value_written_with_more_decimals_keeps_them_after_the_same_number() -> None:
    # The memo is keyed by the value as written: "7.40" is not served the answer for "7.4".
    first, second, third = interpret([_m("7.4"), _m("7.40"), _m("7.4")], ADULT, RULESET)

    assert first.reason == f"7.4 within ≤7.4 pg/mL — {ARUP}"
    assert second.reason == f"7.40 within ≤7.4 pg/mL — {ARUP}"
    assert third == first


def test_remarks_are_never_served_from_a_plain_result() -> None:
    plain, extrapolated, diluted = interpret(
        [
            _m("0.8"),
            _m("0.8", lloq=Decimal("1.5")),
            _m("0.8", dilution_factor=Decimal("2")),
        ],
        ADULT,
        RULESET,
    )

    assert plain.reason == f"0.8 within ≤7.4 pg/mL — {ARUP}"
    assert "extrapolated" in extrapolated.reason
    assert "dilution factor 2" in diluted.reason


def test_a_censored_result_is_not_served_the_exact_answer() -> None:
    exact, below, at_most = interpret(
        [_m("20"), _m("20", Comparator.LT), _m("20", Comparator.LE)], ADULT, RULESET
    )

    assert (exact.code, below.code, at_most.code) == (H, IND, IND)
    assert below.reason.startswith("<20: ")
    assert at_most.reason.startswith("≤20: ")


def test_results_are_the_same_with_a_warm_or_a_fresh_rule_set() -> None:
    measurements = [_m(f"{tenths / 10}") for tenths in range(0, 200, 7)]
    measurements += [_m("20", Comparator.LT), _m("5000", Comparator.GT)]
    warm = interpret(measurements, ADULT, RULESET)

    again = interpret(measurements, ADULT, RULESET)
    fresh = interpret(measurements, ADULT, replace(RULESET))

    assert again == warm
    assert fresh == warm


def test_results_stay_right_when_the_memo_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    engine_interpret = importlib.import_module("reference_ranges.engine.interpret")
    monkeypatch.setattr(engine_interpret, "_RESULT_MEMO_SIZE", 2)
    ruleset = replace(RULESET)
    measurements = [_m(text) for text in ("1", "2", "3", "8", "9", "1", "9")]

    results = interpret(measurements, ADULT, ruleset)

    assert [r.code for r in results] == [N, N, N, H, H, N, H]
    assert [r.reason.split(" ")[0] for r in results] == ["1", "2", "3", "8", "9", "1", "9"]


# --- Interpretation stays immutable --------------------------------------------------------------


def test_an_interpretation_cannot_be_changed() -> None:
    [result] = interpret([_m("3")], ADULT, RULESET)

    with pytest.raises(AttributeError):
        result.code = H  # type: ignore[misc]


def test_an_interpretation_compares_hashes_and_prints_like_a_dataclass() -> None:
    first = Interpretation("IL6", N, "3 within ≤7.4 pg/mL", rule_key="il6")
    same = Interpretation(analyte="IL6", code=N, reason="3 within ≤7.4 pg/mL", rule_key="il6")
    other = Interpretation("IL6", H, "3 within ≤7.4 pg/mL", rule_key="il6")

    assert first == same
    assert hash(first) == hash(same)
    assert first != other
    assert first != ("IL6", N)
    assert repr(first) == (
        "Interpretation(analyte='IL6', code=<InterpretationCode.NORMAL: 'N'>, "
        "reason='3 within ≤7.4 pg/mL', rule_key='il6', ruleset_key=None, "
        "ruleset_version=None, reference_text=None, conversion=None)"
    )


def test_an_interpretation_survives_pickling() -> None:
    import pickle

    [result] = interpret([_m("12.4")], ADULT, RULESET)

    assert pickle.loads(pickle.dumps(result)) == result  # noqa: S301 - our own object
