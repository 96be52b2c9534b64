"""Issue 12: the ordering clinician is emailed when a report is released (FINAL) or corrected
(CORRECTED): the message is sent after commit by a task taking the report id, carries a link to
the report page and never patient data; a preliminary amendment sends nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import Panel
from reports.models import Report, ReportStage
from reports.notify import report_issued_email_send
from tests.reports.test_release import amend, rendered, verify_and_release

pytestmark = pytest.mark.django_db

PATIENT_DATA = ("Doe", "Jane", "MRN-77", "A-1001", "1980", "12.4")


@pytest.fixture
def panel(
    technician_client: APIClient, reachable_clinician: StaffMember, panel_payload: dict[str, Any]
) -> Panel:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def _sent_report_ids(callbacks: list[Any]) -> list[int]:
    """The report ids of the release emails among on-commit callbacks (functools.partial)."""
    return [
        callback.keywords["report_id"]
        for callback in callbacks
        if getattr(callback, "func", None) is not None
        and callback.func.__module__ == "reports.notify"
    ]


def test_release_emails_the_ordering_clinician_a_link_and_no_patient_data(
    panel: Panel, director: StaffMember, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.LABPANEL_PUBLIC_URL = "https://labpanel.example.org"
    with django_capture_on_commit_callbacks() as callbacks:
        final = verify_and_release(panel, director)

    assert _sent_report_ids(callbacks) == [final.pk]
    assert report_issued_email_send(report_id=final.pk) is True
    [message] = mail.outbox
    assert message.to == ["house@example.org"]
    assert message.subject == "Labpanel: a final report is ready for you"
    assert f"https://labpanel.example.org/reports/{final.pk}/" in message.body
    for fact in PATIENT_DATA:
        assert fact not in f"{message.subject}\n{message.body}"


def test_a_correction_after_release_emails_the_clinician_and_one_before_release_does_not(
    panel: Panel,
    director: StaffMember,
    technician_client: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rendered(panel.reports.get())  # an amendment follows a ready report
    with django_capture_on_commit_callbacks() as before_release:
        assert amend(technician_client, panel, "13.0").status_code == 201
    rendered(Report.objects.get(panel=panel, amends__isnull=False))
    final = rendered(verify_and_release(panel, director))
    with django_capture_on_commit_callbacks() as after_release:
        assert amend(technician_client, panel, "14.0").status_code == 201

    corrected = Report.objects.get(panel=panel, stage=ReportStage.CORRECTED)
    assert _sent_report_ids(before_release) == []
    assert _sent_report_ids(after_release) == [corrected.pk]
    report_issued_email_send(report_id=corrected.pk)
    [message] = mail.outbox
    assert message.subject == "Labpanel: a corrected report is ready for you"
    assert f"/reports/{corrected.pk}/" in message.body
    assert final.pk != corrected.pk


def test_a_clinician_without_an_address_gets_no_email(
    panel: Panel, director: StaffMember, reachable_clinician: StaffMember
) -> None:
    reachable_clinician.user.email = ""
    reachable_clinician.user.save()
    final = verify_and_release(panel, director)

    assert report_issued_email_send(report_id=final.pk) is False
    assert mail.outbox == []
