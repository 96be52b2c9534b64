"""report_render / report_request: claim, idempotency, failure classification, the PDF API."""

from __future__ import annotations

import io
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.db import OperationalError
from pypdf import PdfReader
from rest_framework.test import APIClient

from reports.models import Report, ReportStatus
from reports.rendering import RenderError
from reports.services import ReportStorageUnavailable, report_render
from reports.tasks import render_report_pdf_task

pytestmark = pytest.mark.django_db


def test_render_makes_the_report_ready_with_a_stored_pdf_and_checksum(report: Report) -> None:
    report_render(report_id=report.pk)

    report.refresh_from_db()
    assert report.status == ReportStatus.READY
    assert report.attempts == 1
    assert report.pdf.name == f"reports/{report.uuid}/{report.checksum}.pdf"
    assert default_storage.open(report.pdf.name).read().startswith(b"%PDF-")


def test_rendering_twice_yields_one_report(report: Report) -> None:
    report_render(report_id=report.pk)
    report.refresh_from_db()
    first = (report.pdf.name, report.checksum, report.rendered_at)

    report_render(report_id=report.pk)

    report.refresh_from_db()
    assert (report.pdf.name, report.checksum, report.rendered_at) == first
    assert report.attempts == 1
    assert Report.objects.count() == 1


def test_transient_storage_failure_hands_the_report_back_for_a_retry(report: Report) -> None:
    with (
        mock.patch.object(default_storage, "save", side_effect=OSError("disk unavailable")),
        pytest.raises(ReportStorageUnavailable),
    ):
        report_render(report_id=report.pk)

    report.refresh_from_db()
    assert report.status == ReportStatus.PENDING
    report_render(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.READY
    assert report.attempts == 2


def test_terminal_render_error_marks_the_report_failed_with_a_reason(report: Report) -> None:
    with mock.patch("reports.services.render_pdf", side_effect=RenderError("font file missing")):
        report_render(report_id=report.pk)

    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED
    assert report.error_message == "The PDF could not be drawn: font file missing"


def test_task_retries_transient_errors_only() -> None:
    assert render_report_pdf_task.autoretry_for == (  # type: ignore[attr-defined]
        ReportStorageUnavailable,
        OperationalError,
    )
    assert render_report_pdf_task.max_retries == 5
    assert render_report_pdf_task.acks_late is True
    assert render_report_pdf_task.name == "reports.render_report_pdf"


def test_task_failure_hook_marks_the_report_failed(report: Report) -> None:
    render_report_pdf_task.on_failure(
        ReportStorageUnavailable("still down"), "task-id", (report.pk,), {}, None
    )

    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED
    assert report.error_message == (
        "The report could not be stored after several attempts; it can be retried."
    )


def test_report_api_shows_status_then_serves_the_pdf(
    technician_client: APIClient, report: Report
) -> None:
    pending = technician_client.get(f"/api/v1/reports/{report.pk}/")
    not_ready = technician_client.get(f"/api/v1/reports/{report.pk}/pdf/")
    report_render(report_id=report.pk)
    ready = technician_client.get(f"/api/v1/reports/{report.pk}/")
    pdf = technician_client.get(f"/api/v1/reports/{report.pk}/pdf/")

    assert pending.json()["status"] == "pending"
    assert pending.json()["pdf_url"] is None
    assert not_ready.status_code == 409
    assert not_ready.json()["code"] == "not_ready"
    assert ready.json()["status"] == "ready"
    assert ready.json()["pdf_url"] == f"http://testserver/api/v1/reports/{report.pk}/pdf/"
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    content = b"".join(pdf.streaming_content)  # type: ignore[attr-defined]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert "Doe, Jane" in text
    assert "MRN-77" in text
    assert "TNF-α" in text
    assert "<2.0" in text


def test_a_report_being_drawn_reads_as_pending(
    technician_client: APIClient, report: Report
) -> None:
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.RENDERING)

    response = technician_client.get(f"/api/v1/reports/{report.pk}/")

    assert response.json()["status"] == "pending"
