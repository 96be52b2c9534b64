"""FHIR answers only what the caller may open, through the REST API's access decisions: another
lab's resources and a clinician's non-patients are 404 (like what does not exist) and absent
from searches; every answer with patient data writes ONE read-audit entry with its ids."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import Role, StaffMember
from labpanel.audit.models import Channel, ReadEntry
from panels.models import Panel, Result
from reports.models import Report
from tests.conftest import token_client
from tests.factories import make_lab, make_staff
from tests.fhir.conftest import entries, fhir, release, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def panel(technician_client: APIClient, panel_payload: dict[str, Any]) -> Panel:
    return submit(technician_client, panel_payload, "A-1")


def _urls(panel: Panel) -> list[str]:
    result = Result.objects.filter(panel=panel).first()
    assert result is not None
    return [
        f"/fhir/Patient/{panel.patient_id}",
        f"/fhir/Specimen/{panel.pk}",
        f"/fhir/ServiceRequest/{panel.pk}",
        f"/fhir/Observation/{result.pk}",
        f"/fhir/DiagnosticReport/{Report.objects.filter(panel=panel).latest('pk').pk}",
    ]


SEARCHES = ["Patient", "Specimen", "ServiceRequest", "Observation", "DiagnosticReport"]


def _sees_nothing(client: APIClient, panel: Panel) -> None:
    for url in _urls(panel):
        missing = fhir(client, url, status=404)
        assert missing["issue"][0]["code"] == "not-found"
    for kind in SEARCHES:
        assert fhir(client, f"/fhir/{kind}")["total"] == 0, kind


def test_another_labs_staff_see_nothing(panel: Panel, reference_data: None) -> None:
    other = make_staff(username="tech2", lab=make_lab(name="Other"), role=Role.TECHNICIAN)
    _sees_nothing(token_client(other), panel)


def test_a_clinician_sees_their_released_patients_only(
    panel: Panel,
    clinician: StaffMember,
    other_clinician: StaffMember,
    director: StaffMember,
) -> None:
    house = token_client(clinician)
    _sees_nothing(house, panel)  # not released: not sent to clinicians in this lab

    release(panel, director)

    for url in _urls(panel):
        fhir(house, url)
    reports = entries(fhir(house, "/fhir/DiagnosticReport"))
    assert [item["status"] for item in reports] == ["final"]  # not the preliminary one
    _sees_nothing(token_client(other_clinician), panel)  # not in dr.wilson's care


def test_an_integrator_sees_only_what_it_submitted(
    panel: Panel, integrator: StaffMember, panel_payload: dict[str, Any]
) -> None:
    engine = token_client(integrator)
    _sees_nothing(engine, panel)
    own = submit(engine, panel_payload, "I-1")
    assert [item["id"] for item in entries(fhir(engine, "/fhir/Specimen"))] == [str(own.pk)]


def test_each_read_and_search_writes_one_entry_with_the_ids_returned(
    technician_client: APIClient, panel: Panel
) -> None:
    report = panel.reports.get()
    results = list(Result.objects.filter(panel=panel).values_list("pk", flat=True))
    expected = {
        f"/fhir/Patient/{panel.patient_id}": ({panel.patient_id}, set(), set()),
        f"/fhir/Patient?_id={panel.patient_id}": ({panel.patient_id}, set(), set()),
        f"/fhir/Specimen/{panel.pk}": ({panel.patient_id}, {panel.pk}, set()),
        "/fhir/ServiceRequest": ({panel.patient_id}, {panel.pk}, set()),
        f"/fhir/Observation/{results[0]}": ({panel.patient_id}, {panel.pk}, set()),
        "/fhir/Observation": ({panel.patient_id}, {panel.pk}, set()),
        f"/fhir/DiagnosticReport/{report.pk}": ({panel.patient_id}, {panel.pk}, {report.pk}),
        "/fhir/DiagnosticReport?_include=DiagnosticReport:result": (
            {panel.patient_id},
            {panel.pk},
            {report.pk},
        ),
    }
    for url, (patients, panels, reports) in expected.items():
        before = ReadEntry.objects.count()
        fhir(technician_client, url)
        assert ReadEntry.objects.count() == before + 1, url
        entry = ReadEntry.objects.latest("id")
        assert set(entry.patient_ids) == patients, url
        assert set(entry.panel_ids) == panels, url
        assert set(entry.report_ids) == reports, url
        assert entry.channel == Channel.TOKEN
        assert entry.view.startswith("fhir:")
    # the CapabilityStatement and refusals carry no patient data: nothing recorded
    before = ReadEntry.objects.count()
    fhir(technician_client, "/fhir/metadata")
    fhir(technician_client, "/fhir/Observation/999999", status=404)
    assert ReadEntry.objects.count() == before


def test_a_session_reads_like_a_token(
    clinician: StaffMember, panel: Panel, director: StaffMember
) -> None:
    from django.test import Client

    release(panel, director)
    browser = Client()
    browser.force_login(clinician.user)
    response = browser.get(f"/fhir/Patient/{panel.patient_id}")
    assert response.status_code == 200
    assert ReadEntry.objects.latest("id").channel == Channel.SESSION


def test_every_view_declares_the_results_read_scope() -> None:
    from reports.fhir import views

    for view in (views.ReadView, views.SearchView, views.MetadataView, views.UnknownView):
        assert view.required_scope == "results:read"
