"""Corrections and dilution re-runs: the released report never changes; an amended report with
the reason and every previous and corrected value follows it; old results and findings are kept.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from pypdf import PdfReader
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import Finding, Panel, Result
from reports.document_builder import report_document_build
from reports.models import Report, ReportStatus
from reports.services import report_render
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def submitted(client: APIClient, payload: dict[str, Any]) -> Panel:
    payload["results"] = [
        {"analyte": "IL-6", "value": "148.2", "unit": "pg/mL"},
        {"analyte": "TNFA", "value": "<2.0", "unit": "pg/mL"},
        {"analyte": "IFN-γ", "value": ">5000", "unit": "pg/mL"},
    ]
    response = client.post("/api/v1/panels/", payload, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def released(panel: Panel) -> Report:
    report = panel.reports.get()
    report_render(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.READY
    return report


def pdf_text(report: Report) -> str:
    with report.pdf.open("rb") as handle:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)


def amend(client: APIClient, panel: Panel, **body: Any) -> Any:
    return client.post(f"/api/v1/panels/{panel.pk}/amendments/", body, format="json")


def test_a_correction_issues_an_amended_report_and_keeps_the_original(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel = submitted(technician_client, panel_payload)
    original = released(panel)
    original_bytes = original.pdf.open("rb").read()

    response = amend(
        technician_client,
        panel,
        reason="Transcription error: decimal point misplaced",
        results=[{"analyte": "IL-6", "value": "14.82", "unit": "pg/mL"}],
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    values = {result["analyte"]: result["value"] for result in body["results"]}
    assert values["IL6"] == "14.82"
    assert [(r["analyte"], r["value"]) for r in body["superseded_results"]] == [("IL6", "148.2")]
    assert [report["amends"] for report in body["reports"]] == [original.pk, None]
    assert body["report"]["amends"] == original.pk
    assert Result.objects.filter(panel=panel).count() == 4  # nothing deleted
    assert Finding.objects.filter(panel=panel, superseded_at__isnull=False).exists()
    original.refresh_from_db()
    assert original.status == ReportStatus.READY
    assert original.pdf.open("rb").read() == original_bytes

    amended = Report.objects.get(amends=original)
    report_render(report_id=amended.pk)
    amended.refresh_from_db()
    text = pdf_text(amended)
    assert "AMENDED PRELIMINARY REPORT" in text  # amended before release
    assert f"report {original.pk}" in text
    assert "decimal point misplaced" in text
    assert "148.2 pg/mL" in text
    assert "14.82 pg/mL" in text
    assert "148.2" in pdf_text(original)
    # the corrected IL-6 stands where the IL-6 it replaced stood, not at the end of the table
    document = report_document_build(report=amended, reported_at=timezone.now())
    assert [line.analyte_code for line in document.results] == ["IL6", "TNFA", "IFNG"]
    detail = technician_client.get(f"/api/v1/reports/{original.pk}/").json()
    assert detail["amended_by"] == amended.pk


def test_a_report_still_being_produced_cannot_be_amended(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel = submitted(technician_client, panel_payload)

    response = amend(
        technician_client,
        panel,
        reason="typo",
        results=[{"analyte": "IL-6", "value": "14.8", "unit": "pg/mL"}],
    )

    assert response.status_code == 409
    assert panel.results.count() == 3


def test_a_dilution_rerun_replaces_the_censored_result_and_keeps_it(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel = submitted(technician_client, panel_payload)
    released(panel)

    response = amend(
        technician_client,
        panel,
        kind="dilution_rerun",
        reason="IFN-γ above the measuring range; re-run at 1:10",
        results=[{"analyte": "IFN-γ", "value": "23456", "unit": "pg/mL", "dilution_factor": "10"}],
    )

    assert response.status_code == 201, response.json()
    current = Result.objects.current().get(panel=panel, analyte__code="IFNG")
    assert (current.value_text, current.dilution_factor) == ("23456", Decimal(10))
    old = Result.objects.get(panel=panel, analyte__code="IFNG", superseded_by=current)
    assert old.value_text == ">5000"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "kind": "dilution_rerun",
                "results": [
                    {"analyte": "IL-6", "value": "140", "unit": "pg/mL", "dilution_factor": "10"}
                ],
            },
            {"field": "results[0].analyte"},
        ),
        (
            {
                "kind": "dilution_rerun",
                "results": [{"analyte": "IFN-γ", "value": "6000", "unit": "pg/mL"}],
            },
            {"field": "results[0].dilution_factor"},
        ),
        (
            {"results": [{"analyte": "IL-6", "value": "148.2", "unit": "pg/mL"}]},
            {"field": "results[0].value", "message": "the same as the stored result"},
        ),
        (
            {"results": [{"analyte": "IL-10", "value": "3", "unit": "pg/mL"}]},
            {"field": "results[0].analyte"},
        ),
    ],
)
def test_an_amendment_that_cannot_apply_changes_nothing(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    body: dict[str, Any],
    expected: dict[str, str],
) -> None:
    panel = submitted(technician_client, panel_payload)
    released(panel)

    response = amend(technician_client, panel, reason="check", **body)

    assert response.status_code == 400
    assert any(expected.items() <= detail.items() for detail in response.json()["details"])
    assert panel.results.count() == 3
    assert panel.reports.count() == 1


def test_amendments_chain_and_clinicians_cannot_amend(
    technician_client: APIClient, panel_payload: dict[str, Any], clinician: StaffMember
) -> None:
    panel = submitted(technician_client, panel_payload)
    original = released(panel)
    first = amend(
        technician_client,
        panel,
        reason="first",
        results=[{"analyte": "IL-6", "value": "14.8", "unit": "pg/mL"}],
    )
    assert first.status_code == 201
    first_report = Report.objects.get(amends=original)
    report_render(report_id=first_report.pk)

    second = amend(
        technician_client,
        panel,
        reason="second",
        results=[{"analyte": "IL-6", "value": "15.0", "unit": "pg/mL"}],
    )
    clinician.lab.preliminary_reports_to_clinicians = True  # so that the clinician sees it
    clinician.lab.save()
    refused = amend(
        token_client(clinician),
        panel,
        reason="not mine",
        results=[{"analyte": "IL-6", "value": "1.0", "unit": "pg/mL"}],
    )

    assert second.status_code == 201
    assert Report.objects.get(amends=first_report).amendment_reason == "second"
    assert refused.status_code == 403


def test_a_correction_carries_the_method_and_instrument_it_was_measured_with(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: a panel whose results state no method, released
    panel = submitted(technician_client, panel_payload)
    released(panel)

    # when: IL-6 is corrected with a value measured again on a named instrument
    response = amend(
        technician_client,
        panel,
        reason="Re-measured after a calibration failure",
        results=[
            {
                "analyte": "IL-6",
                "value": "14.82",
                "unit": "pg/mL",
                "method": "ELISA",
                "instrument": "DS2-0117",
            }
        ],
    )

    # then: stored and returned on the new result only; the amended report says it in IL-6's row
    assert response.status_code == 201, response.json()
    by_analyte = {r["analyte"]: (r["method"], r["instrument"]) for r in response.json()["results"]}
    assert by_analyte == {"IL6": ("ELISA", "DS2-0117"), "TNFA": ("", ""), "IFNG": ("", "")}
    superseded = Result.objects.get(panel=panel, superseded_by__isnull=False)
    assert (superseded.method, superseded.instrument) == ("", "")
    amended = Report.objects.get(amends__isnull=False)
    report_render(report_id=amended.pk)
    amended.refresh_from_db()
    text = pdf_text(amended)
    assert "Method: ELISA; instrument: DS2-0117" in text
    assert text.count("Method: not stated; instrument: not stated") == 2
