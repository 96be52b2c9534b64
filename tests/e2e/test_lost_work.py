"""Messages lost between the database and the worker (Redis restarted without persistence, a
worker killed) are recovered by the scheduled sweep, on the real stack: PostgreSQL, Redis and a
Celery worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from labpanel.celery import app, queue_depth
from panels.intake.imports.tasks import requeue_stalled_imports_task
from panels.models import ImportJob, ImportStatus
from reports.models import Report, ReportStatus
from reports.tasks import requeue_stalled_reports_task
from tests.e2e.conftest import WAIT_SECONDS
from tests.imports.test_import_jobs import LONG_CSV, upload


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_report_and_an_import_whose_messages_were_lost_are_recovered(
    reference_data: None,
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201
    job_id = upload(technician_client, LONG_CSV).json()["id"]
    # the messages are lost before any worker took them, as when Redis restarts (it keeps
    # nothing on disk here)
    with app.connection_for_write() as connection:
        channel: Any = connection.default_channel
        assert channel.queue_purge(app.conf.task_default_queue) >= 2
    request.getfixturevalue("celery_worker_on_redis")
    report = Report.objects.get(pk=response.json()["report"]["id"])
    job = ImportJob.objects.get(uuid=job_id)
    time.sleep(1)
    assert queue_depth() == 0
    assert Report.objects.get(pk=report.pk).status == ReportStatus.PENDING
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.VALIDATING

    requeue_stalled_reports_task()  # too early: nothing is sent
    requeue_stalled_imports_task()
    long_ago = timezone.now() - max(settings.REPORT_REQUEUE_AFTER, settings.IMPORT_REQUEUE_AFTER)
    Report.objects.filter(pk=report.pk).update(updated_at=long_ago - timedelta(seconds=1))
    ImportJob.objects.filter(pk=job.pk).update(updated_at=long_ago - timedelta(seconds=1))
    requeue_stalled_reports_task()  # what the beat schedule runs every minute
    requeue_stalled_imports_task()

    _until(lambda: Report.objects.get(pk=report.pk).status == ReportStatus.READY, "the report")
    _until(lambda: ImportJob.objects.get(pk=job.pk).status == ImportStatus.PREVIEW, "the import")
    assert str(Report.objects.get(pk=report.pk).pdf.name).endswith(".pdf")
