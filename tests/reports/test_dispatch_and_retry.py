"""Issue 9: a broker that is down never fails an answer once the data is stored, the unsent
message is recorded and re-sent by the next sweep; failed reports are retried — transient ones
automatically with backoff, any failed one by a director (API and admin) — and a released report
never changes.

The dead broker is real: the Celery app is pointed at a port where nothing listens.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from labpanel.accounts.models import Role, StaffMember
from labpanel.celery import app, queue_depth
from panels.intake.imports.commit import import_job_commit
from panels.intake.imports.services import import_job_commit_request
from panels.intake.imports.tasks import requeue_stalled_imports_task
from panels.models import ImportJob, ImportStatus, Panel
from reports.models import FailureKind, Report, ReportStatus
from reports.rendering import RenderError
from reports.services import (
    ReportStorageUnavailable,
    report_mark_failed,
    report_render,
    report_retry_backoff,
    reports_stalled_requeue,
)
from reports.tasks import render_report_pdf_task
from tests.broker import celery_broker, dead_broker_url
from tests.conftest import token_client
from tests.factories import make_lab, make_staff, make_user
from tests.imports.test_import_jobs import LONG_CSV, upload, validated
from tests.messaging.test_hl7_http import oru, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down() -> Iterator[None]:
    with celery_broker(dead_broker_url()):
        yield


@pytest.fixture
def queue_emptied() -> Iterator[None]:
    """Messages these tests really send to this run's queue are removed afterwards."""
    yield
    with app.connection_for_write() as connection:
        channel: Any = connection.default_channel
        channel.queue_purge(app.conf.task_default_queue)


def _failed(report: Report, kind: FailureKind) -> Report:
    report_mark_failed(report_id=report.pk, reason="The report could not be stored.", kind=kind)
    report.refresh_from_db()
    return report


# --- 1. the broker is down: every answer says what was stored --------------------------------


