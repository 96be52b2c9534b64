"""The engine's fast paths (memos, per-profile plans, inline judging) against plain ones.

``interpret`` keeps a plan of chosen rules per patient profile, remembers interpretations per
rule and value, and judges the common case inline; ``evaluate_patterns`` remembers findings and
judgements per rule and inputs. None of that may change a single character of a result: here
each is compared, on random panels and patients, with a straightforward implementation that
remembers nothing. No database.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

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
    interpret,
)
from reference_ranges.engine.matching import no_match_reason, rule_applies
from reference_ranges.engine.patterns import (
    ClinicalValue,
    Finding,
    PatternContext,
    PatternRule,
    SerialPoint,
    evaluate_patterns,
    load_pattern_rules,
)

engine_interpret = importlib.import_module("reference_ranges.engine.interpret")
engine_rule_index = importlib.import_module("reference_ranges.engine.rule_index")
patterns_dispatch = importlib.import_module("reference_ranges.engine.patterns.dispatch")
patterns_judging = importlib.import_module("reference_ranges.engine.patterns.judging")

SETTINGS = settings(database=None, deadline=None, max_examples=300)
ARUP = "ARUP Laboratories 3002601"


def _rule(key: str, analyte: str, unit: str = "pg/mL", **fields: Any) -> RangeRule:
    defaults: dict[str, Any] = {
        "low": None,
        "low_inclusive": True,
        "high": None,
        "high_inclusive": True,
        "source": ARUP,
    }
    defaults.update(fields)
    return RangeRule(key=key, analyte=analyte, unit=unit, **defaults)


HEPARIN = frozenset({"plasma", "plasma_heparin"})
# The default rule set's shape: unpartitioned adult pg/mL intervals (ARUP), a lithium-heparin
# only interval, age-partitioned sIL-2R in U/mL (CCHMC); plus what the other rule sets of the
# tests use: sex-specific and day-partitioned intervals, low and critical limits, an exclusive
# limit, an unverified source, and a molecular weight (pg/mL <-> pmol/L for IL-1β).
RULES = (
    _rule("SIL2R", "SIL2R", low=Decimal("266.5"), high=Decimal("1410.4")),
    _rule("IL6", "IL6", high=Decimal("7.4"), critical_high=Decimal("1000")),
    _rule("IL10", "IL10", high=Decimal("5.3"), specimen_types=HEPARIN, min_age=18),
    _rule("IL1B", "IL1B", high=Decimal("7.4"), high_inclusive=False),
    _rule(
        "TNFA",
        "TNFA",
        low=Decimal("1.5"),
        low_inclusive=False,
        high=Decimal("14.5"),
        critical_low=Decimal("0.2"),
        verified=False,
    ),
    _rule("IL8-F", "IL8", high=Decimal("9.4"), sex=Sex.FEMALE),
    _rule("IL8-M", "IL8", high=Decimal("12"), sex=Sex.MALE),
    _rule("IL2-NEO", "IL2", high=Decimal("4"), age_unit=AgeUnit.DAYS, max_age=28),
    _rule("IL2-INF", "IL2", high=Decimal("3"), age_unit=AgeUnit.DAYS, min_age=28),
    _rule("U-0-3", "SIL2R", "U/mL", low=Decimal("398"), high=Decimal("1940"), max_age=3),
    _rule("U-3-8", "SIL2R", "U/mL", low=Decimal("144"), high=Decimal("1329"), min_age=3, max_age=8),
    _rule("U-8+", "SIL2R", "U/mL", low=Decimal("137"), high=Decimal("838"), min_age=8),
)
RULESET = RuleSet(
    key="cytokines",
    version="2026.1",
    rules=RULES,
    molecular_weights=(("IL1B", Decimal("17.5")),),
)
ANALYTES = ("SIL2R", "IL6", "IL10", "IL1B", "TNFA", "IL8", "IL2", "IL18")
UNITS = ("pg/mL", "pg/mL", "pg/mL", "ng/L", "ng/mL", "pmol/L", "U/mL", "mg/L")
LIMITS = sorted({limit for r in RULES for limit in (r.low, r.high) if limit is not None})

# Values as labs write them: few decimals, trailing zeros ("7.40"), exponents ("1E+3"), limits.
values = st.one_of(
    st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=20, places=1, allow_nan=False, allow_infinity=False),
    st.sampled_from(LIMITS),
    st.sampled_from(LIMITS).map(lambda limit: limit.quantize(Decimal("0.00"))),
    st.sampled_from(["1E+3", "7.4E0", "0E-2", "74E-1", "0", "0.000"]).map(Decimal),
)
optional_limits = st.none() | st.sampled_from([Decimal("1.5"), Decimal("0.5"), Decimal("2")])
measurements_strategy = st.lists(
    st.builds(
        Measurement,
        analyte=st.sampled_from(ANALYTES),
        value=values,
        comparator=st.sampled_from(list(Comparator)),
        unit=st.sampled_from(UNITS),
        lloq=optional_limits,
        uloq=st.none() | st.sampled_from([Decimal("5000"), Decimal("20"), Decimal("2")]),
        dilution_factor=st.none() | st.sampled_from([Decimal(1), Decimal(2), Decimal("10.0")]),
    ).filter(lambda m: m.lloq is None or m.uloq is None or m.lloq <= m.uloq),
    max_size=15,
)
ages = st.none() | st.integers(min_value=0, max_value=36_500).map(
    lambda days: Age(days=days, years=days * 4 // 1461)
)
patients = st.builds(
    PatientContext,
    sex=st.sampled_from(list(Sex)),
    age=ages,
    specimen_type=st.sampled_from(["plasma", "plasma_heparin", "plasma_edta", "serum"]),
    plasma_anticoagulant=st.sampled_from([None, "plasma_heparin", "plasma_edta"]),
)


def _exact_code(rule: RangeRule, value: Decimal) -> InterpretationCode:
    """The code of an exact value, straight from the published limits."""
    if rule.critical_high is not None and value >= rule.critical_high:
        return InterpretationCode.CRITICAL_HIGH
    if rule.critical_low is not None and value <= rule.critical_low:
        return InterpretationCode.CRITICAL_LOW
    if rule.high is not None and (value > rule.high if rule.high_inclusive else value >= rule.high):
        return InterpretationCode.HIGH
    if rule.low is not None and (value < rule.low if rule.low_inclusive else value <= rule.low):
        return InterpretationCode.LOW
    return InterpretationCode.NORMAL


def _plain_interpret(
    measurements: list[Measurement], patient: PatientContext, ruleset: RuleSet
) -> list[Interpretation]:
    """What ``interpret`` must answer, remembering nothing: for every measurement, the rules of
    its analyte and unit (or the unit it converts to) are tested against the patient one by one,
    and every result is worded by the engine's general path, never the inline one."""
    index = engine_rule_index.RuleIndex(ruleset)  # a new index: every memo empty
    results = []
    for measurement in measurements:
        group = index.rule_groups.get(measurement.analyte, {}).get(measurement.unit)
        if group is None:
            group = index.resolve(measurement.analyte, measurement.unit)
        if isinstance(group.fixed, Interpretation):
            results.append(group.fixed)
            continue
        applicable = [c for c in group.choices if rule_applies(c.prepared.rule, patient)]
        if len(applicable) > 1:
            raise AmbiguousRules(group.analyte, [c.prepared.rule.key for c in applicable])
        if not applicable:
            reason = no_match_reason([c.prepared.rule for c in group.choices], patient)
            results.append(index.unmatched(group.analyte, reason))
            continue
        [choice] = applicable
        result = engine_interpret._evaluate(index, choice, measurement)
        if measurement.comparator is Comparator.EQ and group.to_unit is None:
            assert result.code is _exact_code(choice.prepared.rule, measurement.value)
            assert result.reason.startswith(format(measurement.value, "f"))
        results.append(result)
    return results


