"""CLIA 493.1291(c) through file imports (issue 11): the optional ``received_at`` and
``specimen_condition`` columns of the Labpanel CSV layouts and of the manifest, and the method and
instrument an instrument export states; a wrong receipt time is named by row and column and
nothing is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labpanel.accounts.models import Role, StaffMember
from panels.intake.files.provenance import export_provenance
from panels.intake.imports.commit import import_job_commit
from panels.intake.imports.services import import_job_commit_request
from panels.models import ImportJob, ImportStatus, Panel, Patient, Result
from reports.models import Report
from tests.factories import make_staff
from tests.imports.test_vendor_imports import run

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
XPONENT = "Luminex xMAP bead immunoassay (xPONENT export)"

LONG = (
    "accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
    "ordering_clinician,analyte,value,unit,received_at,specimen_condition\n"
    "C-1,MRN-C1,Doe,Jane,1980-04-02,female,plasma,2026-11-20T08:30:00Z,dr.house,IL-6,12.4,pg/mL,"
    "2026-11-20T09:40:00Z,Lipemic\n"
    "C-1,MRN-C1,Doe,Jane,1980-04-02,female,plasma,2026-11-20T08:30:00Z,dr.house,TNF-a,<2.0,pg/mL,"
    "2026-11-20T09:40:00Z,Lipemic\n"
    "C-2,MRN-C2,Roe,Rick,1975-01-31,male,serum,2026-11-20T09:00:00Z,dr.house,IL-6,3.1,pg/mL,,\n"
)


@pytest.fixture
def cuddy(lab: Any) -> StaffMember:
    return make_staff(username="dr.cuddy", lab=lab, role=Role.CLINICIAN)


def _committed(job: ImportJob, technician: StaffMember) -> None:
    assert job.status == ImportStatus.PREVIEW, list(job.problems.values("row", "message"))
    import_job_commit_request(job=job, user=technician.user)
    import_job_commit(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.COMMITTED


def test_a_long_csv_stores_the_stated_receipt_time_and_condition_and_blank_as_not_stated(
    technician: StaffMember, clinician: StaffMember, reference_data: None
) -> None:
    job = run(technician, LONG.encode(), "run.csv")

    _committed(job, technician)

    stated, unstated = Panel.objects.get(accession="C-1"), Panel.objects.get(accession="C-2")
    assert str(stated.received_at) == "2026-11-20 09:40:00+00:00"
    assert stated.specimen_condition == "Lipemic"
    assert (unstated.received_at, unstated.specimen_condition) == (None, "")
    # the CSV layouts state no method: nothing is made up for them
    assert set(Result.objects.values_list("method", "instrument")) == {("", "")}


@pytest.mark.parametrize(
    ("_case", "received", "message"),
    [
        ("before collection", "2026-11-20T08:29:00Z", "received before the specimen was collected"),
        ("in the future", "2099-11-20T09:40:00Z", "receipt time is in the future"),
    ],
)
def test_a_wrong_receipt_time_is_named_by_row_and_column_and_nothing_is_stored(
    technician: StaffMember,
    clinician: StaffMember,
    reference_data: None,
    _case: str,
    received: str,
    message: str,
) -> None:
    job = run(technician, LONG.replace("2026-11-20T09:40:00Z", received).encode(), "r.csv")

    assert job.status == ImportStatus.REJECTED
    assert list(job.problems.filter(severity="error").values_list("row", "column", "message")) == [
        (2, "received_at", f"received_at: {message}")
    ]
    assert not Panel.objects.exists()
    assert not Patient.objects.exists()
    assert not Report.objects.exists()


def test_an_xponent_export_gives_its_method_and_instrument_and_the_manifest_the_rest(
    technician: StaffMember, clinician: StaffMember, cuddy: StaffMember, reference_data: None
) -> None:
    # given: the fixture plate, and its manifest with the two optional columns
    content = (
        (FIXTURES / "luminex_xponent.csv").read_bytes().replace(b"1020.36,NaN", b"1020.36,4.2")
    )
    lines = (FIXTURES / "manifest.csv").read_text(encoding="utf-8").splitlines()
    manifest = "\n".join(
        [
            lines[0] + ",received_at,specimen_condition",
            lines[1] + ",2026-11-20T10:05:00Z,Hemolyzed",
            *(line + ",," for line in lines[2:]),
        ]
    )

    _committed(run(technician, content, "plate.csv", manifest.encode()), technician)

    first = Panel.objects.get(accession="LP-24-0001")
    assert str(first.received_at) == "2026-11-20 10:05:00+00:00"
    assert first.specimen_condition == "Hemolyzed"
    assert Panel.objects.get(accession="LP-24-0002").received_at is None
    assert set(Result.objects.values_list("method", "instrument")) == {
        (XPONENT, "FLEXMAP 3D, SN FM3DX20261120")
    }


@pytest.mark.parametrize(
    ("_case", "format", "metadata", "expected"),
    [
        (
            "bio-plex reader serial",
            "biorad_bioplex",
            {"title": "Bio-Plex Manager 6.2 Report", "Reader Serial Number": "LX10006042011"},
            ("Bio-Plex bead immunoassay (Bio-Plex Manager export)", "SN LX10006042011"),
        ),
        (
            "msd without an instrument in its header",
            "msd_workbench",
            {"plate": "Plate_LP20261120A"},
            ("MSD electrochemiluminescence immunoassay (Discovery Workbench export)", ""),
        ),
        ("labpanel csv states neither", "labpanel_long", {"SN": "X"}, ("", "")),
    ],
)
def test_an_export_states_only_what_its_format_and_header_say(
    _case: str, format: str, metadata: dict[str, str], expected: tuple[str, str]
) -> None:
    provenance = export_provenance(format, metadata)

    assert (provenance.method, provenance.instrument) == expected
