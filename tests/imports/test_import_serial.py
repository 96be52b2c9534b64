"""A file import follows the serial rules of the JSON submission (issue 11, item 7): earlier
panels of another specimen type are set apart, the first panel on file is no baseline without
an anchor event, and a pre-infusion panel stored earlier is the imported panel's baseline."""

from __future__ import annotations

import copy

import pytest
from rest_framework.test import APIClient

from panels.intake.imports.commit import import_job_commit
from panels.models import Panel
from tests.conftest import EXAMPLE_PANEL
from tests.imports.test_import_jobs import HEADER, upload, validated

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
