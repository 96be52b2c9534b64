"""Observation: one per result, with its codes, exact value, interval, flag and status."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import Panel, Result
from tests.fhir.conftest import amend, entries, fhir, release, submit

pytestmark = pytest.mark.django_db

RESULTS = [
    {"analyte": "IL-6", "value": "12.4", "unit": "pg/mL"},
    {"analyte": "TNFA", "value": "<1.5", "unit": "pg/mL"},
    {"analyte": "IL8", "value": "3.10", "unit": "pg/mL"},
    {"analyte": "IL1RA", "value": "250", "unit": "pg/mL"},
]


@pytest.fixture
def panel(technician_client: APIClient, panel_payload: dict[str, Any]) -> Panel:
    return submit(technician_client, panel_payload, "A-1", RESULTS)


def _observation(client: APIClient, panel: Panel, code: str) -> dict[str, Any]:
    result = Result.objects.get(panel=panel, analyte__code=code, superseded_by__isnull=True)
    return fhir(client, f"/fhir/Observation/{result.pk}")


def _codings(resource: dict[str, Any]) -> dict[str, str]:
    return {coding["system"]: coding["code"] for coding in resource["code"]["coding"]}


def test_a_result_reads_as_an_observation(technician_client: APIClient, panel: Panel) -> None:
    body = _observation(technician_client, panel, "IL6")

    assert body["resourceType"] == "Observation"
    assert body["status"] == "preliminary"  # not released
    assert _codings(body) == {"http://loinc.org": "26881-3", "urn:labpanel:analyte": "IL6"}
    assert body["valueQuantity"] == {
        "value": Decimal("12.4"),
        "unit": "pg/mL",
        "system": "http://unitsofmeasure.org",
        "code": "pg/mL",
    }
    assert body["interpretation"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        "code": "H",
        "display": "High",
    }
    (interval,) = body["referenceRange"]
    assert interval["high"]["value"] == Decimal("2.5")
    assert "low" not in interval
    assert interval["text"] == "2.5 pg/mL or less"
    assert body["subject"] == {"reference": f"Patient/{panel.patient_id}"}
    assert body["specimen"] == {"reference": f"Specimen/{panel.pk}"}
    assert body["effectiveDateTime"].startswith("2026-11-20T08:30:00")
    assert "issued" in body


def test_a_censored_value_keeps_its_comparator_and_exact_number(
    technician_client: APIClient, panel: Panel
) -> None:
    response = technician_client.get(
        f"/fhir/Observation/{Result.objects.get(panel=panel, analyte__code='TNFA').pk}"
    )
    body = fhir(technician_client, response.wsgi_request.path)

    assert body["valueQuantity"]["comparator"] == "<"
    assert body["valueQuantity"]["value"] == Decimal("1.5")
    assert b'"value":1.5,' in response.content  # written as the number reported


def test_trailing_zeros_as_reported_are_kept(technician_client: APIClient, panel: Panel) -> None:
    result = Result.objects.get(panel=panel, analyte__code="IL8")
    response = technician_client.get(f"/fhir/Observation/{result.pk}")
    assert b'"value":3.10,' in response.content


def test_an_unverified_loinc_is_never_given(technician_client: APIClient, panel: Panel) -> None:
    body = _observation(technician_client, panel, "IL8")
    # the catalogue has 33211-4 for IL-8, not verified: the local code alone
    assert _codings(body) == {"urn:labpanel:analyte": "IL8"}


def test_a_result_no_interval_judged_has_no_range_and_says_so(
    technician_client: APIClient, panel: Panel
) -> None:
    body = _observation(technician_client, panel, "IL1RA")

    assert "referenceRange" not in body
    assert "interpretation" not in body
    assert any("No reference interval judged" in note["text"] for note in body["note"])


def test_released_results_are_final_and_a_correction_is_corrected(
    technician_client: APIClient, panel: Panel, director: StaffMember
) -> None:
    release(panel, director)
    assert _observation(technician_client, panel, "IL6")["status"] == "final"
    original = Result.objects.get(panel=panel, analyte__code="IL6")

    amend(technician_client, panel, [{"analyte": "IL-6", "value": "1.9", "unit": "pg/mL"}])

    corrected = _observation(technician_client, panel, "IL6")
    assert corrected["status"] == "corrected"
    assert corrected["valueQuantity"]["value"] == Decimal("1.9")
    assert corrected["interpretation"][0]["coding"][0]["code"] == "N"
    assert _observation(technician_client, panel, "TNFA")["status"] == "final"
    # the replaced result is still readable, and says what replaced it
    replaced = fhir(technician_client, f"/fhir/Observation/{original.pk}")
    assert replaced["status"] == "final"
    assert any(f"Replaced by Observation/{corrected['id']}" in n["text"] for n in replaced["note"])
    # a search answers the current results only, by status
    found = entries(fhir(technician_client, "/fhir/Observation?status=corrected"))
    assert [item["id"] for item in found] == [corrected["id"]]


def test_search_by_patient_code_date_and_status(
    technician_client: APIClient, panel_payload: dict[str, Any], panel: Panel
) -> None:
    later = submit(
        technician_client,
        panel_payload,
        "A-2",
        RESULTS[:2],
        specimen={"type": "plasma", "collected_at": "2026-11-25T09:00:00Z"},
    )
    patient = f"Patient/{panel.patient_id}"

    def ids(query: str) -> list[str]:
        return [
            item["id"] for item in entries(fhir(technician_client, f"/fhir/Observation?{query}"))
        ]

    il6 = [
        str(pk)
        for pk in Result.objects.filter(analyte__code="IL6")
        .order_by("panel_id")
        .values_list("pk", flat=True)
    ]
    assert ids("code=http://loinc.org|26881-3") == il6
    assert ids("code=urn:labpanel:analyte|IL6") == il6
    assert ids("code=IL6") == il6
    assert ids("code=http://loinc.org|33211-4") == []  # unverified LOINC: never matched
    assert len(ids(f"subject={patient}")) == 6
    assert len(ids(f"patient={panel.patient_id}")) == 6
    assert ids("patient=999999") == []
    assert len(ids("date=ge2026-11-21")) == 2
    assert len(ids("date=2026-11-20")) == 4
    assert len(ids("date=lt2026-11-20T08:30:00Z")) == 0
    assert len(ids("date=le2026-11-20T08:30:00Z")) == 4
    assert len(ids("date=gt2026-11-20&date=lt2026-12")) == 2
    assert len(ids("date=eq2026-11")) == 6
    assert len(ids("status=preliminary")) == 6
    assert ids("status=final") == []
    assert {
        item["subject"]["reference"]
        for item in entries(fhir(technician_client, "/fhir/Observation"))
    } == {patient}
    assert later.pk


def test_a_dilution_rerun_after_release_is_amended(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    panel = submit(
        technician_client,
        panel_payload,
        "D-1",
        [{"analyte": "IFN-γ", "value": ">5000", "unit": "pg/mL"}],
    )
    censored = _observation(technician_client, panel, "IFNG")
    assert censored["valueQuantity"]["comparator"] == ">"
    assert censored["valueQuantity"]["value"] == Decimal("5000")
    release(panel, director)

    amend(
        technician_client,
        panel,
        [{"analyte": "IFN-γ", "value": "23456", "unit": "pg/mL", "dilution_factor": "10"}],
        kind="dilution_rerun",
    )

    rerun = _observation(technician_client, panel, "IFNG")
    assert rerun["status"] == "amended"
    assert "comparator" not in rerun["valueQuantity"]
    assert rerun["valueQuantity"]["value"] == Decimal("23456")
    assert any(note["text"] == "Dilution factor 10" for note in rerun["note"])
    found = entries(fhir(technician_client, "/fhir/Observation?status=amended"))
    assert [item["id"] for item in found] == [rerun["id"]]
    assert fhir(technician_client, "/fhir/Observation?status=corrected")["total"] == 0


def test_a_result_is_identified_by_its_accession_and_analyte_and_searched_so(
    technician_client: APIClient, panel: Panel, director: StaffMember
) -> None:
    """``urn:labpanel:lab:{lab}:result|{accession}/{analyte code}``: a correction keeps the
    identifier (one result, its versions); a search answers the current version."""
    system = f"urn:labpanel:lab:{panel.lab_id}:result"
    body = _observation(technician_client, panel, "IL6")
    assert body["identifier"] == [{"system": system, "value": "A-1/IL6"}]
    release(panel, director)
    amend(technician_client, panel, [{"analyte": "IL-6", "value": "1.9", "unit": "pg/mL"}])
    current = _observation(technician_client, panel, "IL6")
    assert current["identifier"] == body["identifier"]
    assert current["id"] != body["id"]

    def ids(query: str) -> list[str]:
        found = fhir(technician_client, f"/fhir/Observation?identifier={query}")
        return [item["id"] for item in entries(found)]

    assert ids(f"{system}|A-1/IL6") == [current["id"]]
    assert ids("A-1/IL6") == [current["id"]]
    assert ids("A-1/TNFA,A-1/IL6") == sorted(
        [current["id"], _observation(technician_client, panel, "TNFA")["id"]], key=int
    )
    assert ids(f"urn:labpanel:lab:{panel.lab_id + 1}:result|A-1/IL6") == []  # another lab's
    assert ids(f"urn:labpanel:lab:{panel.lab_id}:accession|A-1/IL6") == []  # not results
    assert ids("A-1") == []  # no analyte: names no result
    assert ids("A-2/IL6") == []
