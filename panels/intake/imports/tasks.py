"""Celery tasks of the bulk import: thin adapters from import-job ids to services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import InterfaceError, OperationalError

from panels.intake.imports.commit import import_job_commit
from panels.intake.imports.dispatch import import_jobs_stalled_requeue, import_reports_request
from panels.intake.imports.services import import_job_fail
from panels.intake.imports.validate import import_job_validate

# A 200 MB file takes minutes to validate; the default one-minute limit is for reports.
IMPORT_SOFT_TIME_LIMIT = 30 * 60
# A lost database connection (server restarted, backend terminated) rolled the step's
# transaction back whole; each step acts only on the status it expects, so running it again
# is safe. The next attempt reconnects (DjangoTask closes unusable connections around tasks).
DATABASE_LOST = (OperationalError, InterfaceError)
RETRY_POLICY: dict[str, Any] = {
    "autoretry_for": DATABASE_LOST,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


class ImportTask(DjangoTask[Any, Any]):
    """An import that fails for good is rejected with a reason, never left validating."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        job_id = kwargs.get("job_id") if kwargs else None
        if job_id is None and args:
            job_id = args[0]
        if job_id is not None:
            import_job_fail(job_id=int(job_id))


# Validating and committing: long, retried on a lost database, rejected when they fail for good.
IMPORT_STEP: dict[str, Any] = {
    "base": ImportTask,
    "ignore_result": True,
    "soft_time_limit": IMPORT_SOFT_TIME_LIMIT,
    "time_limit": IMPORT_SOFT_TIME_LIMIT + 60,
    **RETRY_POLICY,
}


@shared_task(name="panels.validate_import", **IMPORT_STEP)
def validate_import_task(job_id: int) -> None:
    import_job_validate(job_id=job_id)


@shared_task(name="panels.commit_import", **IMPORT_STEP)
def commit_import_task(job_id: int) -> None:
    import_job_commit(job_id=job_id)


@shared_task(
    name="panels.request_import_reports", base=DjangoTask, ignore_result=True, **RETRY_POLICY
)
def request_import_reports_task(job_id: int) -> None:
    import_reports_request(job_id=job_id)


@shared_task(name="panels.requeue_stalled_imports", base=DjangoTask, ignore_result=True)
def requeue_stalled_imports_task() -> None:
    """Scheduled every minute (settings.CELERY_BEAT_SCHEDULE)."""
    import_jobs_stalled_requeue()
