"""Celery tasks of the reports app: thin adapters from ids to services, with retry policy."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import OperationalError

from labpanel.celery import queue_depth
from reports.services import (
    ReportStorageUnavailable,
    report_mark_failed,
    report_render,
    reports_stalled_requeue,
)

logger = logging.getLogger(__name__)


class ReportRenderTask(DjangoTask[Any, Any]):
    """Marks the report failed when the task fails for good (terminal error or retries spent)."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        report_id = kwargs.get("report_id") if kwargs else None
        if report_id is None and args:
            report_id = args[0]
        if report_id is None:
            return
        if isinstance(exc, ReportStorageUnavailable | OperationalError):
            reason = "The report could not be stored after several attempts; it can be retried."
        else:
            reason = f"Internal error while producing the report (logged as report {report_id})."
        report_mark_failed(report_id=int(report_id), reason=reason)


@shared_task(
    name="reports.render_report_pdf",
    base=ReportRenderTask,
    ignore_result=True,
    acks_late=True,  # safe: report_render is idempotent
    autoretry_for=(ReportStorageUnavailable, OperationalError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)
def render_report_pdf_task(report_id: int) -> None:
    report_render(report_id=report_id)


@shared_task(name="reports.requeue_stalled", base=DjangoTask, ignore_result=True)
def requeue_stalled_reports_task() -> None:
    """Scheduled every minute (settings.CELERY_BEAT_SCHEDULE)."""
    reports_stalled_requeue(waiting=queue_depth())
