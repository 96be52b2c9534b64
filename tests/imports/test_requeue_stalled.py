"""Import jobs left validating or committing (message or worker lost) are sent again, a bounded
number of times, then rejected saying why; never left hanging."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from panels.intake.imports.dispatch import import_jobs_stalled_requeue
from panels.intake.imports.validate import import_job_validate
from panels.models import ImportJob, ImportStatus
from tests.imports.test_import_jobs import LONG_CSV, upload

pytestmark = pytest.mark.django_db


def _stalled(job: ImportJob) -> None:
    long_ago = timezone.now() - settings.IMPORT_REQUEUE_AFTER - timedelta(seconds=1)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=long_ago)


def test_a_job_left_validating_is_sent_again_then_given_up_with_a_reason(
    technician_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    job = ImportJob.objects.get(uuid=upload(technician_client, LONG_CSV).json()["id"])
    assert import_jobs_stalled_requeue() == []  # just uploaded: its task may be running

    for attempt in range(1, settings.IMPORT_MAX_REQUEUES + 1):
        _stalled(job)
        with django_capture_on_commit_callbacks() as sent:
            assert import_jobs_stalled_requeue() == [job.pk]
        assert len(sent) == 1
        job.refresh_from_db()
        assert (job.status, job.requeued) == (ImportStatus.VALIDATING, attempt)

    _stalled(job)
    assert import_jobs_stalled_requeue() == []
    job.refresh_from_db()
    assert job.status == ImportStatus.REJECTED
    assert "nothing was stored" in job.status_message


def test_a_job_sent_again_is_validated_once_and_settled_jobs_are_left_alone(
    technician_client: APIClient,
) -> None:
    job = ImportJob.objects.get(uuid=upload(technician_client, LONG_CSV).json()["id"])
    _stalled(job)
    import_jobs_stalled_requeue()
    import_job_validate(job_id=job.pk)  # the task sent again
    import_job_validate(job_id=job.pk)  # and the original message, arriving late: a no-op
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW

    _stalled(job)
    assert import_jobs_stalled_requeue() == []
