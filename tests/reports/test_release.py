"""Release and the report's stage: PRELIMINARY before release (and to clinicians only where the
lab sends them), a new FINAL report on release (the preliminary one kept), CORRECTED after a
post-release amendment with the released report unchanged, a new PRELIMINARY for an amendment
before release.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from django.db import transaction
from pypdf import PdfReader
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, StaffMember
from labpanel.events.models import Event, EventKind
from panels.models import Panel, ReviewState
from reports.models import Report, ReportStage, ReportStatus
from reports.services import report_render
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

MARK = "PRELIMINARY — not verified/released"


def pages(report: Report) -> list[str]:
    report.refresh_from_db()
    assert report.status == ReportStatus.READY, report.error_message
    with report.pdf.open("rb") as handle:
        return [page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages]


def rendered(report: Report) -> Report:
    report_render(report_id=report.pk)
    report.refresh_from_db()
    return report


@pytest.fixture
def panel(technician_client: APIClient, panel_payload: dict[str, Any]) -> Panel:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def verify_and_release(panel: Panel, director: StaffMember) -> Report:
    client = token_client(director)
    assert client.post(f"/api/v1/panels/{panel.pk}/verify/").status_code == 200
    response = client.post(f"/api/v1/panels/{panel.pk}/release/")
    assert response.status_code == 202, response.json()
    return Report.objects.get(pk=response.json()["report"]["id"])


def amend(client: APIClient, panel: Panel, value: str) -> Any:
    return client.post(
        f"/api/v1/panels/{panel.pk}/amendments/",
        {
            "reason": "Transcription error",
            "results": [{"analyte": "IL-6", "value": value, "unit": "pg/mL"}],
        },
        format="json",
    )


def test_before_release_the_report_is_preliminary_on_every_page(panel: Panel) -> None:
    preliminary = rendered(panel.reports.get())

    assert preliminary.stage == ReportStage.PRELIMINARY
    texts = pages(preliminary)
    for text in texts:
        assert text.count(MARK) == 2  # top and foot
    assert "Preliminary report" in texts[0]


def test_release_makes_a_new_final_report_and_keeps_the_preliminary(
    panel: Panel, director: StaffMember, django_capture_on_commit_callbacks: Any
) -> None:
    preliminary = rendered(panel.reports.get())
    preliminary_checksum = preliminary.checksum

    with django_capture_on_commit_callbacks() as callbacks:
        final = verify_and_release(panel, director)

    # the FINAL report's render and the clinician's email, once the release committed
    assert len(callbacks) == 2
    assert final.stage == ReportStage.FINAL
    assert final.status == ReportStatus.PENDING
    assert final.amends_id is None
    text = "\n".join(pages(rendered(final)))
    assert "Final report" in text
    assert "PRELIMINARY" not in text
    preliminary.refresh_from_db()
    assert (preliminary.stage, preliminary.checksum) == ("preliminary", preliminary_checksum)
    panel.refresh_from_db()
    assert panel.review_state == ReviewState.RELEASED


def test_after_release_an_amendment_is_corrected_and_the_final_report_never_changes(
    panel: Panel, technician_client: APIClient, director: StaffMember
) -> None:
    final = rendered(verify_and_release(panel, director))
    final_bytes = final.pdf.open("rb").read()

    response = amend(technician_client, panel, "1.9")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["review_state"] == "released"  # the correction is released as it is issued
    assert body["report"]["stage"] == "corrected"
    assert body["report"]["amends"] == final.pk
    corrected = rendered(Report.objects.get(amends=final))
    text = "\n".join(pages(corrected))
    assert "Corrected report" in text
    assert f"CORRECTED REPORT — replaces report {final.pk}" in text
    assert "PRELIMINARY" not in text
    final.refresh_from_db()
    assert final.pdf.open("rb").read() == final_bytes
    assert hashlib.sha256(final_bytes).hexdigest() == final.checksum
    event = Event.objects.get(kind=EventKind.REPORT_CORRECTED)
    assert (event.report_id, event.panel_id) == (corrected.pk, panel.pk)
    assert event.payload["amends_report_id"] == final.pk
    amended = Event.objects.get(kind=EventKind.PANEL_RESULTS_AMENDED)
    assert amended.payload["report_stage"] == "corrected"


def test_an_amendment_before_release_is_a_new_preliminary_and_withdraws_verification(
    panel: Panel, technician_client: APIClient, director: StaffMember
) -> None:
    preliminary = rendered(panel.reports.get())
    assert token_client(director).post(f"/api/v1/panels/{panel.pk}/verify/").status_code == 200

    response = amend(technician_client, panel, "1.9")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["report"]["stage"] == "preliminary"
    assert body["review_state"] == "received"  # verify the amended results again
    withdrawn = body["review_history"][-1]
    assert (withdrawn["from_state"], withdrawn["to_state"]) == ("verified", "received")
    assert withdrawn["by"] == "tech"
    assert withdrawn["rule"] == "amendment_before_release"
    assert Event.objects.filter(kind=EventKind.PANEL_VERIFICATION_WITHDRAWN).count() == 1
    assert not Event.objects.filter(kind=EventKind.REPORT_CORRECTED).exists()
    amended = rendered(Report.objects.get(amends=preliminary))
    texts = pages(amended)
    assert all(text.count(MARK) == 2 for text in texts)
    assert f"AMENDED PRELIMINARY REPORT — replaces report {preliminary.pk}" in "\n".join(texts)


def _clinician_view(clinician: StaffMember, panel: Panel, report: Report) -> tuple[int, ...]:
    client = token_client(clinician)
    return (
        client.get(f"/api/v1/panels/{panel.pk}/").status_code,
        client.get(f"/api/v1/reports/{report.pk}/").status_code,
        client.get(f"/api/v1/reports/{report.pk}/pdf/").status_code,
        len(client.get("/api/v1/panels/").json()["results"]),
    )


def test_clinicians_see_nothing_before_release_when_the_lab_sends_no_preliminaries(
    panel: Panel, clinician: StaffMember, director: StaffMember
) -> None:
    preliminary = rendered(panel.reports.get())

    assert _clinician_view(clinician, panel, preliminary) == (404, 404, 404, 0)

    final = rendered(verify_and_release(panel, director))
    client = token_client(clinician)
    body = client.get(f"/api/v1/panels/{panel.pk}/").json()
    assert [report["stage"] for report in body["reports"]] == ["final"]
    assert body["report"]["id"] == final.pk
    assert client.get(f"/api/v1/reports/{final.pk}/pdf/").status_code == 200
    assert client.get(f"/api/v1/reports/{preliminary.pk}/").status_code == 404


def test_clinicians_see_preliminaries_where_the_lab_sends_them(
    panel: Panel, lab: Lab, clinician: StaffMember
) -> None:
    lab.preliminary_reports_to_clinicians = True
    lab.save()
    preliminary = rendered(panel.reports.get())

    assert _clinician_view(clinician, panel, preliminary) == (200, 200, 200, 1)
    answer = token_client(clinician).get(f"/api/v1/reports/{preliminary.pk}/").json()
    assert answer["stage"] == "preliminary"


def test_the_lab_sees_every_report_before_release(
    panel: Panel, technician_client: APIClient
) -> None:
    preliminary = rendered(panel.reports.get())

    assert technician_client.get(f"/api/v1/reports/{preliminary.pk}/pdf/").status_code == 200


def test_a_release_whose_transaction_fails_leaves_no_report_transition_or_event(
    panel: Panel, director: StaffMember
) -> None:
    from panels.review import panel_verify
    from reports.release import panel_release

    panel_verify(panel_id=panel.pk, user=director.user)
    written: list[tuple[int, int]] = []

    def release_then_fail() -> None:
        with transaction.atomic():
            final = panel_release(panel_id=panel.pk, user=director.user)
            written.append(
                (
                    Event.objects.filter(kind=EventKind.PANEL_RELEASED, report_id=final.pk).count(),
                    Report.objects.filter(stage=ReportStage.FINAL).count(),
                )
            )
            raise RuntimeError("the caller's transaction fails")

    with pytest.raises(RuntimeError):
        release_then_fail()

    assert written == [(1, 1)]  # written together inside the transaction
    panel.refresh_from_db()
    assert panel.review_state == ReviewState.VERIFIED
    assert not Report.objects.filter(stage=ReportStage.FINAL).exists()
    assert not Event.objects.filter(kind=EventKind.PANEL_RELEASED).exists()
