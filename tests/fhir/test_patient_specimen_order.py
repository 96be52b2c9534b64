"""Patient, Specimen and ServiceRequest: read and search."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import Panel
from tests.fhir.conftest import entries, fhir, release, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def panel(technician_client: APIClient, panel_payload: dict[str, Any]) -> Panel:
    return submit(
        technician_client,
        panel_payload,
        "A-1",
        specimen={
            "type": "plasma",
            "collected_at": "2026-11-20T08:30:00Z",
            "received_at": "2026-11-20T10:00:00Z",
            "condition": "Hemolyzed",
        },
    )


def test_patient_read_and_search_by_mrn(technician_client: APIClient, panel: Panel) -> None:
    body = fhir(technician_client, f"/fhir/Patient/{panel.patient_id}")

    assert body["identifier"][0]["system"] == f"urn:labpanel:lab:{panel.lab_id}:mrn"
    assert body["identifier"][0]["value"] == "MRN-77"
    assert body["name"] == [{"use": "official", "family": "Doe", "given": ["Jane"]}]
    assert body["gender"] == "female"
    assert body["birthDate"] == "1980-04-02"
    system = f"urn:labpanel:lab:{panel.lab_id}:mrn"
    for query in (f"identifier={system}|MRN-77", "identifier=MRN-77", f"_id={panel.patient_id}"):
        found = entries(fhir(technician_client, f"/fhir/Patient?{query}"))
        assert [item["id"] for item in found] == [str(panel.patient_id)], query
    assert fhir(technician_client, "/fhir/Patient?identifier=MRN-78")["total"] == 0
    other = f"urn:labpanel:lab:{panel.lab_id + 1}:mrn|MRN-77"
    assert fhir(technician_client, f"/fhir/Patient?identifier={other}")["total"] == 0


def test_specimen_read_and_search(technician_client: APIClient, panel: Panel) -> None:
    body = fhir(technician_client, f"/fhir/Specimen/{panel.pk}")

    assert body["accessionIdentifier"]["value"] == "A-1"
    assert body["type"]["coding"][0]["code"] == "plasma"
    assert body["collection"]["collectedDateTime"].startswith("2026-11-20T08:30:00")
    assert body["receivedTime"].startswith("2026-11-20T10:00:00")
    assert body["condition"] == [{"text": "Hemolyzed"}]
    assert body["subject"] == {"reference": f"Patient/{panel.patient_id}"}
    found = fhir(technician_client, f"/fhir/Specimen?identifier=A-1&patient={panel.patient_id}")
    assert [item["id"] for item in entries(found)] == [str(panel.pk)]
    assert fhir(technician_client, "/fhir/Specimen?identifier=A-2")["total"] == 0


def test_service_request_status_follows_release(
    technician_client: APIClient, panel: Panel, director: StaffMember
) -> None:
    body = fhir(technician_client, f"/fhir/ServiceRequest/{panel.pk}")
    assert (body["status"], body["intent"]) == ("active", "order")
    assert body["requester"] == {"display": "dr.house"}
    assert body["specimen"] == [{"reference": f"Specimen/{panel.pk}"}]
    assert fhir(technician_client, "/fhir/ServiceRequest?status=completed")["total"] == 0

    release(panel, director)

    assert fhir(technician_client, f"/fhir/ServiceRequest/{panel.pk}")["status"] == "completed"
    found = fhir(
        technician_client,
        f"/fhir/ServiceRequest?status=completed&subject=Patient/{panel.patient_id}",
    )
    assert [item["id"] for item in entries(found)] == [str(panel.pk)]
