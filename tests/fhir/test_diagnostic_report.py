"""DiagnosticReport: one per report, its status from the report's stage, its results linked
(and included on request), the findings as conclusion, the PDF as presentedForm."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import Panel, Result
from reports.models import Report
from reports.services import report_render
from tests.fhir.conftest import amend, entries, fhir, release, submit
from tests.reports.test_findings_section import HSCORE_HIGH

pytestmark = pytest.mark.django_db


@pytest.fixture
def panel(technician_client: APIClient, panel_payload: dict[str, Any]) -> Panel:
    return submit(technician_client, panel_payload, "A-1")


def test_a_preliminary_report_links_its_results(technician_client: APIClient, panel: Panel) -> None:
    report = panel.reports.get()

    body = fhir(technician_client, f"/fhir/DiagnosticReport/{report.pk}")

    assert body["status"] == "preliminary"
    assert body["code"]["coding"][0]["code"] == "cytokine-panel"
    assert body["subject"] == {"reference": f"Patient/{panel.patient_id}"}
    results = Result.objects.filter(panel=panel).order_by("position")
    assert body["result"] == [{"reference": f"Observation/{r.pk}"} for r in results]
    assert body["identifier"][0]["value"] == f"urn:uuid:{report.uuid}"
    assert "presentedForm" not in body  # not drawn yet


def test_released_and_corrected_reports_and_the_pdf(
    technician_client: APIClient, panel: Panel, director: StaffMember
) -> None:
    final = release(panel, director)
    body = fhir(technician_client, f"/fhir/DiagnosticReport/{final.pk}")
    assert body["status"] == "final"
    (form,) = body["presentedForm"]
    assert form["contentType"] == "application/pdf"
    assert form["url"] == f"http://testserver/api/v1/reports/{final.pk}/pdf/"
    assert technician_client.get(form["url"]).status_code == 200
    il6_before = Result.objects.get(panel=panel, analyte__code="IL6")

    amend(technician_client, panel, [{"analyte": "IL-6", "value": "1.9", "unit": "pg/mL"}])

    corrected = Report.objects.get(amends=final)
    body = fhir(technician_client, f"/fhir/DiagnosticReport/{corrected.pk}")
    assert body["status"] == "corrected"
    il6_after = Result.objects.get(panel=panel, analyte__code="IL6", superseded_by__isnull=True)
    linked = {item["reference"] for item in body["result"]}
    assert f"Observation/{il6_after.pk}" in linked
    assert f"Observation/{il6_before.pk}" not in linked
    # the released report keeps the results it was issued with
    body = fhir(technician_client, f"/fhir/DiagnosticReport/{final.pk}")
    assert body["status"] == "final"
    linked = {item["reference"] for item in body["result"]}
    assert f"Observation/{il6_before.pk}" in linked
    assert f"Observation/{il6_after.pk}" not in linked


def test_findings_are_the_conclusion_and_met_criteria_the_codes(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel_payload["clinical"] = {
        **HSCORE_HIGH,
        "splenomegaly": True,
        "cytopenias_2_of_3_lineages": True,
    }
    panel = submit(
        technician_client,
        panel_payload,
        "H-1",
        [
            {"analyte": "ferritin", "value": "8000", "unit": "µg/L"},
            {"analyte": "sIL-2R", "value": "12000", "unit": "U/mL"},
        ],
    )

    body = fhir(technician_client, f"/fhir/DiagnosticReport/{panel.reports.get().pk}")

    assert "HLH-2004 diagnostic criteria" in body["conclusion"]
    met = {code["coding"][0]["display"] for code in body["conclusionCode"]}
    assert "HLH-2004 diagnostic criteria" in met
    findings = panel.findings.filter(status="met").select_related("text")
    assert {f.rule_id for f in findings} == {
        code["coding"][0]["code"] for code in body["conclusionCode"]
    }
    # sIL-2R in U/mL (arbitrary units): no UCUM code is claimed for it
    sil2r = Result.objects.get(panel=panel, analyte__code="SIL2R")
    quantity = fhir(technician_client, f"/fhir/Observation/{sil2r.pk}")["valueQuantity"]
    assert quantity["unit"] == "U/mL"
    assert "system" not in quantity


def test_search_with_include_and_paging(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    panels = [submit(technician_client, panel_payload, f"A-{n}") for n in range(3)]
    release(panels[0], director)

    bundle = fhir(technician_client, "/fhir/DiagnosticReport?_include=DiagnosticReport:result")
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 4  # three preliminary, one final
    included = entries(bundle, "include")
    assert {item["resourceType"] for item in included} == {"Observation"}
    assert len(included) == 6  # each result once, though two reports link panel 0's
    assert fhir(technician_client, "/fhir/DiagnosticReport?status=final")["total"] == 1
    assert fhir(technician_client, "/fhir/DiagnosticReport?status=preliminary")["total"] == 3
    code = "code=urn:labpanel:panel|cytokine-panel"
    assert fhir(technician_client, f"/fhir/DiagnosticReport?{code}")["total"] == 4
    assert fhir(technician_client, "/fhir/DiagnosticReport?code=http://loinc.org|1")["total"] == 0
    report = panels[1].reports.get()
    found = fhir(
        technician_client,
        f"/fhir/DiagnosticReport?identifier=urn:ietf:rfc:3986|urn:uuid:{report.uuid}",
    )
    assert [item["id"] for item in entries(found)] == [str(report.pk)]
    assert fhir(technician_client, "/fhir/DiagnosticReport?date=ge2026-11-20")["total"] == 4
    assert fhir(technician_client, "/fhir/DiagnosticReport?date=lt2026-11-20")["total"] == 0

    first = fhir(technician_client, "/fhir/DiagnosticReport?_count=3")
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert set(links) == {"self", "next"}
    second = fhir(technician_client, links["next"])
    assert len(entries(second)) == 1
    links = {link["relation"]: link["url"] for link in second["link"]}
    assert set(links) == {"self", "previous"}
    back = fhir(technician_client, links["previous"])
    assert [e["id"] for e in entries(back)] == [e["id"] for e in entries(first)]


def test_a_search_points_each_report_to_its_own_pdf(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: reports whose PDFs are drawn (the route is reversed once per request, each
    # report's id put in its place)
    panels = [submit(technician_client, panel_payload, f"A-{n}") for n in range(3)]
    for report in Report.objects.filter(panel__in=panels):
        report_render(report_id=report.pk)

    # when
    bundle = fhir(technician_client, "/fhir/DiagnosticReport")

    # then
    forms = {item["id"]: item["presentedForm"][0]["url"] for item in entries(bundle)}
    assert forms == {
        str(report.pk): "http://testserver" + reverse("api:report-pdf", args=[report.pk])
        for report in Report.objects.filter(panel__in=panels)
    }


def test_the_report_and_each_result_name_the_laboratory_that_performed_them(
    technician_client: APIClient, panel: Panel
) -> None:
    lab = panel.lab
    report = panel.reports.get()

    body = fhir(technician_client, f"/fhir/DiagnosticReport/{report.pk}")

    # name and address, as a report must carry them (CLIA 493.1291(c)(2)), contained
    assert body["contained"] == [
        {
            "resourceType": "Organization",
            "id": "lab",
            "name": "Test Laboratory",
            "address": [{"text": "10 Bench Street, Labtown"}],
        }
    ]
    assert body["performer"] == [{"reference": "#lab", "display": lab.name}]
    bundle = fhir(technician_client, "/fhir/DiagnosticReport?_include=DiagnosticReport:result")
    observations = [
        entry["resource"] for entry in bundle["entry"] if entry["search"]["mode"] == "include"
    ]
    assert observations
    assert all(item["performer"] == [{"display": lab.name}] for item in observations)
    result = Result.objects.filter(panel=panel).first()
    assert result is not None
    read = fhir(technician_client, f"/fhir/Observation/{result.pk}")
    assert read["performer"] == [{"display": lab.name}]


def test_a_lab_without_an_address_is_named_without_one(
    technician_client: APIClient, panel: Panel
) -> None:
    panel.lab.address = ""
    panel.lab.save()

    body = fhir(technician_client, f"/fhir/DiagnosticReport/{panel.reports.get().pk}")

    assert body["contained"] == [
        {"resourceType": "Organization", "id": "lab", "name": "Test Laboratory"}
    ]
