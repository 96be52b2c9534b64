"""The findings section of the PDF: the rules as a clinical laboratory scientist reviewed them.

Each case is submitted through the API (the clinical inputs and events as a clinician sends
them), rendered by the real service and read back from the PDF: the ASTCT grade is never
assigned to a fever attributed to another cause, the HScore says "at or above the diagnostic
cut-off" with its published sensitivity and specificity, ferritin in µg/L decides, findings
from clinical data say who supplied it and when, Herold 2020 (when a lab switches it on) is
named for what it predicts, and the rules not evaluated fit on one readable line.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
import time_machine
from pypdf import PdfReader
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from reference_ranges.services import lab_specimen_setting_change, pattern_rule_setting_change
from reports.models import Report
from reports.services import report_render

pytestmark = pytest.mark.django_db

SUBMITTED_AT = "2026-11-20T09:15:00Z"
SEPTIC_SHOCK = {
    "temperature_c": "38.9",
    "fever_attributable_to_other_cause": True,
    "antipyretic_or_anticytokine_given": True,
    "hypotension": True,
    "vasopressors_excluding_vasopressin": 2,
    "vasopressin": False,
    "oxygen_device": "none",
}
HSCORE_HIGH = {
    "known_immunosuppression": True,
    "temperature_c": "39.6",
    "organomegaly": "both",
    "cytopenic_lineages": 2,
    "triglycerides_mmol_l": "2.1",
    "fibrinogen_g_l": "1.4",
    "ast_iu_l": "88",
    "marrow_hemophagocytosis": False,
}


HEROLD_HEAD = (
    "Herold 2020: predictors of the need for mechanical ventilation in hospitalised COVID-19 "
    "(IL-6, CRP) — MET"
)


def _render(client: APIClient, payload: dict[str, Any]) -> list[str]:
    with time_machine.travel(SUBMITTED_AT, tick=False):
        response = client.post("/api/v1/panels/", payload, format="json")
    assert response.status_code == 201, response.json()
    report = Report.objects.get(pk=response.json()["report"]["id"])
    report_render(report_id=report.pk)
    report.refresh_from_db()
    content = report.pdf.read()
    keep = os.environ.get("LABPANEL_KEEP_PDF")
    if keep:
        # To look at the pages: LABPANEL_KEEP_PDF=<folder>, then pdftoppm -png.
        name = os.environ.get("PYTEST_CURRENT_TEST", "report").split("::")[-1].split(" ")[0]
        Path(keep, f"{name}.pdf").write_bytes(content)
    return [
        line.strip()
        for page in PdfReader(io.BytesIO(content)).pages
        for line in page.extract_text().splitlines()
        if line.strip()
    ]


GOLDEN = {
    path.stem: path.read_text(encoding="utf-8").splitlines()
    for path in (Path(__file__).resolve().parents[1] / "rendering" / "golden").glob("*.txt")
}


def _block(lines: list[str], first: str, count: int) -> list[str]:
    """``count`` lines of the page from the line ``first``."""
    start = lines.index(first)
    return lines[start : start + count]


def _excerpt(lines: list[str], first: str, golden: str) -> list[str]:
    """The page's lines from ``first``, as many as the golden excerpt ``golden`` has."""
    return _block(lines, first, len(GOLDEN[golden]))