def test_a_panel_posted_while_the_broker_is_down_is_answered_201_and_its_report_marked_unsent(
    broker_down: None,
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = technician_client.post("/api/v1/panels/", panel_payload, format="json")

    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    assert response.json()["report"]["status"] == "pending"
    report = Report.objects.get(pk=response.json()["report"]["id"])
    assert report.status == ReportStatus.PENDING
    assert report.dispatch_failed_at is not None
    assert Panel.objects.filter(accession="A-1001").count() == 1


def test_hl7_over_http_is_answered_aa_while_the_broker_is_down(
    broker_down: None,
    reference_data: None,
    integrator: StaffMember,
    clinician: StaffMember,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response, ack = post(token_client(integrator), oru())

    assert response.status_code == 200
    assert ack.segment("MSA")[1][0] == "AA"
    report = Report.objects.get(panel__accession="H-1")
    assert (report.status, report.dispatch_failed_at is not None) == (ReportStatus.PENDING, True)


def test_an_amendment_while_the_broker_is_down_succeeds_and_its_report_is_marked_unsent(
    broker_down: None,
    technician_client: APIClient,
    report: Report,
    django_capture_on_commit_callbacks: Any,
) -> None:
    report_render(report_id=report.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = technician_client.post(
            f"/api/v1/panels/{report.panel_id}/amendments/",
            {
                "reason": "transcription error",
                "results": [{"analyte": "IL-6", "value": "14.2", "unit": "pg/mL"}],
            },
            format="json",
        )

    assert response.status_code == 201, response.content
    amended = Report.objects.get(amends=report)
    assert (amended.status, amended.dispatch_failed_at is not None) == (ReportStatus.PENDING, True)


def test_an_import_while_the_broker_is_down_is_accepted_and_sent_again_by_the_next_sweep(
    technician_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    queue_emptied: None,
) -> None:
    # given an upload and a commit request answered while the broker is down
    with celery_broker(dead_broker_url()), django_capture_on_commit_callbacks(execute=True):
        response = upload(technician_client, LONG_CSV)
    assert response.status_code == 202, response.content
    job = ImportJob.objects.get(uuid=response.json()["id"])
    assert (job.status, job.dispatch_failed_at is not None) == (ImportStatus.VALIDATING, True)

    # when the broker is back, the next sweep (not 35 minutes later) sends it, uncounted
    before = queue_depth()
    assert before is not None
    with django_capture_on_commit_callbacks(execute=True):
        requeue_stalled_imports_task()
    job.refresh_from_db()
    assert (job.dispatch_failed_at, job.requeued) == (None, 0)
    assert queue_depth() == before + 1
    with django_capture_on_commit_callbacks(execute=True):
        requeue_stalled_imports_task()  # sent: nothing more until IMPORT_REQUEUE_AFTER
    assert queue_depth() == before + 1


def test_an_import_committed_while_the_broker_is_down_marks_its_reports_unsent(
    technician_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    job = validated(upload(technician_client, LONG_CSV))

    with celery_broker(dead_broker_url()):
        with django_capture_on_commit_callbacks(execute=True):
            import_job_commit_request(job=job, user=job.created_by)
        job.refresh_from_db()
        assert (job.status, job.dispatch_failed_at is not None) == (ImportStatus.COMMITTING, True)
        with django_capture_on_commit_callbacks(execute=True):
            import_job_commit(job_id=job.pk)  # what the sweep's re-sent message makes a worker do

    job.refresh_from_db()
    assert job.status == ImportStatus.COMMITTED
    reports = Report.objects.filter(panel__imported_from__job=job)
    assert reports.count() == 2
    assert all(r.dispatch_failed_at is not None for r in reports)
    assert {r.status for r in reports} == {ReportStatus.PENDING}


def test_publishing_to_a_dead_broker_gives_up_within_the_bounded_retry_policy() -> None:
    policy = settings.CELERY_TASK_PUBLISH_RETRY_POLICY
    assert app.conf.task_publish_retry_policy == policy
    assert policy["max_retries"] * policy["interval_max"] <= 1
    assert app.conf.broker_connection_timeout == 2
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS == {
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }


# --- 2. the next sweep sends what could not be sent ---------------------------------------------


def test_the_next_sweep_sends_an_unsent_report_whatever_its_age_or_the_queue_depth(
    report: Report, django_capture_on_commit_callbacks: Any, queue_emptied: None
) -> None:
    Report.objects.filter(pk=report.pk).update(dispatch_failed_at=timezone.now())
    before = queue_depth()
    assert before is not None

    with django_capture_on_commit_callbacks(execute=True):
        assert reports_stalled_requeue(waiting=40) == [report.pk]

    report.refresh_from_db()
    assert report.dispatch_failed_at is None
    assert queue_depth() == before + 1
    with django_capture_on_commit_callbacks(execute=True):
        assert reports_stalled_requeue(waiting=40) == []


def test_a_sweep_while_the_broker_is_still_down_keeps_the_report_marked_unsent(
    report: Report, broker_down: None, django_capture_on_commit_callbacks: Any
) -> None:
    Report.objects.filter(pk=report.pk).update(dispatch_failed_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        assert reports_stalled_requeue(waiting=None) == [report.pk]

    report.refresh_from_db()
    assert report.dispatch_failed_at is not None
    assert report.status == ReportStatus.PENDING


def test_a_task_retry_the_broker_refuses_marks_the_report_unsent(
    report: Report, broker_down: None
) -> None:
    # the render handed the report back and asks for a retry; the broker is gone meanwhile
    render_report_pdf_task.push_request(
        args=[report.pk], kwargs={}, id="t-1", retries=0, called_directly=False
    )
    try:
        with pytest.raises(Exception, match="Error 111") as raised:
            render_report_pdf_task.retry(exc=ReportStorageUnavailable("disk full"), countdown=0)
    finally:
        render_report_pdf_task.pop_request()
    assert type(raised.value).__name__ == "Reject"
    report.refresh_from_db()
    assert report.dispatch_failed_at is not None


# --- 3. failed reports ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("_case", "error", "kind"),
    [
        ("storage full", ReportStorageUnavailable("No space left on device"), "transient"),
        ("database lost", OperationalError("server closed the connection"), "transient"),
        ("bad data", RenderError("unknown analyte"), "permanent"),
        ("a bug", KeyError("x"), "permanent"),
    ],
)
def test_a_task_that_fails_for_good_records_the_kind_of_failure(
    report: Report, _case: str, error: BaseException, kind: str
) -> None:
    before = timezone.now()

    render_report_pdf_task.on_failure(error, "task-id", (report.pk,), {}, None)

    report.refresh_from_db()
    assert (report.status, report.failure_kind) == (ReportStatus.FAILED, kind)
    assert report.error_message
    if kind == "transient":
        assert report.next_retry_at is not None
        assert before + settings.REPORT_AUTO_RETRY_BACKOFF <= report.next_retry_at
        assert report.next_retry_at <= timezone.now() + settings.REPORT_AUTO_RETRY_BACKOFF
    else:
        assert report.next_retry_at is None


def test_a_render_error_is_permanent_and_never_retried_by_the_sweep(report: Report) -> None:
    report = _failed(report, FailureKind.PERMANENT)

    later = timezone.now() + timedelta(days=30)
    assert reports_stalled_requeue(waiting=0, now=later) == []
    report.refresh_from_db()
    assert (report.status, report.next_retry_at) == (ReportStatus.FAILED, None)


def test_a_transient_failure_is_retried_when_due_with_doubling_backoff_up_to_the_limit(
    report: Report, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.REPORT_AUTO_RETRY_LIMIT = 3
    settings.REPORT_AUTO_RETRY_BACKOFF = timedelta(minutes=1)
    settings.REPORT_AUTO_RETRY_BACKOFF_MAX = timedelta(minutes=3)
    waits = []
    for retry in range(3):
        report = _failed(report, FailureKind.TRANSIENT)
        assert report.auto_retries == retry
        assert report.next_retry_at is not None
        waits.append(report.next_retry_at - report.updated_at)
        # not before it is due
        early = report.next_retry_at - timedelta(seconds=1)
        assert reports_stalled_requeue(waiting=0, now=early) == []
        with django_capture_on_commit_callbacks() as sent:
            assert reports_stalled_requeue(waiting=0, now=report.next_retry_at) == [report.pk]
        assert len(sent) == 1
        report = Report.objects.get(pk=report.pk)
        assert report.status == ReportStatus.PENDING
        assert (report.failure_kind, report.error_message, report.next_retry_at) == ("", "", None)

    assert [round(wait.total_seconds()) for wait in waits] == [60, 120, 180]  # capped at 3 min
    report = _failed(report, FailureKind.TRANSIENT)
    assert (report.auto_retries, report.next_retry_at) == (3, None)  # limit reached
    assert reports_stalled_requeue(waiting=0, now=timezone.now() + timedelta(days=1)) == []


def test_the_backoff_doubles_from_the_base_and_is_capped(settings: Any) -> None:
    settings.REPORT_AUTO_RETRY_BACKOFF = timedelta(minutes=1)
    settings.REPORT_AUTO_RETRY_BACKOFF_MAX = timedelta(minutes=10)
    assert [report_retry_backoff(auto_retries=n).total_seconds() for n in range(6)] == [
        60,
        120,
        240,
        480,
        600,
        600,
    ]


def test_a_released_report_never_changes(report: Report) -> None:
    report_render(report_id=report.pk)
    report.refresh_from_db()
    released = (report.status, report.pdf.name, report.checksum, report.rendered_at)

    report_mark_failed(report_id=report.pk, reason="late failure", kind=FailureKind.TRANSIENT)
    assert reports_stalled_requeue(waiting=0, now=timezone.now() + timedelta(days=1)) == []
    # and the database refuses any change of it, whoever asks (reports migration 0012)
    with pytest.raises(IntegrityError, match="is ready"), transaction.atomic():
        Report.objects.filter(pk=report.pk).update(updated_at=timezone.now() - timedelta(days=1))
    with (
        pytest.raises(IntegrityError, match="is ready"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM reports_report WHERE id = %s", [report.pk])

    report.refresh_from_db()
    assert (report.status, report.pdf.name, report.checksum, report.rendered_at) == released
    assert (report.failure_kind, report.error_message) == ("", "")


# --- the director's retry: API ----------------------------------------------------------------


@pytest.fixture
def director_client(director: StaffMember) -> APIClient:
    return token_client(director)


def test_the_api_shows_why_a_report_failed(report: Report, director_client: APIClient) -> None:
    report = _failed(report, FailureKind.TRANSIENT)

    body = director_client.get(f"/api/v1/reports/{report.pk}/").json()
    assert report.next_retry_at is not None

    assert body["status"] == "failed"
    assert body["error_message"] == "The report could not be stored."
    assert body["failure_kind"] == "transient"
    assert body["attempts"] == 0
    assert body["auto_retries"] == 0
    assert body["next_retry_at"] == report.next_retry_at.isoformat().replace("+00:00", "Z")


def test_a_director_retries_a_failed_report_and_it_is_enqueued(
    report: Report, director_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    report = _failed(report, FailureKind.PERMANENT)

    with django_capture_on_commit_callbacks() as sent:
        response = director_client.post(f"/api/v1/reports/{report.pk}/retry/")

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["error_message"], body["failure_kind"]) == ("pending", None, None)
    assert len(sent) == 1
    report_render(report_id=report.pk)  # what the worker does with the message
    report.refresh_from_db()
    assert report.status == ReportStatus.READY


@pytest.mark.parametrize("status", [ReportStatus.PENDING, ReportStatus.READY])
def test_retrying_a_report_that_is_not_failed_is_a_conflict(
    report: Report,
    director_client: APIClient,
    status: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    if status == ReportStatus.READY:
        report_render(report_id=report.pk)
    before = Report.objects.values().get(pk=report.pk)

    with django_capture_on_commit_callbacks() as sent:
        response = director_client.post(f"/api/v1/reports/{report.pk}/retry/")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert sent == []
    assert Report.objects.values().get(pk=report.pk) == before


def test_only_a_director_who_sees_the_report_may_retry_it(
    report: Report,
    technician: StaffMember,
    clinician: StaffMember,
    other_clinician: StaffMember,
    django_capture_on_commit_callbacks: Any,
) -> None:
    report = _failed(report, FailureKind.PERMANENT)
    clinician.lab.preliminary_reports_to_clinicians = True  # so that the clinician sees it
    clinician.lab.save()
    other_lab_director = make_staff(
        username="director.elsewhere", lab=make_lab(name="Elsewhere"), role=Role.DIRECTOR
    )
    url = f"/api/v1/reports/{report.pk}/retry/"

    with django_capture_on_commit_callbacks() as sent:
        assert token_client(technician).post(url).status_code == 403
        assert token_client(clinician).post(url).status_code == 403  # sees it: ordered it
        assert token_client(other_clinician).post(url).status_code == 404
        assert token_client(other_lab_director).post(url).status_code == 404
        assert APIClient().post(url).status_code == 401

    assert sent == []
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED


# --- the director's retry: admin --------------------------------------------------------------


def test_the_admin_action_retries_failed_reports_and_leaves_the_others(
    report: Report,
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    failed = _failed(report, FailureKind.TRANSIENT)
    other = technician_client.post(
        "/api/v1/panels/", {**panel_payload, "accession": "A-2"}, format="json"
    ).json()["report"]["id"]
    report_render(report_id=other)
    admin = make_user("admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = APIClient()
    client.force_login(admin)

    with django_capture_on_commit_callbacks() as sent:
        response = client.post(
            "/admin/reports/report/",
            {"action": "retry_rendering", "_selected_action": [failed.pk, other]},
            follow=True,
        )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Rendering requested again for 1 report(s)." in page
    assert f"report {other} is ready; only a failed report can be retried" in page
    assert len(sent) == 1
    failed.refresh_from_db()
    assert (failed.status, failed.next_retry_at) == (ReportStatus.PENDING, None)
    assert Report.objects.get(pk=other).status == ReportStatus.READY
