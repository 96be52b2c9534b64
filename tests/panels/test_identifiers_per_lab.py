"""MRN and accession are the lab's own (issue 13): another lab's identifiers are never seen,
refused or taken. Lab B posting lab A's MRN creates lab B's own patient; posting lab A's
accession creates lab B's panel; an import listing lab A's MRNs and accessions reports no
problem about them; HL7 the same; the admin finds only the director's own lab's rows.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, Role, StaffMember
from panels.intake.imports.commit import import_job_commit
from panels.models import ImportStatus, Panel, Patient
from tests.conftest import EXAMPLE_PANEL, token_client
from tests.factories import make_lab, make_staff
from tests.imports.test_import_jobs import HEADER, upload, validated
from tests.messaging.test_hl7_http import oru
from tests.messaging.test_hl7_http import post as post_hl7

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab_b(reference_data: None) -> Lab:
    return make_lab(name="Second Laboratory")


@pytest.fixture
def lab_b_clinician(lab_b: Lab) -> StaffMember:
    return make_staff(username="dr.b", lab=lab_b, role=Role.CLINICIAN)


@pytest.fixture
def lab_b_technician(lab_b: Lab, lab_b_clinician: StaffMember) -> StaffMember:
    return make_staff(username="tech.b", lab=lab_b, role=Role.TECHNICIAN)


@pytest.fixture
def stored_in_a(technician_client: APIClient, panel_payload: dict[str, Any]) -> dict[str, Any]:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def _for_lab_b(payload: dict[str, Any]) -> dict[str, Any]:
    payload["ordering_clinician"] = "dr.b"
    return payload


def test_lab_b_posting_lab_a_mrn_creates_its_own_patient(
    stored_in_a: dict[str, Any],
    lab: Lab,
    lab_b: Lab,
    lab_b_technician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    payload = _for_lab_b(panel_payload)
    payload["accession"] = "B-1"
    payload["patient"].update(family_name="Other", birth_date="1999-09-09", sex="male")

    response = token_client(lab_b_technician).post("/api/v1/panels/", payload, format="json")

    assert response.status_code == 201, response.json()
    patients = {p.lab_id: p for p in Patient.objects.filter(mrn="MRN-77")}
    assert set(patients) == {lab.pk, lab_b.pk}
    assert patients[lab.pk].family_name == "Doe"  # lab A's patient is untouched
    assert patients[lab_b.pk].family_name == "Other"
    assert Panel.objects.get(accession="B-1").patient == patients[lab_b.pk]


def test_lab_b_posting_lab_a_accession_creates_its_own_panel(
    stored_in_a: dict[str, Any],
    technician_client: APIClient,
    lab: Lab,
    lab_b: Lab,
    lab_b_technician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    payload = _for_lab_b(panel_payload)
    payload["results"] = [{"analyte": "IL-6", "value": "99", "unit": "pg/mL"}]

    response = token_client(lab_b_technician).post("/api/v1/panels/", payload, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["id"] != stored_in_a["id"]
    assert sorted(Panel.objects.filter(accession="A-1001").values_list("lab_id", flat=True)) == (
        sorted([lab.pk, lab_b.pk])
    )
    # Lab A's identical re-send still finds lab A's own panel.
    again = technician_client.post("/api/v1/panels/", copy.deepcopy(EXAMPLE_PANEL), format="json")
    assert again.status_code == 200
    assert again.json()["id"] == stored_in_a["id"]


def test_the_database_refuses_a_mrn_or_accession_twice_in_one_lab(
    stored_in_a: dict[str, Any], lab: Lab
) -> None:
    panel = Panel.objects.get(pk=stored_in_a["id"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(lab=lab, mrn="MRN-77", family_name="Twin", sex="female")
    panel.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        panel.save()


def test_an_import_listing_lab_a_identifiers_reports_no_problem_about_them(
    stored_in_a: dict[str, Any],
    lab_b: Lab,
    lab_b_technician: StaffMember,
) -> None:
    client = token_client(lab_b_technician)
    # Lab A's accession A-1001 and MRN MRN-77, with demographics lab A never saw.
    content = "\n".join(
        [
            HEADER,
            "A-1001,MRN-77,Other,Olga,1999-09-09,female,plasma,2026-11-20T08:30:00Z,dr.b,"
            "IL-6,12.4,pg/mL",
            "",
        ]
    )

    job = validated(upload(client, content))

    assert job.status == ImportStatus.PREVIEW, list(job.problems.values("row", "message"))
    assert list(job.problems.all()) == []
    assert job.summary["patients_new"] == 1
    client.post(f"/api/v1/imports/{job.uuid}/commit/")
    import_job_commit(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.COMMITTED, job.status_message
    imported = Panel.objects.select_related("patient").get(lab=lab_b, accession="A-1001")
    assert (imported.patient.lab_id, imported.patient.family_name) == (lab_b.pk, "Other")
    assert Patient.objects.filter(mrn="MRN-77").count() == 2


def test_hl7_from_lab_b_with_lab_a_identifiers_is_accepted_as_lab_b_own(
    reference_data: None, lab: Lab, lab_b: Lab, lab_b_clinician: StaffMember
) -> None:
    lab_a_engine = token_client(make_staff(username="engine.a", lab=lab, role=Role.INTEGRATOR))
    make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN)
    lab_b_engine = token_client(make_staff(username="engine.b", lab=lab_b, role=Role.INTEGRATOR))
    _, ack_a = post_hl7(lab_a_engine, oru("A-MSG-1"))
    assert str(ack_a.segment("MSA")[1]) == "AA"

    response, _ = post_hl7(lab_b_engine, oru("B-MSG-1", provider="dr.b"))

    assert response["X-HL7-Ack-Code"] == "AA", response.content
    assert sorted(Panel.objects.filter(accession="H-1").values_list("lab_id", flat=True)) == (
        sorted([lab.pk, lab_b.pk])
    )
    assert Patient.objects.filter(mrn="MRN-H1").count() == 2


def test_the_admin_finds_only_the_director_own_lab_rows(
    stored_in_a: dict[str, Any], lab_b: Lab
) -> None:
    director_b = make_staff(username="director.b", lab=lab_b, role=Role.DIRECTOR)
    director_b.user.is_staff = True
    director_b.user.save()
    director_b.user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="panels", codename__in=["view_patient", "view_panel"]
        )
    )
    browser = Client()
    browser.force_login(director_b.user)

    patients = browser.get("/admin/panels/patient/", {"q": "MRN-77"})
    panels = browser.get("/admin/panels/panel/", {"q": "A-1001"})
    lab_a_panel = browser.get(f"/admin/panels/panel/{stored_in_a['id']}/change/")

    assert patients.status_code == 200
    assert patients.context["cl"].result_count == 0
    assert panels.status_code == 200
    assert panels.context["cl"].result_count == 0
    assert lab_a_panel.status_code == 302  # the admin's answer for an object it does not find