def _fields(result: Interpretation) -> tuple[object, ...]:
    return (
        result.analyte,
        result.code,
        result.rule_key,
        result.reason,
        result.reference_text,
        result.conversion,
        result.ruleset_key,
        result.ruleset_version,
    )


# One rule set object for every example: its memos and plans fill up across examples, as in
# a running service, and must still answer exactly as the plain path.
SHARED = replace(RULESET)


@SETTINGS
@given(panels=st.lists(st.tuples(measurements_strategy, patients), min_size=1, max_size=4))
def test_interpret_answers_exactly_as_the_plain_path(
    panels: list[tuple[list[Measurement], PatientContext]],
) -> None:
    for measurements, patient in panels + panels[::-1]:
        expected = _plain_interpret(measurements, patient, RULESET)

        shared = interpret(measurements, patient, SHARED)
        fresh = interpret(measurements, patient, replace(RULESET))

        assert [_fields(r) for r in shared] == [_fields(r) for r in expected]
        assert [_fields(r) for r in fresh] == [_fields(r) for r in expected]
        assert shared == expected


@SETTINGS
@given(measurements=measurements_strategy, patient=patients)
def test_interpret_answers_exactly_as_the_plain_path_with_tiny_memos(
    measurements: list[Measurement], patient: PatientContext
) -> None:
    # Memos and plans that are full at once: every bound is crossed.
    bounds = (
        (engine_interpret, "_RESULT_MEMO_SIZE"),
        (engine_rule_index, "_PROFILE_MEMO_SIZE"),
        (engine_rule_index, "_PLAN_UNITS"),
        (engine_rule_index, "_UNMATCHED_ANALYTES"),
        (engine_rule_index, "_RESOLVED_LIMIT"),
    )
    saved = {(module, name): getattr(module, name) for module, name in bounds}
    try:
        for module, name in saved:
            setattr(module, name, 1)
        ruleset = replace(RULESET)
        expected = _plain_interpret(measurements, patient, RULESET)
        for _ in range(2):
            assert interpret(measurements, patient, ruleset) == expected
    finally:
        for (module, name), value in saved.items():
            setattr(module, name, value)


