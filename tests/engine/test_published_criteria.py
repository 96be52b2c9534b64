"""The shipped pattern rules against the numbers of the papers they cite. No database.

Every expectation here is built from the published criterion (domain.md section c): each cut-off
is tested on both sides, ">" and "≥" are told apart, units are never converted, and a censored
result is never used as a number.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reference_ranges.engine.patterns import (
    CYTOKINE_ONLY_STATEMENT,
    UNVERIFIED_SUFFIX,
    ClinicalValue,
    Finding,
    FindingStatus,
    PatternContext,
    PatternRule,
    SerialPoint,
    evaluate_patterns,
    load_clinical_inputs,
    load_pattern_rules,
)
from reference_ranges.engine.types import Comparator, Measurement

SEED = Path(__file__).resolve().parents[2] / "reference_ranges" / "seed" / "pattern_rules.yaml"
DOCUMENT: dict[str, Any] = yaml.safe_load(SEED.read_text(encoding="utf-8"))
RULES = {rule.id: rule for rule in load_pattern_rules(DOCUMENT)}

MET = FindingStatus.MET
NOT_MET = FindingStatus.NOT_MET
IND = FindingStatus.INDETERMINATE
NOT_EVALUATED = FindingStatus.NOT_EVALUATED

# Citations exactly as in the research note's analytes.yaml `crs_rules:`.
CITATIONS = {
    "HEROLD_2020_IL6_CRP": "Herold T et al. J Allergy Clin Immunol 2020;146(1):128-136.e4",
    "HLH_2004": (
        "Henter JI et al. HLH-2004: diagnostic and therapeutic guidelines for HLH. "
        "Pediatr Blood Cancer 2007;48(2):124-131"
    ),
    "HSCORE_2014": (
        "Fardet L et al. Development and validation of the HScore. Arthritis Rheumatol 2014"
    ),
    "ASTCT_2019_CRS_GRADE": (
        "Lee DW, Santomasso BD, et al. ASTCT Consensus Grading for CRS and Neurologic "
        "Toxicity Associated with Immune Effector Cells. Biol Blood Marrow Transplant "
        "2019;25:625-638"
    ),
    "DAVILA_2014_FOLD_RISE": (
        "Davila ML et al. 2014 (PMC4684949; 16 B-ALL patients, 19-28z CAR T; "
        "Sci Transl Med recalled)"
    ),
    "HAY_2017": (
        "Hay KA et al. Kinetics and biomarkers of severe cytokine release syndrome after "
        "CD19 CAR-T cell therapy. Blood 2017;130(21):2295-2306"
    ),
    "DEL_VALLE_2020": "Del Valle DM et al. Nat Med 2020;26:1636 (doi 10.1038/s41591-020-1051-9)",
}


def m(analyte: str, text: str, unit: str) -> Measurement:
    """A result as a lab reports it: "12.4", "<2", "<=7.4", ">5000", ">=1000"."""
    for comparator in (Comparator.LE, Comparator.GE, Comparator.LT, Comparator.GT):
        if text.startswith(comparator.value):
            return Measurement(analyte, Decimal(text[len(comparator.value) :]), comparator, unit)
    return Measurement(analyte, Decimal(text), Comparator.EQ, unit)


def clinical(**values: Decimal | bool | str | int) -> dict[str, ClinicalValue]:
    converted: dict[str, ClinicalValue] = {}
    for name, value in values.items():
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value)
        converted[name] = ClinicalValue(name, value)
    return converted


def evaluate(
    rule_id: str,
    *measurements: Measurement,
    inputs: dict[str, ClinicalValue] | None = None,
    baseline: SerialPoint | None = None,
) -> Finding:
    rule = RULES[rule_id]
    if not rule.enabled:
        rule = replace(rule, enabled=True)
    context = PatternContext(
        measurements=measurements,
        clinical=inputs or {},
        history=(),
        baseline=baseline,
        age_years=45,
    )
    [finding] = evaluate_patterns([rule], context)
    return finding


def satisfied(finding: Finding, name: str) -> list[bool | None]:
    return [item.satisfied for item in finding.evidence if item.input == name]


# --- The shipped file ------------------------------------------------------------------------


def test_every_shipped_rule_parses_with_the_expected_ids_kinds_and_versions() -> None:
    assert [(rule.id, rule.kind, rule.version) for rule in RULES.values()] == [
        ("HEROLD_2020_IL6_CRP", "any_of", "2026.2"),
        ("HLH_2004", "count_of", "2026.2"),
        ("HSCORE_2014", "hscore", "2026.2"),
        ("ASTCT_2019_CRS_GRADE", "astct_crs_grade", "2026.2"),
        ("DAVILA_2014_FOLD_RISE", "fold_rise", "2026.1"),
        ("HAY_2017", "count_of", "2026.1"),
        ("DEL_VALLE_2020", "any_of", "2026.2"),
    ]
    assert len(load_clinical_inputs(DOCUMENT)) == 24


def test_unverified_rules_and_herold_ship_disabled() -> None:
    # Herold 2020 is verified but studied hospitalised COVID-19, not CRS: a lab switches it on.
    assert {rule.id: (rule.verified, rule.enabled) for rule in RULES.values()} == {
        "HEROLD_2020_IL6_CRP": (True, False),
        "HLH_2004": (True, True),
        "HSCORE_2014": (True, True),
        "ASTCT_2019_CRS_GRADE": (True, True),
        "DAVILA_2014_FOLD_RISE": (False, False),
        "HAY_2017": (False, False),
        "DEL_VALLE_2020": (False, False),
    }
    for rule in RULES.values():
        if not rule.verified:
            assert "UNVERIFIED" in rule.verification_note


def test_cytokine_only_rules_use_the_exact_wording() -> None:
    cytokine_only = {rule.id for rule in RULES.values() if rule.cytokine_only}

    assert cytokine_only == {"HEROLD_2020_IL6_CRP", "DAVILA_2014_FOLD_RISE", "DEL_VALLE_2020"}
    for rule_id in cytokine_only - {"HEROLD_2020_IL6_CRP"}:
        assert RULES[rule_id].statement_met == (
            "cytokine pattern consistent with CRS / cytokine storm — clinical grading required"
        )


def test_citations_are_those_of_the_research_note() -> None:
    assert {rule.id: rule.citation for rule in RULES.values()} == CITATIONS


def test_davila_note_says_it_evaluates_only_the_cytokine_part_and_is_recalled() -> None:
    note = RULES["DAVILA_2014_FOLD_RISE"].verification_note

    assert "evaluates only the cytokine part" in note
    assert "recalled" in note


def test_hlh_note_records_the_source_disagreement_on_strict_or_inclusive() -> None:
    note = RULES["HLH_2004"].verification_note

    assert '">" versus "≥"' in note
    assert "U/mL results only" in note


def test_only_the_shipped_enabled_rules_are_evaluated_by_default() -> None:
    context = PatternContext(
        measurements=(m("IL6", "12", "pg/mL"),),
        clinical={},
        history=(),
        baseline=None,
        age_years=None,
    )

    findings = evaluate_patterns(list(RULES.values()), context)

    assert [f.rule_id for f in findings] == [
        "HLH_2004",
        "HSCORE_2014",
        "ASTCT_2019_CRS_GRADE",
    ]


# --- Herold 2020: IL-6 > 80 pg/mL, CRP > 97 mg/L ---------------------------------------------


@pytest.mark.parametrize(
    ("il6", "crp", "status"),
    [
        ("80", "97", NOT_MET),
        ("80.1", "97", MET),
        ("80", "97.1", MET),
        ("79.9", "96.9", NOT_MET),
        (">80", "97", MET),  # every value above 80 is > 80
        (">=80", "97", IND),  # 80 itself is possible
        ("<=80", "97", NOT_MET),
        ("<100", "97", IND),
        ("<100", "150", MET),
        (">5000", "<2", MET),
        ("<2", "<5", NOT_MET),
    ],
)
def test_herold_cut_offs_are_strictly_greater_than(il6: str, crp: str, status: str) -> None:
    finding = evaluate("HEROLD_2020_IL6_CRP", m("IL6", il6, "pg/mL"), m("CRP", crp, "mg/L"))

    assert finding.status == status


HEROLD_PURPOSE = (
    "which predicted the need for mechanical ventilation in hospitalised COVID-19 — derived from "
    "the maximum value before intubation in that population and with the study's assays"
)


def test_herold_is_named_for_what_it_predicts_never_a_cytokine_pattern_or_a_grade() -> None:
    finding = evaluate("HEROLD_2020_IL6_CRP", m("IL6", "120", "pg/mL"), m("CRP", "150", "mg/L"))

    assert finding.name == (
        "Herold 2020: predictors of the need for mechanical ventilation in hospitalised "
        "COVID-19 (IL-6, CRP)"
    )
    assert finding.statement == (
        f"Above the Herold 2020 cut-off (IL-6 > 80 pg/mL; CRP > 97 mg/L), {HEROLD_PURPOSE}"
    )
    assert finding.score is None
    assert finding.verified is True
    assert [
        (e.input, e.value_text, e.criterion, e.satisfied, e.note) for e in finding.evidence
    ] == [
        ("IL6", "120 pg/mL", "IL-6 > 80 pg/mL", True, ""),
        ("CRP", "150 mg/L", "CRP > 97 mg/L", True, ""),
    ]


def test_herold_crp_alone_is_never_called_a_cytokine_pattern() -> None:
    finding = evaluate("HEROLD_2020_IL6_CRP", m("IL6", "12", "pg/mL"), m("CRP", "150", "mg/L"))

    assert finding.status == MET
    assert finding.statement == f"Above the Herold 2020 cut-off (CRP > 97 mg/L), {HEROLD_PURPOSE}"
    assert "cytokine" not in finding.statement


def test_herold_at_the_cut_off_says_not_above_never_below() -> None:
    finding = evaluate("HEROLD_2020_IL6_CRP", m("IL6", "80", "pg/mL"), m("CRP", "97", "mg/L"))

    assert finding.status == NOT_MET
    assert finding.statement == (
        "IL-6 not above 80 pg/mL and CRP not above 97 mg/L, the Herold 2020 cut-offs that "
        "predicted the need for mechanical ventilation in hospitalised COVID-19 (maximum value "
        "before intubation, the study's population and assays)"
    )
    assert "below" not in finding.statement


def test_herold_il6_after_tocilizumab_is_annotated_as_artefactually_raised() -> None:
    note = "IL-6 measured after tocilizumab (given 2026-11-12 08:00 UTC): raised artefactually"
    rule = replace(RULES["HEROLD_2020_IL6_CRP"], enabled=True)
    context = PatternContext(
        measurements=(m("IL6", "950", "pg/mL"), m("CRP", "20", "mg/L")),
        clinical={},
        history=(),
        baseline=None,
        age_years=60,
        analyte_notes={"IL6": note},
    )

    [finding] = evaluate_patterns([rule], context)

    assert finding.status == MET
    assert finding.statement == (
        f"Above the Herold 2020 cut-off (IL-6 > 80 pg/mL), {HEROLD_PURPOSE} — {note}"
    )
    assert [(e.input, e.note) for e in finding.evidence] == [("IL6", note), ("CRP", "")]


def test_herold_crp_in_mg_per_dl_is_never_converted() -> None:
    finding = evaluate("HEROLD_2020_IL6_CRP", m("IL6", "12", "pg/mL"), m("CRP", "15", "mg/dL"))

    assert finding.status == IND
    assert finding.evidence[1].note == "reported in mg/dL; criterion is defined in mg/L"
    assert finding.evidence[1].value_text == "15 mg/dL"


def test_herold_with_neither_analyte_is_not_evaluated() -> None:
    finding = evaluate("HEROLD_2020_IL6_CRP", m("TNFA", "<2.0", "pg/mL"))

    assert finding.status == NOT_EVALUATED
    assert finding.missing_inputs == ("IL6", "CRP")
    assert finding.evidence == ()


def test_herold_met_on_il6_alone_lists_crp_as_missing() -> None:
    finding = evaluate("HEROLD_2020_IL6_CRP", m("IL6", ">1500", "pg/mL"))

    assert finding.status == MET
    assert finding.missing_inputs == ("CRP",)
    assert finding.evidence[0].note == (
        "censored result: every value it can stand for meets the criterion"
    )


# --- HLH-2004: ≥5 of 8, ferritin ≥500 µg/L, sCD25 ≥2400 U/mL ----------------------------------


@pytest.mark.parametrize(
    ("ferritin", "expected"),
    [("500", True), ("499.9", False), ("500.1", True), (">499", None), (">=500", True)],
)
@pytest.mark.parametrize("unit", ["µg/L", "ng/mL"])
def test_hlh_ferritin_500_is_inclusive(ferritin: str, expected: bool | None, unit: str) -> None:
    finding = evaluate("HLH_2004", m("FERRITIN", ferritin, unit))

    assert satisfied(finding, "FERRITIN") == [expected]


@pytest.mark.parametrize(
    ("unit", "note"),
    [
        ("µg/L", ""),  # HLH-2004's own unit
        ("ng/mL", "1 ng/mL = 1 µg/L (identity)"),
        ("mg/L", "reported in mg/L; criterion is defined in µg/L"),  # changes the number: never
    ],
)
def test_hlh_ferritin_in_its_own_unit_decides_and_ng_per_ml_is_shown_as_an_identity(
    unit: str, note: str
) -> None:
    finding = evaluate("HLH_2004", m("FERRITIN", "8000", unit))
    [evidence] = [e for e in finding.evidence if e.input == "FERRITIN"]

    assert (evidence.satisfied, evidence.note) == (None if unit == "mg/L" else True, note)


@pytest.mark.parametrize(
    ("scd25", "unit", "expected", "note"),
    [
        ("2400", "U/mL", True, ""),
        ("2399.9", "U/mL", False, ""),
        ("2400", "pg/mL", None, "reported in pg/mL; criterion is defined in U/mL"),
        ("12000", "pg/mL", None, "reported in pg/mL; criterion is defined in U/mL"),
    ],
)
def test_hlh_scd25_threshold_applies_to_u_per_ml_only(
    scd25: str, unit: str, expected: bool | None, note: str
) -> None:
    finding = evaluate("HLH_2004", m("SIL2R", scd25, unit))
    [evidence] = [e for e in finding.evidence if e.input == "SIL2R"]

    assert (evidence.satisfied, evidence.note) == (expected, note)


@pytest.mark.parametrize(("temperature", "expected"), [("38.5", True), ("38.4", False)])
def test_hlh_fever_is_38_5_inclusive(temperature: str, expected: bool) -> None:
    finding = evaluate(
        "HLH_2004",
        m("FERRITIN", "100", "ng/mL"),
        inputs=clinical(temperature_c=Decimal(temperature)),
    )

    assert satisfied(finding, "temperature_c") == [expected]


def test_hlh_laboratory_criteria_alone_never_claim_hlh() -> None:
    finding = evaluate("HLH_2004", m("FERRITIN", "8000", "ng/mL"), m("SIL2R", "12000", "U/mL"))

    assert finding.status == IND
    assert finding.statement == (
        "HLH-2004 diagnostic criteria: 2 of 8 criteria met, 6 not evaluable; "
        "molecular diagnosis consistent with HLH: not evaluable — cannot be decided"
    )
    assert [e.input for e in finding.evidence if e.satisfied] == ["FERRITIN", "SIL2R"]
    assert finding.missing_inputs == (
        "temperature_c",
        "splenomegaly",
        "cytopenias_2_of_3_lineages",
        "hypertriglyceridemia_or_hypofibrinogenemia",
        "hemophagocytosis",
        "nk_activity_low_or_absent",
        "hlh_molecular_diagnosis",
    )


def test_hlh_fixture_adult_with_two_lab_and_three_clinical_criteria_meets_five_of_eight() -> None:
    finding = evaluate(
        "HLH_2004",
        m("FERRITIN", "8000", "ng/mL"),
        m("SIL2R", "12000", "U/mL"),
        inputs=clinical(
            temperature_c=Decimal("39.1"), splenomegaly=True, cytopenias_2_of_3_lineages=True
        ),
    )

    assert finding.status == MET
    assert finding.statement == (
        "HLH-2004 diagnostic criteria fulfilled: fever ≥ 38.5 °C; splenomegaly; cytopenias in "
        "≥ 2 of 3 lineages; ferritin ≥ 500 µg/L; sCD25 (sIL-2R) ≥ 2400 U/mL "
        "(5 of 8 criteria met)"
    )


def test_hlh_four_of_eight_with_the_rest_open_is_indeterminate() -> None:
    finding = evaluate(
        "HLH_2004",
        m("FERRITIN", "8000", "ng/mL"),
        m("SIL2R", "12000", "U/mL"),
        inputs=clinical(temperature_c=Decimal("39.1"), splenomegaly=True),
    )

    assert finding.status == IND
    assert finding.statement.startswith("HLH-2004 diagnostic criteria: 4 of 8 criteria met, 4")


def test_hlh_molecular_diagnosis_alone_fulfils_the_criteria() -> None:
    finding = evaluate(
        "HLH_2004", m("FERRITIN", "300", "ng/mL"), inputs=clinical(hlh_molecular_diagnosis=True)
    )

    assert finding.status == MET
    assert "molecular diagnosis consistent with HLH" in finding.statement


def test_hlh_not_met_when_five_can_no_longer_be_reached() -> None:
    finding = evaluate(
        "HLH_2004",
        m("FERRITIN", "8000", "ng/mL"),
        m("SIL2R", "1000", "U/mL"),
        inputs=clinical(
            temperature_c=Decimal("37.0"),
            splenomegaly=False,
            cytopenias_2_of_3_lineages=False,
            hlh_molecular_diagnosis=False,
        ),
    )

    assert finding.status == NOT_MET
    assert finding.statement == (
        "HLH-2004 diagnostic criteria not fulfilled (1 of 8 criteria met, 3 not evaluable)"
    )


def test_hlh_not_met_needs_the_molecular_diagnosis_answered() -> None:
    finding = evaluate(
        "HLH_2004",
        m("FERRITIN", "100", "ng/mL"),
        m("SIL2R", "1000", "U/mL"),
        inputs=clinical(temperature_c=Decimal("37.0"), splenomegaly=False),
    )

    assert finding.status == IND


# --- HScore (Fardet 2014) ---------------------------------------------------------------------

HSCORE_ZERO: dict[str, Decimal | bool | str] = {
    "known_immunosuppression": False,
    "temperature_c": Decimal("37.0"),
    "organomegaly": "none",
    "cytopenic_lineages": Decimal(1),
    "triglycerides_mmol_l": Decimal("1.0"),
    "fibrinogen_g_l": Decimal("3.0"),
    "ast_iu_l": Decimal(20),
    "marrow_hemophagocytosis": False,
}
HSCORE_MAX: dict[str, Decimal | bool | str] = {
    "known_immunosuppression": True,
    "temperature_c": Decimal("40.0"),
    "organomegaly": "both",
    "cytopenic_lineages": Decimal(3),
    "triglycerides_mmol_l": Decimal("5.0"),
    "fibrinogen_g_l": Decimal("1.0"),
    "ast_iu_l": Decimal(100),
    "marrow_hemophagocytosis": True,
}


def hscore(
    ferritin: str = "100",
    *,
    unit: str = "ng/mL",
    base: dict[str, Decimal | bool | str] = HSCORE_ZERO,
    **overrides: Decimal | bool | str,
) -> Finding:
    values = {**base, **overrides}
    return evaluate(
        "HSCORE_2014",
        m("FERRITIN", ferritin, unit),
        inputs={name: ClinicalValue(name, value) for name, value in values.items()},
    )


def test_hscore_all_lowest_bands_score_zero() -> None:
    finding = hscore()

    assert (finding.status, finding.score) == (NOT_MET, Decimal(0))
    assert finding.statement == (
        "HScore 0: below the diagnostic cut-off 169 for reactive hemophagocytic syndrome (at "
        "169: sensitivity 93%, specificity 86% in the derivation study)"
    )


def test_hscore_maximum_is_337() -> None:
    finding = hscore("9000", base=HSCORE_MAX)

    assert (finding.status, finding.score) == (MET, Decimal(337))
    assert finding.statement == (
        "HScore 337: at or above the diagnostic cut-off 169 for reactive hemophagocytic "
        "syndrome (at 169: sensitivity 93%, specificity 86% in the derivation study) — "
        "interpret with the clinical picture"
    )
    assert "likely" not in finding.statement


def test_hscore_exactly_169_is_at_or_above_the_cut_off() -> None:
    # 49 (temperature) + 38 (both organs) + 34 (3 lineages) + 30 (fibrinogen) + 18 = 169
    finding = hscore(
        temperature_c=Decimal("39.5"),
        organomegaly="both",
        cytopenic_lineages=Decimal(3),
        fibrinogen_g_l=Decimal("2.5"),
        known_immunosuppression=True,
    )

    assert (finding.status, finding.score) == (MET, Decimal(169))
    assert finding.statement.startswith("HScore 169: at or above the diagnostic cut-off 169")


@pytest.mark.parametrize(
    ("name", "value", "points"),
    [
        ("temperature_c", Decimal("38.3"), 0),
        ("temperature_c", Decimal("38.4"), 33),
        ("temperature_c", Decimal("39.4"), 33),
        ("temperature_c", Decimal("39.5"), 49),
        ("organomegaly", "hepatomegaly_or_splenomegaly", 23),
        ("organomegaly", "both", 38),
        ("cytopenic_lineages", Decimal(0), 0),
        ("cytopenic_lineages", Decimal(2), 24),
        ("cytopenic_lineages", Decimal(3), 34),
        ("triglycerides_mmol_l", Decimal("1.49"), 0),
        ("triglycerides_mmol_l", Decimal("1.5"), 44),
        ("triglycerides_mmol_l", Decimal("4"), 44),
        ("triglycerides_mmol_l", Decimal("4.01"), 64),
        ("fibrinogen_g_l", Decimal("2.51"), 0),
        ("fibrinogen_g_l", Decimal("2.5"), 30),
        ("ast_iu_l", Decimal("29.9"), 0),
        ("ast_iu_l", Decimal(30), 19),
        ("known_immunosuppression", True, 18),
        ("marrow_hemophagocytosis", True, 35),
    ],
)
def test_hscore_clinical_band_edges(name: str, value: Decimal | bool | str, points: int) -> None:
    assert hscore(base={**HSCORE_ZERO, name: value}).score == Decimal(points)


@pytest.mark.parametrize(
    ("ferritin", "points"),
    [("1999.9", 0), ("2000", 35), ("6000", 35), ("6000.1", 50), (">7000", 50), ("<1000", 0)],
)
def test_hscore_ferritin_band_edges(ferritin: str, points: int) -> None:
    assert hscore(ferritin).score == Decimal(points)


def test_hscore_exactly_169_is_met_and_168_is_not() -> None:
    at_cutoff = hscore(
        "100",
        temperature_c=Decimal("39.5"),
        organomegaly="both",
        cytopenic_lineages=Decimal(3),
        known_immunosuppression=True,
        fibrinogen_g_l=Decimal("2.5"),
    )  # 49 + 38 + 34 + 18 + 30
    below = hscore(
        "3000",
        triglycerides_mmol_l=Decimal("4.5"),
        marrow_hemophagocytosis=True,
        cytopenic_lineages=Decimal(3),
    )  # 64 + 35 + 35 + 34

    assert (at_cutoff.status, at_cutoff.score) == (MET, Decimal(169))
    assert (below.status, below.score) == (NOT_MET, Decimal(168))


def test_hscore_scoring_band_is_named_in_the_evidence() -> None:
    finding = hscore(temperature_c=Decimal("40"))
    temperature = [(e.criterion, e.satisfied, e.note) for e in finding.evidence][1:3]

    assert temperature == [
        (
            "temperature ≥ 38.4 °C: 33 points",
            True,
            "a higher band of this input scores instead",
        ),
        ("temperature > 39.4 °C: 49 points", True, "scores 49 points"),
    ]


def test_hscore_censored_ferritin_straddling_a_band_edge_is_a_range() -> None:
    finding = hscore(">3000", base={**HSCORE_MAX, "marrow_hemophagocytosis": False})
    # 337 - 35 (no hemophagocytosis) - 50 (ferritin) = 252 without ferritin: 287..302.
    straddling = hscore(
        ">3000",
        temperature_c=Decimal("39.5"),
        organomegaly="both",
        known_immunosuppression=True,
        fibrinogen_g_l=Decimal("2.5"),
    )  # 49 + 38 + 18 + 30 = 135, plus 35 or 50: 170..185 — above 169 either way
    open_case = hscore(
        ">3000",
        temperature_c=Decimal("39.5"),
        organomegaly="both",
        cytopenic_lineages=Decimal(2),
        ast_iu_l=Decimal(30),
    )  # 49 + 38 + 24 + 19 = 130, plus 35 or 50: 165..180 — on both sides of 169

    assert (finding.status, finding.score) == (MET, None)
    assert finding.statement.startswith("HScore 287–302: at or above the diagnostic cut-off")
    assert (straddling.status, straddling.score) == (MET, None)
    assert (open_case.status, open_case.score) == (IND, None)
    assert open_case.statement.startswith(
        "HScore (reactive hemophagocytic syndrome): score between 165 and 180, on both sides "
        "of the cut-off 169 — cannot be decided"
    )


def test_hscore_ferritin_in_ug_per_l_scores_as_ng_per_ml_and_says_so() -> None:
    finding = hscore("8000", unit="µg/L", base=HSCORE_MAX)

    assert (finding.status, finding.score) == (MET, Decimal(337))
    notes = [(e.satisfied, e.note) for e in finding.evidence if e.input == "FERRITIN"]
    assert notes == [
        (True, "1 µg/L = 1 ng/mL (identity); a higher band of this input scores instead"),
        (True, "1 µg/L = 1 ng/mL (identity); scores 50 points"),
    ]


def test_hscore_ferritin_in_a_unit_that_changes_the_number_is_never_converted() -> None:
    finding = hscore("8", unit="mg/L", base=HSCORE_MAX)

    assert finding.score is None
    notes = {e.note for e in finding.evidence if e.input == "FERRITIN"}
    assert notes == {"reported in mg/L; criterion is defined in ng/mL"}


@pytest.mark.parametrize("absent", ["temperature_c", "organomegaly", "marrow_hemophagocytosis"])
def test_hscore_without_every_clinical_input_is_not_evaluated(absent: str) -> None:
    values = {name: ClinicalValue(name, v) for name, v in HSCORE_ZERO.items() if name != absent}

    finding = evaluate("HSCORE_2014", m("FERRITIN", "9000", "ng/mL"), inputs=values)

    assert (finding.status, finding.score, finding.missing_inputs) == (
        NOT_EVALUATED,
        None,
        (absent,),
    )


def test_hscore_without_ferritin_is_not_evaluated() -> None:
    values = {name: ClinicalValue(name, value) for name, value in HSCORE_MAX.items()}

    finding = evaluate("HSCORE_2014", m("IL6", "100", "pg/mL"), inputs=values)

    assert (finding.status, finding.missing_inputs) == (NOT_EVALUATED, ("FERRITIN",))


# --- ASTCT 2019 CRS grade (Lee 2019) ----------------------------------------------------------

AFEBRILE_STABLE: dict[str, Decimal | bool | str] = {
    "temperature_c": Decimal("37.0"),
    "fever_attributable_to_other_cause": False,
    "antipyretic_or_anticytokine_given": False,
    "hypotension": False,
    "vasopressors_excluding_vasopressin": Decimal(0),
    "vasopressin": False,
    "oxygen_device": "none",
}


def astct(*measurements: Measurement, **overrides: Decimal | bool | str) -> Finding:
    values = {**AFEBRILE_STABLE, **overrides}
    inputs = {name: ClinicalValue(name, value) for name, value in values.items()}
    return evaluate("ASTCT_2019_CRS_GRADE", *measurements, inputs=inputs)


FEVER = Decimal("38.6")


@pytest.mark.parametrize(
    ("overrides", "grade", "statement"),
    [
        # The worked example of the consensus paper: febrile, one vasopressor, low-flow cannula.
        (
            {
                "temperature_c": FEVER,
                "hypotension": True,
                "vasopressors_excluding_vasopressin": Decimal(1),
                "oxygen_device": "low_flow_nasal_cannula",
            },
            3,
            "ASTCT CRS grade 3 (hypotension needing one vasopressor)",
        ),
        ({"temperature_c": FEVER}, 1, "ASTCT CRS grade 1 (fever only)"),
        ({"temperature_c": Decimal("38.0")}, 1, "ASTCT CRS grade 1 (fever only)"),
        (
            {"temperature_c": FEVER, "oxygen_device": "cpap"},
            4,
            "ASTCT CRS grade 4 (positive pressure (CPAP))",
        ),
        (
            {
                "temperature_c": Decimal("37.0"),
                "antipyretic_or_anticytokine_given": True,
                "crs_diagnosed_before_therapy": True,
                "oxygen_device": "high_flow_nasal_cannula",
            },
            3,
            "ASTCT CRS grade 3 (high-flow nasal cannula; fever not required: antipyretic or "
            "anti-cytokine therapy after CRS was diagnosed)",
        ),
        (
            {"temperature_c": FEVER, "hypotension": True},
            2,
            "ASTCT CRS grade 2 (hypotension not needing vasopressors)",
        ),
        (
            {"temperature_c": FEVER, "oxygen_device": "blow_by"},
            2,
            "ASTCT CRS grade 2 (blow-by oxygen)",
        ),
        (
            {"temperature_c": FEVER, "hypotension": True, "vasopressin": True},
            3,
            "ASTCT CRS grade 3 (hypotension needing one vasopressor (vasopressin))",
        ),
        (
            {
                "temperature_c": FEVER,
                "vasopressors_excluding_vasopressin": Decimal(1),
                "vasopressin": True,
            },
            3,
            "ASTCT CRS grade 3 (hypotension needing one vasopressor with vasopressin)",
        ),
        (
            {"temperature_c": FEVER, "vasopressors_excluding_vasopressin": Decimal(2)},
            4,
            "ASTCT CRS grade 4 (hypotension needing multiple vasopressors)",
        ),
        (
            {
                "temperature_c": FEVER,
                "hypotension": True,
                "oxygen_device": "low_flow_nasal_cannula",
            },
            2,
            "ASTCT CRS grade 2 (hypotension not needing vasopressors and low-flow nasal cannula)",
        ),
        (
            {
                "temperature_c": FEVER,
                "oxygen_device": "low_flow_nasal_cannula",
                "oxygen_flow_l_min": Decimal(6),
            },
            2,
            "ASTCT CRS grade 2 (low-flow nasal cannula (≤6 L/min))",
        ),
        (
            {
                "temperature_c": FEVER,
                "oxygen_device": "low_flow_nasal_cannula",
                "oxygen_flow_l_min": Decimal("6.5"),
            },
            3,
            "ASTCT CRS grade 3 (high-flow nasal cannula (>6 L/min))",
        ),
        (
            {"temperature_c": FEVER, "oxygen_device": "mechanical_ventilation"},
            4,
            "ASTCT CRS grade 4 (positive pressure (mechanical ventilation))",
        ),
    ],
)
def test_astct_grades(
    overrides: dict[str, Decimal | bool | str], grade: int, statement: str
) -> None:
    finding = astct(**overrides)

    assert (finding.status, finding.score, finding.statement) == (MET, Decimal(grade), statement)


NOT_MET_FEVER = "ASTCT grade not assigned: fever criterion not met"


@pytest.mark.parametrize(
    ("overrides", "statement"),
    [
        (
            {},
            f"{NOT_MET_FEVER} (no fever ≥38.0 °C; no antipyretic or anti-cytokine therapy after "
            "a CRS diagnosis)",
        ),
        (
            {"temperature_c": Decimal("37.9"), "hypotension": True, "oxygen_device": "facemask"},
            f"{NOT_MET_FEVER} (no fever ≥38.0 °C; no antipyretic or anti-cytokine therapy after "
            "a CRS diagnosis; hypotension or hypoxia without fever is not graded as CRS)",
        ),
        (
            {"temperature_c": FEVER, "fever_attributable_to_other_cause": True},
            f"{NOT_MET_FEVER} (the fever is attributed to another cause; a fever attributed to "
            "another cause is never graded as CRS)",
        ),
        (
            # Routine acetaminophen with no CRS diagnosed before it does not waive fever.
            {
                "antipyretic_or_anticytokine_given": True,
                "crs_diagnosed_before_therapy": False,
                "hypotension": True,
                "vasopressors_excluding_vasopressin": Decimal(1),
            },
            f"{NOT_MET_FEVER} (no fever ≥38.0 °C; antipyretic or anti-cytokine therapy given, "
            "but CRS had not been diagnosed before it (only then is fever no longer required); "
            "hypotension or hypoxia without fever is not graded as CRS)",
        ),
        (
            {"antipyretic_or_anticytokine_given": True, "crs_diagnosed_before_therapy": True},
            "ASTCT grade not assigned: afebrile after antipyretic or anti-cytokine therapy for "
            "diagnosed CRS, with no hypotension and no oxygen requirement",
        ),
    ],
)
def test_astct_grade_not_assigned(
    overrides: dict[str, Decimal | bool | str], statement: str
) -> None:
    finding = astct(**overrides)

    assert (finding.status, finding.score, finding.statement) == (NOT_MET, None, statement)
    assert "No CRS" not in finding.statement


def test_astct_septic_shock_on_two_pressors_after_routine_acetaminophen_is_never_grade_4() -> None:
    # The example: a febrile septic patient on acetaminophen and two vasopressors.
    septic: dict[str, Decimal | bool | str] = {
        "temperature_c": Decimal("38.9"),
        "fever_attributable_to_other_cause": True,
        "antipyretic_or_anticytokine_given": True,
        "hypotension": True,
        "vasopressors_excluding_vasopressin": Decimal(2),
    }
    afebrile_after_acetaminophen: dict[str, Decimal | bool | str] = {
        **septic,
        "temperature_c": Decimal("37.2"),
    }

    for overrides in (
        septic,
        {**septic, "crs_diagnosed_before_therapy": False},
        {**septic, "crs_diagnosed_before_therapy": True},
        afebrile_after_acetaminophen,
        {**afebrile_after_acetaminophen, "crs_diagnosed_before_therapy": True},
    ):
        finding = astct(**overrides)

        assert (finding.status, finding.score) == (NOT_MET, None)
        assert finding.statement.startswith(NOT_MET_FEVER + " (the fever is attributed")


def test_astct_afebrile_after_therapy_without_the_crs_diagnosis_stated_cannot_be_graded() -> None:
    finding = astct(
        antipyretic_or_anticytokine_given=True, vasopressors_excluding_vasopressin=Decimal(2)
    )

    assert (finding.status, finding.score) == (IND, None)
    assert finding.missing_inputs == ("crs_diagnosed_before_therapy",)
    assert finding.statement == (
        "ASTCT consensus CRS grade: cannot be graded — no fever ≥38.0 °C after antipyretic or "
        "anti-cytokine therapy, and whether CRS had been diagnosed before that therapy was not "
        "supplied (only then is fever no longer required)"
    )


def test_astct_febrile_patient_is_graded_whether_or_not_the_diagnosis_is_stated() -> None:
    finding = astct(
        temperature_c=FEVER,
        antipyretic_or_anticytokine_given=True,
        vasopressors_excluding_vasopressin=Decimal(2),
    )

    assert (finding.status, finding.score) == (MET, Decimal(4))


def test_astct_grade_never_reads_cytokines() -> None:
    calm = astct(m("IL6", ">5000", "pg/mL"), m("IFNG", "9000", "pg/mL"))
    cytokines_only = evaluate("ASTCT_2019_CRS_GRADE", m("IL6", ">5000", "pg/mL"))

    assert (calm.status, calm.score) == (NOT_MET, None)
    assert all(e.input.islower() for e in calm.evidence)
    assert (cytokines_only.status, cytokines_only.score) == (NOT_EVALUATED, None)
    assert cytokines_only.missing_inputs == RULES["ASTCT_2019_CRS_GRADE"].clinical_inputs


def test_astct_evidence_lists_every_input_and_each_component_grade() -> None:
    finding = astct(
        temperature_c=FEVER,
        hypotension=True,
        vasopressors_excluding_vasopressin=Decimal(1),
        oxygen_device="low_flow_nasal_cannula",
    )

    assert [(e.input, e.value_text, e.satisfied, e.note) for e in finding.evidence] == [
        ("temperature_c", "38.6", True, ""),
        ("fever_attributable_to_other_cause", "not attributed to another cause", True, ""),
        ("antipyretic_or_anticytokine_given", "no", False, ""),
        ("hypotension", "yes", True, ""),
        ("vasopressors_excluding_vasopressin", "1", True, "hypotension component: grade 3"),
        ("vasopressin", "no", False, ""),
        ("oxygen_device", "low-flow nasal cannula", True, "hypoxia component: grade 2"),
    ]


def test_astct_invalid_input_type_is_indeterminate() -> None:
    finding = astct(temperature_c="hot")

    assert finding.status == IND
    assert finding.score is None
    assert [(e.input, e.note) for e in finding.evidence] == [("temperature_c", "expected a number")]


# --- Davila 2014 fold rise (unverified, disabled) ---------------------------------------------

DAVILA_CYTOKINES = ("IFNG", "IL5", "IL6", "IL10", "GMCSF")


def davila(current: dict[str, str], base: dict[str, str] | None = None) -> Finding:
    base_values = base if base is not None else dict.fromkeys(DAVILA_CYTOKINES, "10")
    baseline = SerialPoint(
        panel_key="pre-infusion",
        collected_at=datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
        measurements=tuple(m(code, text, "pg/mL") for code, text in base_values.items()),
        specimen_type="serum",
    )
    values = {**dict.fromkeys(DAVILA_CYTOKINES, "10"), **current}
    measurements = tuple(m(code, text, "pg/mL") for code, text in values.items())
    return evaluate("DAVILA_2014_FOLD_RISE", *measurements, baseline=baseline)


@pytest.mark.parametrize(
    ("current", "status"),
    [
        ({"IL6": "750", "IFNG": "750"}, MET),  # two at exactly 75×
        ({"IL6": "750", "IFNG": "749.9"}, NOT_MET),
        ({"IL6": "2500"}, MET),  # one at exactly 250×
        ({"IL6": "2499.9"}, NOT_MET),
        ({"IL6": "2499.9", "IL10": "750"}, MET),
        ({}, NOT_MET),
    ],
)
def test_davila_fold_boundaries_75_and_250(current: dict[str, str], status: str) -> None:
    assert davila(current).status == status


def test_davila_met_uses_the_cytokine_only_wording_and_is_labelled_unverified() -> None:
    finding = davila({"IL6": "2500"})

    assert finding.statement == CYTOKINE_ONLY_STATEMENT + UNVERIFIED_SUFFIX
    assert finding.verified is False
    assert finding.evidence[2].value_text == "2500 pg/mL vs baseline 10 pg/mL = 250×"
    assert finding.evidence[2].note == "≥250× baseline"


@pytest.mark.parametrize(
    ("current", "base"),
    [
        ({"IL6": ">5000"}, None),  # censored current: never used, even though >500×
        ({"IL6": "5000"}, {**dict.fromkeys(DAVILA_CYTOKINES, "10"), "IL6": "<1.5"}),
    ],
)
def test_davila_censored_values_are_never_used_in_a_fold(
    current: dict[str, str], base: dict[str, str] | None
) -> None:
    finding = davila(current, base)
    [il6] = [e for e in finding.evidence if e.input == "IL6"]

    assert finding.status == IND
    assert il6.satisfied is None
    assert il6.note == "censored value: a fold change is never computed from it"
    assert "=" not in (il6.value_text or "")


def test_davila_without_baseline_is_not_evaluated() -> None:
    finding = evaluate("DAVILA_2014_FOLD_RISE", m("IL6", "5000", "pg/mL"))

    assert (finding.status, finding.missing_inputs) == (NOT_EVALUATED, ("baseline",))


def test_davila_zero_baseline_and_unit_change_are_undecidable() -> None:
    base = {**dict.fromkeys(DAVILA_CYTOKINES, "10"), "IL6": "0"}
    finding = davila({}, base)
    [il6] = [e for e in finding.evidence if e.input == "IL6"]

    assert finding.status == IND
    assert il6.note == "baseline is zero: fold change undefined"


# --- Hay 2017 and Del Valle 2020 (unverified, disabled) ----------------------------------------


def test_hay_needs_fever_timing_and_mcp1_together() -> None:
    met = evaluate(
        "HAY_2017",
        m("MCP1", "1343.5", "pg/mL"),
        inputs=clinical(max_temperature_c_first_36h=Decimal("38.9"), hours_since_infusion=36),
    )
    below = evaluate(
        "HAY_2017",
        m("MCP1", "1343.4", "pg/mL"),
        inputs=clinical(max_temperature_c_first_36h=Decimal("38.9"), hours_since_infusion=36),
    )
    mcp1_only = evaluate("HAY_2017", m("MCP1", "5000", "pg/mL"))

    assert met.status == MET
    assert met.statement.endswith("clinical grading required" + UNVERIFIED_SUFFIX)
    assert below.status == NOT_MET
    assert mcp1_only.status == IND


def test_del_valle_is_cytokine_only_and_labelled_unverified() -> None:
    finding = evaluate("DEL_VALLE_2020", m("TNFA", "35.1", "pg/mL"))

    assert finding.status == MET
    assert finding.statement == CYTOKINE_ONLY_STATEMENT + UNVERIFIED_SUFFIX


def test_no_shipped_rule_lets_cytokines_alone_yield_a_grade() -> None:
    storm = (
        m("IL6", ">5000", "pg/mL"),
        m("CRP", "300", "mg/L"),
        m("FERRITIN", "20000", "ng/mL"),
        m("SIL2R", "20000", "U/mL"),
        m("IFNG", "5000", "pg/mL"),
        m("MCP1", "9000", "pg/mL"),
        m("TNFA", "900", "pg/mL"),
        m("IL8", "900", "pg/mL"),
    )
    rules: list[PatternRule] = [replace(rule, enabled=True) for rule in RULES.values()]
    context = PatternContext(
        measurements=storm, clinical={}, history=(), baseline=None, age_years=None
    )

    for finding in evaluate_patterns(rules, context):
        assert "grade " not in finding.statement.lower()
        if finding.rule_id == "ASTCT_2019_CRS_GRADE":
            assert (finding.status, finding.score) == (NOT_EVALUATED, None)
        if finding.status is MET and finding.rule_id != "HEROLD_2020_IL6_CRP":
            assert finding.statement.startswith(CYTOKINE_ONLY_STATEMENT)
        if finding.rule_id == "HEROLD_2020_IL6_CRP":
            assert "CRS" not in finding.statement
