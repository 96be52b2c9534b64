"""Instrument exports (Luminex xPONENT, Bio-Plex Manager, MSD Discovery Workbench) with a sample
manifest, through the import services on PostgreSQL: standards, controls and blanks are kept
apart; out-of-range markers become values only from the lab's recorded measuring range; every
problem is located by row and column; nothing is stored until a clean preview is committed.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from labpanel.accounts.models import Role, StaffMember
from panels.intake.imports.commit import import_job_commit
from panels.intake.imports.services import import_job_commit_request, import_job_create
from panels.intake.imports.validate import import_job_validate
from panels.models import BeadRegion, ImportJob, ImportStatus, Panel, Result
from reference_ranges.models import Analyte
from reference_ranges.services.measuring_ranges import measuring_range_record
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


@pytest.fixture
def cuddy(lab: Any) -> StaffMember:
    return make_staff(username="dr.cuddy", lab=lab, role=Role.CLINICIAN)


def run(
    technician: StaffMember,
    content: bytes,
    name: str,
    manifest: bytes | None = None,
    **extra: Any,
) -> ImportJob:
    job = import_job_create(
        user=technician.user,
        upload=SimpleUploadedFile(name, content),
        manifest=SimpleUploadedFile("manifest.csv", manifest) if manifest is not None else None,
        **extra,
    )
    import_job_validate(job_id=job.pk)
    job.refresh_from_db()
    return job


def errors(job: ImportJob) -> set[tuple[int | None, str, str]]:
    return {(p.row, p.column, p.code) for p in job.problems.filter(severity="error")}


def test_an_xponent_export_with_its_manifest_is_stored_exactly_as_exported(
    technician: StaffMember, clinician: StaffMember, cuddy: StaffMember, reference_data: None
) -> None:
    content = (
        (FIXTURES / "luminex_xponent.csv").read_bytes().replace(b"1020.36,NaN", b"1020.36,4.2")
    )
    job = run(technician, content, "plate.csv", (FIXTURES / "manifest.csv").read_bytes())

    assert job.status == ImportStatus.PREVIEW, errors(job)
    assert job.format == "luminex_xponent"
    assert {(q["sample_id"], q["kind"]) for q in job.summary["qc_samples"]} == {
        ("Background0", "blank"),
        ("Standard1", "standard"),
        ("Standard2", "standard"),
        ("Control1", "control"),
    }
    import_job_commit_request(job=job, user=technician.user)
    import_job_commit(job_id=job.pk)
    job.refresh_from_db()

    assert job.status == ImportStatus.COMMITTED
    assert set(Panel.objects.values_list("accession", flat=True)) == {
        "LP-24-0001",
        "LP-24-0002",
        "LP-24-0003",
    }  # the standards, controls and blank never become panels
    il6 = Result.objects.get(panel__accession="LP-24-0002", analyte__code="IL6")
    assert (il6.raw_value, il6.value_text, il6.value_scale) == ("148.20", "148.20", 2)
    assert il6.analyte_as_received == "IL-6"
    diluted = Result.objects.get(panel__accession="LP-24-0003", analyte__code="TNFA")
    assert diluted.dilution_factor == Decimal(2)
    assert diluted.raw_value == "1020.36"


def test_instrument_markers_are_errors_at_their_cell_unless_the_lab_recorded_the_range(
    technician: StaffMember,
    clinician: StaffMember,
    cuddy: StaffMember,
    director: StaffMember,
    reference_data: None,
) -> None:
    content = (FIXTURES / "biorad_bioplex.csv").read_bytes()
    manifest = (FIXTURES / "manifest.csv").read_bytes()

    job = run(technician, content, "bioplex.csv", manifest)

    assert job.status == ImportStatus.REJECTED
    assert errors(job) == {
        (16, "Obs Conc", "out_of_range_without_value"),  # OOR <, no recorded LLOQ
        (17, "Obs Conc", "extrapolated"),  # *8321.7
        (27, "Obs Conc", "no_value"),  # ***
        (28, "Obs Conc", "out_of_range_without_value"),  # OOR >
    }
    assert Panel.objects.count() == 0

    measuring_range_record(
        lab=technician.lab,
        analyte=Analyte.objects.get(code="IL6"),
        assay="Bio-Plex Pro Human Cytokine IL-6",
        lloq=Decimal("1.5"),
        uloq=Decimal("5000"),
        unit="pg/mL",
        effective_from=timezone.localdate(),
        source="validation report 2026-01",
        created_by=director.user,
    )
    again = run(technician, content + b"\n", "bioplex-2.csv", manifest)

    assert (16, "Obs Conc", "out_of_range_without_value") not in errors(again)
    read = again.problems.get(code="out_of_range_read_as_limit")
    assert (read.row, read.severity) == (16, "warning")
    assert "<1.5" in read.message


def test_a_sample_on_the_plate_without_an_accession_is_named(
    technician: StaffMember, clinician: StaffMember, cuddy: StaffMember, reference_data: None
) -> None:
    manifest = b"\n".join(
        line
        for line in (FIXTURES / "manifest.csv").read_bytes().splitlines()
        if not line.startswith(b"LP-24-0003")
    )

    job = run(technician, (FIXTURES / "luminex_xponent.csv").read_bytes(), "p.csv", manifest)

    problem = job.problems.get(code="sample_not_in_manifest")
    assert "LP-24-0003" in problem.message
    assert problem.row is not None


def test_an_instrument_export_without_a_manifest_is_refused_with_the_reason(
    technician: StaffMember, clinician: StaffMember, reference_data: None
) -> None:
    job = run(technician, (FIXTURES / "luminex_xponent.csv").read_bytes(), "p.csv")

    assert job.status == ImportStatus.REJECTED
    assert job.problems.filter(code="manifest_missing").exists()


def test_msd_values_take_the_unit_declared_at_upload(
    technician: StaffMember, clinician: StaffMember, cuddy: StaffMember, reference_data: None
) -> None:
    content = (FIXTURES / "msd_workbench.csv").read_bytes()
    manifest = (FIXTURES / "manifest.csv").read_bytes()

    without = run(technician, content, "msd.csv", manifest)
    declared = run(technician, content + b"\n", "msd-2.csv", manifest, default_unit="pg/mL")

    assert {code for _, _, code in errors(without)} >= {"unit_missing"}
    assert "unit_missing" not in {code for _, _, code in errors(declared)}
    assert (11, "Calc. Concentration", "extrapolated") in errors(declared)


def test_a_column_the_catalogue_does_not_know_is_matched_by_the_labs_bead_region(
    technician: StaffMember, clinician: StaffMember, cuddy: StaffMember, reference_data: None
) -> None:
    content = (
        (FIXTURES / "luminex_xponent.csv")
        .read_bytes()
        .replace(b"1020.36,NaN", b"1020.36,4.2")
        .replace(b"IL-6 (27)", b"Analyte A (27)")
    )
    manifest = (FIXTURES / "manifest.csv").read_bytes()

    unmapped = run(technician, content, "plate.csv", manifest)
    BeadRegion.objects.create(
        lab=technician.lab,
        region="27",
        analyte=Analyte.objects.get(code="IL6"),
        created_by=technician.user,
    )
    mapped = run(technician, content + b"\n", "plate-2.csv", manifest)

    unknown = unmapped.problems.filter(code="unknown_analyte").first()
    assert unknown is not None
    assert "bead region 27 is not mapped" in unknown.message
    assert mapped.status == ImportStatus.PREVIEW, errors(mapped)


def test_a_bead_region_mapped_to_another_analyte_than_the_column_says_is_an_error(
    technician: StaffMember, clinician: StaffMember, cuddy: StaffMember, reference_data: None
) -> None:
    BeadRegion.objects.create(
        lab=technician.lab,
        region="27",
        analyte=Analyte.objects.get(code="TNFA"),
        created_by=technician.user,
    )

    job = run(
        technician,
        (FIXTURES / "luminex_xponent.csv").read_bytes(),
        "plate.csv",
        (FIXTURES / "manifest.csv").read_bytes(),
    )

    assert "bead_region_conflict" in {code for _, _, code in errors(job)}
