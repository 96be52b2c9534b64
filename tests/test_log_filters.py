"""Celery's routine lines about the scheduled sweeps and polls are left out of the log; every
other line stays (``labpanel.log_filters.ScheduledTaskLines``, configured in settings)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any, cast

import pytest
from celery.app import trace
from django.conf import settings

from labpanel.log_filters import ScheduledTaskLines

SCHEDULED = "webhooks.dispatch"
OTHER = "reports.render_report_pdf"


def _logging() -> dict[str, Any]:
    return cast(dict[str, Any], settings.LOGGING)


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """What the configured console handler (with its filters, from ``settings.LOGGING``)
    would write, at INFO."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    for name in _logging()["handlers"]["console"]["filters"]:
        handler.addFilter(ScheduledTaskLines(_logging()["filters"][name]["tasks"]))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _celery_lines(task: str) -> None:
    """The three INFO lines Celery writes for one scheduled message, as Celery writes them."""
    context = {"id": "0d1c", "name": task, "runtime": 0.003, "return_value": "None"}
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "entry", task)
    logging.getLogger("celery.worker.strategy").info(
        trace.LOG_RECEIVED, context, extra={"data": context}
    )
    trace.info(trace.LOG_SUCCESS, context)  # celery.app.trace's own helper


def test_every_scheduled_task_is_named_in_the_filter() -> None:
    tasks = set(_logging()["filters"]["scheduled_tasks"]["tasks"])
    schedule = cast(dict[str, dict[str, str]], settings.CELERY_BEAT_SCHEDULE)

    assert tasks == {entry["task"] for entry in schedule.values()}
    assert SCHEDULED in tasks
    assert OTHER not in tasks


def test_a_scheduled_poll_writes_no_line(written: io.StringIO) -> None:
    _celery_lines(SCHEDULED)

    assert written.getvalue() == ""


def test_any_other_task_keeps_its_lines(written: io.StringIO) -> None:
    _celery_lines(OTHER)

    lines = written.getvalue().splitlines()
    assert lines == [
        f"Scheduler: Sending due task entry ({OTHER})",
        f"Task {OTHER}[0d1c] received",
        f"Task {OTHER}[0d1c] succeeded in 0.003s: None",
    ]


def test_a_failing_scheduled_task_is_still_logged(written: io.StringIO) -> None:
    logging.getLogger("celery.app.trace").error(
        "Task %(name)s[%(id)s] raised unexpected: %(exc)s",
        {"name": SCHEDULED, "id": "0d1c", "exc": "OperationalError"},
        extra={"data": {"name": SCHEDULED}},
    )

    assert "raised unexpected: OperationalError" in written.getvalue()


def test_at_debug_level_nothing_is_left_out(written: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.DEBUG)

    _celery_lines(SCHEDULED)

    assert len(written.getvalue().splitlines()) == 3
