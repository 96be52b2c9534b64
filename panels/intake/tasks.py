"""Celery autodiscovery imports ``<app>.tasks``: the import tasks live in ``imports/tasks.py``."""

from panels.intake.imports.tasks import (
    commit_import_task,
    request_import_reports_task,
    requeue_stalled_imports_task,
    validate_import_task,
)

__all__ = [
    "commit_import_task",
    "request_import_reports_task",
    "requeue_stalled_imports_task",
    "validate_import_task",
]
