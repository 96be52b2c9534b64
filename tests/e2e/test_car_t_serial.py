"""A serial CAR-T case through the API: baseline, infusion (day 0), cytokine rise with fever.

Day -1 baseline, CAR-T infusion on day 0, a day +3 panel with IL-6 and IFN-γ far above
baseline and the clinical picture of grade 3 CRS (fever, one vasopressor, low-flow oxygen).
The API must return the trend as day -1 / day +3 with folds from baseline, no Herold 2020
finding (it predicts ventilation in COVID-19 and ships disabled), the ASTCT grade only because
the clinical inputs were supplied, and the PDF must show all of it.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader
from rest_framework.test import APIClient

from panels.models import Panel
from reports.models import Report
from reports.services import report_render

pytestmark = pytest.mark.django_db

PATIENT = {
    "mrn": "MRN-CART-1",
    "family_name": "Rivera",
    "given_name": "Ana",
    "birth_date": "1975-06-01",
    "sex": "female",
}
INFUSION = {"type": "car_t_infusion", "at": "2026-11-10T12:00:00Z"}


def _panel(
    accession: str, collected_at: str, results: list[tuple[str, str, str]]
) -> dict[str, Any]:
    return {
        "accession": accession,
        "patient": PATIENT,
        "specimen": {"type": "plasma", "collected_at": collected_at},
        "ordering_clinician": "dr.house",
        "results": [{"analyte": a, "value": v, "unit": u} for a, v, u in results],
    }


def test_serial_car_t_case_shows_day_relative_trend_findings_and_grade(
    technician_client: APIClient,
) -> None:
    # given: a baseline the day before infusion
    baseline = _panel(
        "CART-D-1",
        "2026-11-09T08:00:00Z",
        [("IL-6", "2.0", "pg/mL"), ("IFN-γ", "4.0", "pg/mL"), ("IL-10", "<1.0", "pg/mL")],
    )
    baseline["events"] = [INFUSION]
    first = technician_client.post("/api/v1/panels/", baseline, format="json")
    assert first.status_code == 201, first.json()

    # when: day +3 with fever, one vasopressor and low-flow oxygen
    day3 = _panel(
        "CART-D3",
        "2026-11-13T08:00:00Z",
        [
            ("IL-6", "480.0", "pg/mL"),
            ("IFN-γ", "320.0", "pg/mL"),
            ("IL-10", "45.0", "pg/mL"),
            ("CRP", "150", "mg/L"),
        ],
    )
    day3["clinical"] = {
        "temperature_c": "39.4",
        "fever_attributable_to_other_cause": False,
        "antipyretic_or_anticytokine_given": False,
        "hypotension": True,
        "vasopressors_excluding_vasopressin": 1,
        "vasopressin": False,
        "oxygen_device": "low_flow_nasal_cannula",
        "oxygen_flow_l_min": "4",
    }
    response = technician_client.post("/api/v1/panels/", day3, format="json")

    # then: the trend reads as days from infusion, folds from the pre-infusion baseline
    assert response.status_code == 201, response.json()
    body = response.json()
    serial = body["serial"]
    assert serial["anchor"]["kind"] == "car_t_infusion"
    assert serial["baseline"] == "CART-D-1"
    trends = {trend["analyte"]: trend for trend in serial["analytes"]}
    il6 = trends["IL6"]["points"]
    assert [(p["accession"], p["day"], p["value_text"]) for p in il6] == [
        ("CART-D-1", -1, "2.0"),
        ("CART-D3", 3, "480.0"),
    ]
    assert il6[1]["fold_from_baseline"] == "240"
    assert trends["IFNG"]["points"][1]["fold_from_baseline"] == "80"
    # a censored baseline is never used as a number
    assert trends["IL10"]["points"][1]["fold_from_baseline"] is None

    findings = {finding["rule_id"]: finding for finding in body["findings"]}
    assert "HEROLD_2020_IL6_CRP" not in findings  # not a CRS rule: ships disabled
    grade = findings["ASTCT_2019_CRS_GRADE"]
    assert grade["status"] == "met"
    assert grade["score"] == "3"
    assert {item["input"] for item in grade["evidence"]}.isdisjoint({"IL6", "IFNG", "IL10"})
    assert findings["HSCORE_2014"]["status"] == "not_evaluated"
    assert "DAVILA_2014_FOLD_RISE" not in findings  # unverified: disabled by default

    families = {group["group"]: group for group in body["summary"]["by_family"]}
    assert families["interleukin"]["elevated"] == ["IL-6", "IL-10"]
    assert families["interferon"]["elevated"] == ["IFN-γ"]

    # and the PDF shows the findings, the grade and the day-relative trend (the PDF is drawn for
    # the ordering clinician, who is shown released earlier panels: the baseline is released)
    Panel.objects.filter(accession="CART-D-1").update(review_state="released")
    report = Report.objects.get(pk=body["report"]["id"])
    report_render(report_id=report.pk)
    report.refresh_from_db()
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(report.pdf.read())).pages)
    for expected in (
        "Findings",
        "ASTCT CRS grade 3 (hypotension needing one vasopressor)",
        "Calculated from clinical data supplied by",
        "ASTCT",
        "Serial results",
        "Day -1",
        "Day +3",
        "×240",
        "Summary by family and role",
    ):
        assert expected in text, expected


def test_cytokines_alone_never_yield_a_crs_grade(technician_client: APIClient) -> None:
    panel = _panel("CART-ONLY", "2026-11-13T08:00:00Z", [("IL-6", "5000", "pg/mL")])

    body = technician_client.post("/api/v1/panels/", panel, format="json").json()

    findings = {finding["rule_id"]: finding for finding in body["findings"]}
    assert findings["ASTCT_2019_CRS_GRADE"]["status"] == "not_evaluated"
    assert findings["ASTCT_2019_CRS_GRADE"]["score"] is None
    assert "temperature_c" in findings["ASTCT_2019_CRS_GRADE"]["missing_inputs"]
    assert "HEROLD_2020_IL6_CRP" not in findings


def test_unknown_or_invalid_clinical_inputs_are_refused(technician_client: APIClient) -> None:
    panel = _panel("CART-BAD", "2026-11-13T08:00:00Z", [("IL-6", "50", "pg/mL")])
    panel["clinical"] = {"temprature": "39", "oxygen_device": "helmet"}

    response = technician_client.post("/api/v1/panels/", panel, format="json")

    assert response.status_code == 400
    fields = [item["field"] for item in response.json()["details"]]
    assert fields == ["clinical.temprature", "clinical.oxygen_device"]