# --- pattern findings ----------------------------------------------------------------------------

PATTERN_RULES = Path(__file__).resolve().parents[2] / "reference_ranges/seed/pattern_rules.yaml"
SHIPPED = load_pattern_rules(yaml.safe_load(PATTERN_RULES.read_text(encoding="utf-8")))
# Every shipped rule, the disabled ones too: each kind is compared.
ALL_RULES: tuple[PatternRule, ...] = tuple(replace(rule, enabled=True) for rule in SHIPPED)

pattern_values = st.one_of(
    st.decimals(min_value=0, max_value=10_000, places=1, allow_nan=False, allow_infinity=False),
    st.sampled_from(["80", "80.0", "80.00", "97", "500", "2400", "2400.0", "8E+1"]).map(Decimal),
)
pattern_measurements = st.lists(
    st.builds(
        Measurement,
        analyte=st.sampled_from(("IL6", "CRP", "FERRITIN", "SIL2R", "IFNG", "IL5", "IL10")),
        value=pattern_values,
        comparator=st.sampled_from(list(Comparator)),
        unit=st.sampled_from(("pg/mL", "mg/L", "ng/mL", "U/mL")),
    ),
    max_size=8,
)
numbers = st.one_of(
    st.decimals(min_value=0, max_value=45, places=1, allow_nan=False, allow_infinity=False),
    st.sampled_from(["38.5", "38.50", "38", "39.4", "2", "2.0", "3"]).map(Decimal),
    st.integers(min_value=0, max_value=3),
    st.booleans(),
    st.sampled_from(["none", "both", "cpap", "low_flow_nasal_cannula"]),
)
ASTCT = (
    "temperature_c",
    "fever_attributable_to_other_cause",
    "antipyretic_or_anticytokine_given",
    "hypotension",
    "vasopressors_excluding_vasopressin",
    "vasopressin",
    "oxygen_device",
    "oxygen_flow_l_min",
)
HLH = (
    "splenomegaly",
    "cytopenias_2_of_3_lineages",
    "hypertriglyceridemia_or_hypofibrinogenemia",
    "hemophagocytosis",
    "nk_activity_low_or_absent",
    "hlh_molecular_diagnosis",
    "known_immunosuppression",
    "organomegaly",
    "cytopenic_lineages",
    "triglycerides_mmol_l",
    "fibrinogen_g_l",
    "ast_iu_l",
    "marrow_hemophagocytosis",
    "max_temperature_c_first_36h",
    "hours_since_infusion",
)
# Any input may be missing or carry any type: a bool where a number is expected, "2" and "2.0".
clinical_strategy = st.dictionaries(st.sampled_from(ASTCT + HLH), numbers, max_size=len(ASTCT))
baselines = st.none() | pattern_measurements.map(
    lambda ms: SerialPoint("B1", datetime(2026, 1, 1), tuple(ms), "plasma")  # noqa: DTZ001
)


def _context(
    measurements: list[Measurement], clinical: dict[str, Any], baseline: Any
) -> PatternContext:
    return PatternContext(
        measurements=tuple(measurements),
        clinical={name: ClinicalValue(name, value) for name, value in clinical.items()},
        history=(),
        baseline=baseline,
        age_years=40,
    )


