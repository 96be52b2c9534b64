"""Sending an import job's Celery tasks, and sending them again.

``job_task_enqueue`` sends a job's validate or commit task once the transaction commits (a broker
that is down is recorded on the job, never an error for the caller); ``import_jobs_stalled_requeue``
sends again what was lost or never sent; ``reports_request_send`` asks for the committed
import's reports (reports enqueues them: ``reports.bulk``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from panels.documents import panel_documents_write, panels_without_documents
from panels.models import (
    ImportJob,
    ImportStatus,
)
from reports.bulk import import_pending_report_ids, import_reports_enqueue
from reports.services import BROKER_ERRORS, report_dispatch_failed_record

logger = logging.getLogger(__name__)

IMPORT_DOCUMENTS_BATCH = 200
"""Panels whose stored documents one transaction writes after an import."""


def job_task_enqueue(task_name: str, job_id: int) -> None:
    """Send the job's task once the transaction commits. The job is stored either way, so a
    broker that is down never fails the caller: the job stays in its state, is recorded
    (``dispatch_failed_at``) and logged, and the next sweep sends its task again."""
    transaction.on_commit(partial(_task_send, task_name, job_id))


def _task_send(task_name: str, job_id: int) -> None:
    from panels.intake.imports.tasks import commit_import_task, validate_import_task

    task = {
        "panels.validate_import": validate_import_task,
        "panels.commit_import": commit_import_task,
    }[task_name]
    try:
        task.delay(job_id)
    except BROKER_ERRORS as error:
        logger.warning(
            "import.dispatch.failed job_id=%s task=%s error=%s",
            job_id,
            task_name,
            type(error).__name__,
        )
        try:
            ImportJob.objects.filter(pk=job_id).update(dispatch_failed_at=timezone.now())
        except DatabaseError:
            logger.error("import.dispatch.record_failed job_id=%s", job_id)


def import_jobs_stalled_requeue(*, now: datetime | None = None) -> list[int]:
    """Send again the task of jobs left validating or committing for ``IMPORT_REQUEUE_AFTER``
    (longer than an import task may run: its message or its worker was lost), and at once the
    task of jobs whose message could not be sent (``dispatch_failed_at``: the broker was down;
    this does not count towards ``IMPORT_MAX_REQUEUES``). A commit in progress holds the job's
    row lock and is skipped; a job whose task was already sent again ``IMPORT_MAX_REQUEUES``
    times is rejected saying so, never left hanging. Running a job's task twice is harmless:
    each step acts only on the status it expects. Returns the ids."""
    now = now or timezone.now()
    requeued: list[int] = []
    with transaction.atomic():
        stalled = ImportJob.objects.select_for_update(skip_locked=True).filter(
            Q(updated_at__lt=now - settings.IMPORT_REQUEUE_AFTER)
            | Q(dispatch_failed_at__isnull=False),
            status__in=(ImportStatus.VALIDATING, ImportStatus.COMMITTING),
        )
        for job in stalled:
            unsent = job.dispatch_failed_at is not None
            if not unsent and job.requeued >= settings.IMPORT_MAX_REQUEUES:
                job.status = ImportStatus.REJECTED
                job.status_message = (
                    f"processing stopped {job.requeued + 1} times without finishing (the worker "
                    "was lost); nothing was stored — check the worker's memory and logs, then "
                    "upload the file again"
                )
                job.save(update_fields=["status", "status_message", "updated_at"])
                logger.error("import.given_up job_id=%s requeued=%d", job.pk, job.requeued)
                continue
            if not unsent:
                job.requeued += 1
            job.dispatch_failed_at = None
            job.save(update_fields=["requeued", "dispatch_failed_at", "updated_at"])
            task = (
                "panels.validate_import"
                if job.status == ImportStatus.VALIDATING
                else "panels.commit_import"
            )
            job_task_enqueue(task, job.pk)
            requeued.append(job.pk)
    if requeued:
        logger.warning("import.requeued job_ids=%s", requeued)
    return requeued


def reports_request_send(job_id: int) -> None:
    """Ask a worker to enqueue the committed import's reports; if the broker is down, record
    every pending report as unsent instead (the reports sweep sends them)."""
    from panels.intake.imports.tasks import request_import_reports_task

    try:
        request_import_reports_task.delay(job_id)
    except BROKER_ERRORS as error:
        report_dispatch_failed_record(
            report_ids=import_pending_report_ids(job_id=job_id), error=error
        )


def import_reports_request(*, job_id: int) -> int:
    """Enqueue the rendering of every pending report of a committed import's panels, then
    write their stored documents (``panels.documents``; until then the API builds their
    answers from the records): outside the commit, whose speed is the import's."""
    enqueued = import_reports_enqueue(job_id=job_id)
    panel_ids = list(
        panels_without_documents()
        .filter(imported_from__job_id=job_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(panel_ids), IMPORT_DOCUMENTS_BATCH):
        with transaction.atomic():
            panel_documents_write(
                panel_ids=panel_ids[start : start + IMPORT_DOCUMENTS_BATCH], batch=True
            )
    return enqueued
