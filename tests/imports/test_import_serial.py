"""A file import follows the serial rules of the JSON submission (issue 11, item 7): earlier
panels of another specimen type are set apart, the first panel on file is no baseline without
an anchor event, a pre-infusion panel stored earlier is the imported panel's baseline, and a
result stored by another stated method is set apart from the method an export states."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, Role, StaffMember
from panels.intake.imports.commit import import_job_commit
from panels.intake.imports.services import import_job_commit_request
from panels.models import ImportStatus, Panel
from tests.conftest import EXAMPLE_PANEL
from tests.factories import make_staff
from tests.imports.test_import_jobs import HEADER, upload, validated
from tests.imports.test_vendor_imports import run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"

pytestmark = pytest.mark.django_db

ROW = "I-9,MRN-I9,Doe,Jane,1980-04-02,female,plasma,2026-11-14T08:30:00Z,dr.house"


def stored_earlier(client: APIClient, accession: str, specimen: str, **extra: object) -> None:
    payload = copy.deepcopy(EXAMPLE_PANEL)
    payload["accession"] = accession
    payload["patient"]["mrn"] = "MRN-I9"
    payload["specimen"] = {"type": specimen, "collected_at": "2026-11-09T08:00:00Z"}
    payload["results"] = [{"analyte": "IL-6", "value": "2.0", "unit": "pg/mL"}]
    payload.update(extra)
    assert client.post("/api/v1/panels/", payload, format="json").status_code == 201


def imported(client: APIClient) -> Panel:
    job = validated(upload(client, f"{HEADER}\n{ROW},IL-6,480,pg/mL\n"))
    client.post(f"/api/v1/imports/{job.uuid}/commit/")
    import_job_commit(job_id=job.pk)
    return Panel.objects.get(accession="I-9")


def test_an_imported_panel_measures_its_fold_from_the_pre_infusion_panel(
    technician_client: APIClient,
) -> None:
    infusion = [{"type": "car_t_infusion", "at": "2026-11-10T12:00:00Z"}]
    stored_earlier(technician_client, "E-9", "plasma", events=infusion)

    serial = imported(technician_client).serial

    assert (serial["baseline"], serial["baseline_basis"]) == ("E-9", "before_anchor")
    [il6] = serial["analytes"]
    assert [p["fold_from_baseline"] for p in il6["points"]] == ["1", "240"]


def test_an_imported_panel_without_an_anchor_has_no_baseline(
    technician_client: APIClient,
) -> None:
    stored_earlier(technician_client, "E-9", "plasma")

    serial = imported(technician_client).serial

    assert (serial["baseline"], serial["no_baseline"]) == (None, "no_anchor")
    [il6] = serial["analytes"]
    assert [p["fold_from_baseline"] for p in il6["points"]] == [None, None]


def test_an_imported_panel_is_never_compared_with_another_specimen_type(
    technician_client: APIClient,
) -> None:
    stored_earlier(technician_client, "E-9", "serum")

    serial = imported(technician_client).serial

    assert serial["analytes"] == []
    assert [(p["accession"], p["specimen_type"]) for p in serial["excluded"]] == [("E-9", "serum")]


def test_an_export_stating_its_method_is_never_compared_with_another_method(
    technician_client: APIClient, technician: StaffMember, lab: Lab
) -> None:
    # given: Jane Doe's pre-infusion IL-6 stored by ELISA, then the xPONENT plate with her
    make_staff(username="dr.cuddy", lab=lab, role=Role.CLINICIAN)
    payload = copy.deepcopy(EXAMPLE_PANEL)
    payload["accession"] = "E-1"
    payload["patient"]["mrn"] = "MRN-0001"
    payload["specimen"] = {"type": "plasma", "collected_at": "2026-11-19T08:00:00Z"}
    payload["results"] = [{"analyte": "IL-6", "value": "2.0", "unit": "pg/mL", "method": "ELISA"}]
    payload["events"] = [{"type": "car_t_infusion", "at": "2026-11-19T12:00:00Z"}]
    assert technician_client.post("/api/v1/panels/", payload, format="json").status_code == 201
    plate = (FIXTURES / "luminex_xponent.csv").read_bytes().replace(b"1020.36,NaN", b"1020.36,4.2")

    # when
    job = run(technician, plate, "plate.csv", (FIXTURES / "manifest.csv").read_bytes())
    assert job.status == ImportStatus.PREVIEW, list(job.problems.values("row", "message"))
    import_job_commit_request(job=job, user=technician.user)
    import_job_commit(job_id=job.pk)

    # then: the baseline is E-1, but its ELISA IL-6 is set apart: no fold change
    serial = Panel.objects.get(accession="LP-24-0001").serial
    assert serial["baseline"] == "E-1"
    [il6] = [trend for trend in serial["analytes"] if trend["analyte"] == "IL6"]
    assert il6["method"] == "Luminex xMAP bead immunoassay (xPONENT export)"
    assert [(p["accession"], p["fold_from_baseline"]) for p in il6["points"]] == [
        ("LP-24-0001", None)
    ]
    assert [(p["accession"], p["method"]) for p in il6["set_apart"]] == [("E-1", "ELISA")]