def _plain_findings(rules: tuple[PatternRule, ...], context: PatternContext) -> list[Finding]:
    """The findings with no memo: every rule judged from scratch."""
    index = patterns_judging.index_measurements(context.measurements)
    return [patterns_dispatch.evaluate_rule(rule, context, index) for rule in rules if rule.enabled]


# Shared rule objects: their memos fill up across examples.
SHARED_RULES = tuple(replace(rule) for rule in ALL_RULES)


@SETTINGS
@given(
    contexts=st.lists(
        st.tuples(pattern_measurements, clinical_strategy, baselines), min_size=1, max_size=4
    )
)
def test_findings_are_exactly_those_of_the_plain_path(
    contexts: list[tuple[list[Measurement], dict[str, Any], Any]],
) -> None:
    for measurements, clinical, baseline in contexts + contexts[::-1]:
        context = _context(measurements, clinical, baseline)
        expected = _plain_findings(ALL_RULES, context)

        assert evaluate_patterns(SHARED_RULES, context) == expected
        assert evaluate_patterns(tuple(replace(r) for r in ALL_RULES), context) == expected


def test_findings_memo_keeps_equal_but_differently_written_inputs_apart() -> None:
    # 80 and 80.0 are equal numbers but are shown differently; True and 1 are equal in Python
    # but a flag is not a count: the memo must never serve one for the other.
    rules = tuple(replace(rule) for rule in ALL_RULES)
    for value in ("80", "80.0", "8E+1", "80.00"):
        measurement = Measurement("IL6", Decimal(value), Comparator.EQ, "pg/mL")
        for temperature in (Decimal(38), Decimal("38.0"), 38, True):
            context = _context([measurement], {"temperature_c": temperature}, None)
            assert evaluate_patterns(rules, context) == _plain_findings(rules, context)


def test_copies_of_a_rule_share_its_memo_but_differently_written_limits_never_do() -> None:
    # The service copies a rule a lab switched on (replace(rule, enabled=True)) for every panel:
    # the copies must answer as the rule does. A rule whose cut-off is equal but written
    # differently ("169.0") words its finding differently, and must never be served the other's.
    [hscore] = [rule for rule in ALL_RULES if rule.kind == "hscore"]
    rewritten = replace(
        hscore,
        thresholds=tuple(
            (name, Decimal(f"{value}.0") if name == "cutoff" else value)
            for name, value in hscore.thresholds
        ),
    )
    assert rewritten == hscore  # equal dataclasses: Decimal("169.0") == Decimal("169")
    clinical: dict[str, Any] = {
        "known_immunosuppression": True,
        "temperature_c": Decimal("39.5"),
        "organomegaly": "both",
        "cytopenic_lineages": 3,
        "triglycerides_mmol_l": Decimal("4.5"),
        "fibrinogen_g_l": Decimal("2.0"),
        "ast_iu_l": Decimal("40"),
        "marrow_hemophagocytosis": False,
    }
    ferritin = Measurement("FERRITIN", Decimal("7000"), Comparator.EQ, "ng/mL")
    context = _context([ferritin], clinical, None)
    for rule in (hscore, replace(hscore, enabled=True), rewritten, replace(rewritten), hscore):
        [finding] = evaluate_patterns((rule,), context)
        assert finding == _plain_findings((rule,), context)[0]
    [plain] = _plain_findings((hscore,), context)
    [other] = _plain_findings((rewritten,), context)
    assert plain.statement != other.statement


def test_an_explanation_is_shared_across_an_age_band_only_when_it_names_no_age() -> None:
    # given: a new rule set object (empty memos), IL-10 judged only in heparin plasma from 18
    ruleset = replace(RULESET)
    il10 = [Measurement("IL10", Decimal("3.1"), Comparator.EQ, "pg/mL")]

    def reason(specimen: str, years: int) -> str:
        patient = PatientContext(Sex.FEMALE, Age(days=years * 365, years=years), specimen)
        [result] = interpret(il10, patient, ruleset)
        assert result.code is None
        [plain] = _plain_interpret(il10, patient, ruleset)
        assert result == plain
        return result.reason

    # when / then: the wrong specimen is explained alike at 30 and 40 (same band), while each
    # child under 18 is told its own age
    assert reason("plasma_edta", 30) == reason("plasma_edta", 40)
    assert "age" not in reason("plasma_edta", 40)
    assert "10 years" in reason("plasma_heparin", 10)
    assert "12 years" in reason("plasma_heparin", 12)
    assert "10 years" in reason("plasma_heparin", 10)
