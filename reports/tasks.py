"""Celery tasks of the reports app: thin adapters from ids to services, with retry policy."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import Reject
from django.db import OperationalError

from labpanel.celery import queue_depth
from reports.models import FailureKind
from reports.services import (
    BROKER_ERRORS,
    ReportStorageUnavailable,
    report_dispatch_failed_record,
    report_mark_failed,
    report_render,
    reports_stalled_requeue,
)

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ReportStorageUnavailable,
    OperationalError,
    *BROKER_ERRORS,
)


def _report_id(args: Any, kwargs: Any) -> int | None:
    report_id = kwargs.get("report_id") if kwargs else None
    if report_id is None and args:
        report_id = args[0]
    return None if report_id is None else int(report_id)


class ReportRenderTask(DjangoTask[Any, Any]):
    """Marks the report failed when the task fails for good (terminal error or retries spent),
    transient or permanent by the error; records a retry the broker did not take."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        report_id = _report_id(args, kwargs)
        if report_id is None:
            return
        if isinstance(exc, TRANSIENT_ERRORS):
            reason = "The report could not be stored after several attempts; it can be retried."
            kind = FailureKind.TRANSIENT
        else:
            reason = f"Internal error while producing the report (logged as report {report_id})."
            kind = FailureKind.PERMANENT
        report_mark_failed(report_id=report_id, reason=reason, kind=kind)

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        # Celery turns a retry the broker refused into Reject(requeue=False): the message is
        # gone and on_failure is not called. The report was handed back (pending), so record
        # the unsent message: the next sweep sends it again.
        try:
            return super().retry(*args, **kwargs)
        except Reject as rejected:
            report_id = _report_id(self.request.args, self.request.kwargs)
            cause = getattr(rejected, "reason", None)  # celery-types does not declare it
            if report_id is not None and isinstance(cause, BROKER_ERRORS):
                report_dispatch_failed_record(report_ids=[report_id], error=cause)
            raise


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
