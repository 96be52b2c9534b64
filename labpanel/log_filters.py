"""Filters of the project's log handlers (``settings.LOGGING``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

# Celery's loggers that write one INFO line per task message: received (the worker's strategy),
# succeeded (the trace) and sent by the scheduler (beat).
_TASK_LINES = frozenset({"celery.worker.strategy", "celery.app.trace"})
_SCHEDULER = "celery.beat"


class ScheduledTaskLines(logging.Filter):
    """Leaves out Celery's routine INFO lines about the scheduled sweeps and polls (``tasks``:
    the task names of ``CELERY_BEAT_SCHEDULE``): "Sending due task", "received" and
    "succeeded", which the webhook poll alone writes every few seconds, for ever, and which say
    nothing an operator acts on. Kept: every line of any other task (a report's rendering), every
    warning and error (a sweep that fails or is retried), the sweeps' own lines when they act
    (``report.requeued`` ...), and everything when the log level is DEBUG."""

    def __init__(self, tasks: Iterable[str] = ()) -> None:
        super().__init__()
        self.tasks = frozenset(tasks)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not self.tasks:
            return True
        if record.name in _TASK_LINES:
            data = getattr(record, "data", None)  # Celery passes the line's fields as extra
            name = data.get("name") if isinstance(data, dict) else None
        elif record.name == _SCHEDULER and isinstance(record.args, tuple) and record.args:
            name = record.args[-1]  # "Scheduler: Sending due task %s (%s)", entry and task
        else:
            return True
        if name not in self.tasks:
            return True
        return logging.getLogger().isEnabledFor(logging.DEBUG)