def test_septic_shock_on_two_pressors_after_acetaminophen_is_never_graded(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: the example, a fever attributed to sepsis, routine acetaminophen
    panel_payload["clinical"] = SEPTIC_SHOCK

    # when
    lines = _render(technician_client, panel_payload)

    # then
    astct = _block(lines, "ASTCT consensus CRS grade — Not met", 4)
    assert astct == [
        "ASTCT consensus CRS grade — Not met",
        "ASTCT grade not assigned: fever criterion not met (the fever is attributed to another "
        "cause; a fever attributed to another",
        "cause is never graded as CRS)",
        "Calculated from clinical data supplied by tech at 2026-11-20 09:15 UTC — not a "
        "laboratory measurement.",
    ]
    text = "\n".join(lines)
    assert "No CRS" not in text
    assert "grade 4" not in text


def test_hscore_and_hlh_with_ferritin_in_micrograms_per_litre(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel_payload["clinical"] = {
        **HSCORE_HIGH,
        "splenomegaly": True,
        "cytopenias_2_of_3_lineages": True,
    }
    panel_payload["results"] = [
        {"analyte": "ferritin", "value": "8000", "unit": "µg/L"},
        {"analyte": "sIL-2R", "value": "12000", "unit": "U/mL"},
    ]

    lines = _render(technician_client, panel_payload)

    assert (
        _excerpt(lines, "HLH-2004 diagnostic criteria — MET", "findings_hlh_ferritin_ug_per_l")
        == GOLDEN["findings_hlh_ferritin_ug_per_l"]
    )
    assert (
        _excerpt(
            lines,
            "HScore (reactive hemophagocytic syndrome) — MET",
            "findings_hscore_at_or_above_cutoff",
        )
        == GOLDEN["findings_hscore_at_or_above_cutoff"]
    )
    assert "likely" not in "\n".join(lines)


def test_herold_switched_on_is_named_for_what_it_predicts_and_flags_il6_after_tocilizumab(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    # given: a lab that treats hospitalised COVID-19 switched Herold on; tocilizumab yesterday
    pattern_rule_setting_change(
        rule_id="HEROLD_2020_IL6_CRP",
        lab=director.lab,
        enabled=True,
        reason="COVID-19 ward",
        changed_by=director.user,
    )
    panel_payload["events"] = [{"type": "tocilizumab", "at": "2026-11-19T20:00:00Z"}]
    panel_payload["results"] = [
        {"analyte": "IL-6", "value": "950", "unit": "pg/mL"},
        {"analyte": "CRP", "value": "97", "unit": "mg/L"},
    ]

    lines = _render(technician_client, panel_payload)

    assert (
        _excerpt(lines, HEROLD_HEAD, "findings_herold_after_tocilizumab")
        == GOLDEN["findings_herold_after_tocilizumab"]
    )
    assert "cytokine pattern" not in "\n".join(lines)


def test_rules_not_evaluated_are_one_line_in_a_clinicians_words(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    lines = _render(technician_client, panel_payload)

    assert (
        _excerpt(lines, "Findings", "findings_not_evaluated_one_line")
        == GOLDEN["findings_not_evaluated_one_line"]
    )
    findings = "\n".join(lines[lines.index("Findings") :])
    assert "_" not in findings.split("Reference intervals and flags")[0]  # no snake_case


@pytest.mark.parametrize(
    ("anticoagulant", "golden"),
    [("", "results_unspecified_plasma"), ("plasma_edta", "results_plasma_stated_edta")],
)
def test_generic_plasma_is_judged_only_by_the_interval_of_the_anticoagulant_the_lab_states(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    director: StaffMember,
    anticoagulant: str,
    golden: str,
) -> None:
    # given: IL-6 has a heparin-plasma interval (ARUP), CXCL9 an EDTA-plasma one (CCHMC)
    lab_specimen_setting_change(
        lab=director.lab, plasma_anticoagulant=anticoagulant, changed_by=director.user
    )
    panel_payload["results"] = [
        {"analyte": "IL-6", "value": "5000", "unit": "pg/mL"},
        {"analyte": "CXCL9", "value": "800", "unit": "pg/mL"},
    ]

    lines = _render(technician_client, panel_payload)

    assert _excerpt(lines, "IL-6", golden) == GOLDEN[golden]


def test_il6_measured_after_tocilizumab_says_so_in_its_results_row(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: tocilizumab given the evening before collection; no pattern rule involved
    panel_payload["events"] = [{"type": "tocilizumab", "at": "2026-11-19T20:00:00Z"}]
    panel_payload["results"] = [
        {"analyte": "IL-6", "value": "950", "unit": "pg/mL"},
        {"analyte": "IL-10", "value": "3.0", "unit": "pg/mL"},
    ]

    lines = _render(technician_client, panel_payload)

    # then: the IL-6 row's note carries the caveat; IL-10's row does not
    results = lines[lines.index("Results") : lines.index("Summary by family and role")]
    il6_row = " ".join(results[results.index("IL-6") : results.index("IL-10")])
    assert "IL-6 measured after tocilizumab (given 2026-11-19 20:00 UTC): tocilizumab raises" in (
        il6_row
    )
    assert "tocilizumab" not in " ".join(results[results.index("IL-10") :])
