"""A known MRN sent with other demographics (issue 13): not an oracle.

The lab's staff (technicians, directors) are told which fields differ; anyone else
(integrators) gets a 409 naming no field and no value, over JSON and in the HL7 ACK. Every
mismatch is audited (``patient.demographics_mismatch``: ids and field names, no values) and
survives the refusal (nothing of the panel is stored); after 5 within 10 minutes a user's
submissions naming a known MRN answer 429 with Retry-After, counted from the event record.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, Role, StaffMember
from labpanel.events.models import Event, EventKind
from labpanel.events.services import event_record
from panels.models import ImportStatus, Panel, Patient
from tests.conftest import token_client
from tests.factories import make_staff
from tests.imports.test_import_jobs import HEADER, upload, validated
from tests.messaging.test_hl7_http import oru
from tests.messaging.test_hl7_http import post as post_hl7

pytestmark = pytest.mark.django_db

# What a refusal to an outsider must not say: no field name, no registered value.
REVEALING = ("birth", "family", "given", "sex", "1980", "Doe", "Jane", "female")


def audits() -> list[Event]:
    return list(Event.objects.filter(kind=EventKind.PATIENT_DEMOGRAPHICS_MISMATCH).order_by("pk"))


@pytest.fixture
def known(technician_client: APIClient, panel_payload: dict[str, Any]) -> Patient:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    return Patient.objects.get(mrn="MRN-77")


def _guess(payload: dict[str, Any], n: int, **patient: str) -> dict[str, Any]:
    payload["accession"] = f"G-{n}"
    payload["patient"].update(patient)
    return payload


@pytest.fixture
def integrator_client(integrator: StaffMember) -> APIClient:
    return token_client(integrator)


def test_an_integrator_gets_a_409_naming_no_field_and_the_mismatch_is_audited(
    known: Patient,
    integrator_client: APIClient,
    integrator: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    response = integrator_client.post(
        "/api/v1/panels/", _guess(panel_payload, 1, birth_date="1981-04-02"), format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert body["details"] == []
    assert not [word for word in REVEALING if word in response.content.decode()], body
    assert Panel.objects.filter(accession="G-1").count() == 0
    (audit,) = audits()
    assert (audit.lab_id, audit.actor_id, audit.panel_id) == (
        known.lab_id,
        integrator.user_id,
        None,
    )
    assert audit.payload == {"patient_id": known.pk, "intake": "api", "fields": ["birth_date"]}


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.DIRECTOR])
def test_the_lab_staff_are_told_which_fields_differ(
    known: Patient, lab: Lab, panel_payload: dict[str, Any], role: Role
) -> None:
    client = token_client(make_staff(username=f"staff.{role}", lab=lab, role=role))

    response = client.post(
        "/api/v1/panels/",
        _guess(panel_payload, 1, family_name="Dough", sex="male"),
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["details"] == [
        {"field": "patient.family_name", "message": "differs from the registered patient"},
        {"field": "patient.sex", "message": "differs from the registered patient"},
    ]
    assert [a.payload["fields"] for a in audits()] == [["family_name", "sex"]]


def test_after_five_mismatches_a_known_mrn_answers_429_even_with_the_right_demographics(
    known: Patient, integrator_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    answers = [
        integrator_client.post(
            "/api/v1/panels/",
            _guess(panel_payload, n, birth_date=f"198{n}-01-01"),
            format="json",
        ).status_code
        for n in range(1, 7)
    ]
    right = integrator_client.post(
        "/api/v1/panels/", _guess(panel_payload, 7, birth_date="1980-04-02"), format="json"
    )
    panel_payload["patient"]["mrn"] = "MRN-NEW"
    new_patient = integrator_client.post("/api/v1/panels/", _guess(panel_payload, 8), format="json")

    assert answers == [409, 409, 409, 409, 409, 429]
    assert right.status_code == 429  # a right guess is not told apart from a wrong one
    assert right.json()["code"] == "too_many_attempts"
    assert 1 <= int(right["Retry-After"]) <= 600
    assert new_patient.status_code == 201  # the limit is on known MRNs, not on the interface
    assert len(audits()) == 5
    assert not Panel.objects.filter(accession__in=[f"G-{n}" for n in range(1, 8)]).exists()


def test_the_limit_is_per_user_and_forgets_after_the_window(
    known: Patient,
    integrator_client: APIClient,
    integrator: StaffMember,
    technician_client: APIClient,
    panel_payload: dict[str, Any],
) -> None:
    with transaction.atomic():
        for minutes in (11, 12, 13, 14, 15):  # older than the 10-minute window
            event_record(
                kind=EventKind.PATIENT_DEMOGRAPHICS_MISMATCH,
                lab_id=known.lab_id,
                actor_id=integrator.user_id,
                payload={"patient_id": known.pk, "intake": "api", "fields": ["sex"]},
                occurred_at=timezone.now() - timedelta(minutes=minutes),
            )
        for minutes in (1, 2, 3, 4, 5):  # another user's, within the window
            event_record(
                kind=EventKind.PATIENT_DEMOGRAPHICS_MISMATCH,
                lab_id=known.lab_id,
                actor_id=integrator.user_id + 1000,
                payload={"patient_id": known.pk, "intake": "api", "fields": ["sex"]},
                occurred_at=timezone.now() - timedelta(minutes=minutes),
            )

    response = integrator_client.post("/api/v1/panels/", _guess(panel_payload, 1), format="json")

    assert response.status_code == 201, response.json()


def test_hl7_ack_names_no_field_for_an_integrator_and_the_mismatch_is_audited(
    reference_data: None, lab: Lab, integrator: StaffMember, clinician: StaffMember
) -> None:
    client = token_client(integrator)
    post_hl7(client, oru("MSG-1"))
    other_birth_date = oru("MSG-2", accession="H-2").replace("19800402", "19810402")

    response, _ = post_hl7(client, other_birth_date)

    assert response["X-HL7-Ack-Code"] == "AE"
    text = response.content.decode()
    assert "different demographics" in text
    assert not [word for word in REVEALING if word in text], text
    assert not Panel.objects.filter(accession="H-2").exists()
    (audit,) = audits()
    assert audit.payload["intake"] == "hl7_http"
    assert audit.payload["fields"] == ["birth_date"]


def test_hl7_ack_names_the_fields_for_a_director(
    reference_data: None, lab: Lab, director: StaffMember, clinician: StaffMember
) -> None:
    client = token_client(director)
    post_hl7(client, oru("MSG-1"))

    response, ack = post_hl7(client, oru("MSG-2", accession="H-2").replace("19800402", "19810402"))

    assert response["X-HL7-Ack-Code"] == "AE"
    assert "birth_date" in str(ack.segment("ERR")[8])


def test_an_import_tells_the_technician_the_fields_at_their_row_and_audits_them(
    known: Patient, technician_client: APIClient, technician: StaffMember
) -> None:
    content = "\n".join(
        [
            HEADER,
            "I-9,MRN-77,Doe,Jane,1980-04-03,female,plasma,2026-11-21T08:30:00Z,dr.house,"
            "IL-6,12.4,pg/mL",
            "",
        ]
    )

    job = validated(upload(technician_client, content))

    assert job.status == ImportStatus.REJECTED
    (problem,) = job.problems.all()
    assert (problem.row, problem.column, problem.code) == (2, "birth_date", "patient_differs")
    (audit,) = audits()
    assert (audit.import_job_id, audit.actor_id) == (job.pk, technician.user_id)
    assert audit.payload == {"patient_id": known.pk, "intake": "import", "fields": ["birth_date"]}
