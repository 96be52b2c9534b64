"""The technicians' import page: log in, upload, read the preview, commit or abandon — the same
services as the API, in server-rendered HTML (Django's test client, real PostgreSQL)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from labpanel.accounts.models import StaffMember
from panels.intake.imports.commit import import_job_commit
from panels.intake.imports.validate import import_job_validate
from panels.models import ImportJob, ImportStatus, Panel
from tests.imports.test_import_jobs import HEADER, LONG_CSV, PATIENT_1

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(reference_data: None, technician: StaffMember, clinician: StaffMember) -> Client:
    client = Client()
    client.force_login(technician.user)
    return client


def _upload(browser: Client, content: str) -> ImportJob:
    response = browser.post(
        "/imports/", {"file": SimpleUploadedFile("run.csv", content.encode(), "text/csv")}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.get()
    assert response["Location"] == f"/imports/{job.uuid}/"
    return job


def test_login_is_required_and_leads_back_to_the_page(
    reference_data: None, technician: StaffMember
) -> None:
    client = Client()
    assert client.get("/").status_code == 302
    response = client.get("/imports/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/imports/"
    technician.user.set_password("a-long-password-1")
    technician.user.save()
    logged_in = client.post(
        "/login/?next=/imports/",
        {"username": "tech", "password": "a-long-password-1", "next": "/imports/"},
    )
    assert logged_in["Location"] == "/imports/"
    assert "Import results from a file" in client.get("/imports/").content.decode()


def test_upload_preview_and_commit_from_the_page(browser: Client) -> None:
    job = _upload(browser, LONG_CSV)
    page = browser.get(f"/imports/{job.uuid}/").content.decode()
    assert "Validating" in page
    assert 'http-equiv="refresh"' in page  # follows the job until it is checked

    import_job_validate(job_id=job.pk)  # what the worker does
    page = browser.get(f"/imports/{job.uuid}/").content.decode()
    assert "Preview ready" in page
    assert 'http-equiv="refresh"' not in page
    assert "Preview: panels 1–2 of 2" in page
    assert "I-1 — Doe, Jane (MRN MRN-I1, new patient)" in page
    assert "&lt;2.0" in page
    assert "&gt;5000" in page
    assert "Commit 2 panel(s)" in page
    assert Panel.objects.count() == 0

    response = browser.post(f"/imports/{job.uuid}/commit/")
    assert response.status_code == 302
    import_job_commit(job_id=job.pk)
    page = browser.get(f"/imports/{job.uuid}/").content.decode()
    assert "Committed" in page
    assert "Commit 2 panel(s)" not in page
    assert "Abandon" not in page
    assert Panel.objects.count() == 2


def test_problems_are_listed_by_row_and_column_and_there_is_no_commit(browser: Client) -> None:
    bad = "\n".join([HEADER, f"{PATIENT_1},IL-6,12,4x,pg/mL", f"{PATIENT_1},NOPE-1,3.0,pg/mL", ""])
    job = _upload(browser, bad)
    import_job_validate(job_id=job.pk)

    page = browser.get(f"/imports/{job.uuid}/").content.decode()
    assert "Rejected" in page
    assert "NOPE-1" in page
    assert "unknown_analyte" in page
    assert "<td>3</td>" in page  # the row of the unknown analyte
    assert "Commit" not in page
    assert browser.post(f"/imports/{job.uuid}/commit/").status_code == 302
    assert ImportJob.objects.get().status == ImportStatus.REJECTED  # refused, with a message
    assert "only a preview without errors" in browser.get(f"/imports/{job.uuid}/").content.decode()


def test_abandon_from_the_page(browser: Client) -> None:
    job = _upload(browser, LONG_CSV)
    import_job_validate(job_id=job.pk)

    browser.post(f"/imports/{job.uuid}/abandon/")

    assert ImportJob.objects.get().status == ImportStatus.ABANDONED
    assert (
        "nothing from this file was stored" in browser.get(f"/imports/{job.uuid}/").content.decode()
    )


def test_what_a_file_says_is_shown_as_text_never_as_markup(browser: Client) -> None:
    hostile = PATIENT_1.replace("Doe,Jane", "<script>alert(1)</script>,=cmd|' /C calc'!A0")
    job = _upload(browser, "\n".join([HEADER, f"{hostile},IL-6,12.4,pg/mL", ""]))
    import_job_validate(job_id=job.pk)

    page = browser.get(f"/imports/{job.uuid}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_only_technicians_and_directors_of_the_lab_see_the_page(
    browser: Client, clinician: StaffMember
) -> None:
    job = _upload(browser, LONG_CSV)
    other = Client()
    other.force_login(clinician.user)

    assert other.get("/imports/").status_code == 403
    assert other.get(f"/imports/{job.uuid}/").status_code == 403
    assert other.post(f"/imports/{job.uuid}/commit/").status_code == 403
    assert browser.get("/imports/00000000-0000-0000-0000-000000000000/").status_code == 404
