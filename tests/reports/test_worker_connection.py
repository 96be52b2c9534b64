"""A real worker renders report after report on one PostgreSQL session (issue 14).

Celery's Django fixup closes the database connection around every task unless
``CELERY_DB_REUSE_MAX`` says otherwise, so each report used to open a new PostgreSQL session
(a fork of a backend, authentication, ``SET`` statements). This starts a worker process as
``make worker`` does (prefork, one child) on this test run's queue and database, lets it render
three reports one after the other, and after each one reads ``pg_stat_activity``: the worker
keeps exactly one session, the same backend (pid and start time) for all three. Sessions opened
before the worker started (an earlier test's, still closing) are not the worker's and are left
out.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from reports.models import Report, ReportStatus

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 90

# When the worker was started, by the database's clock.
_STARTED: dict[int, Any] = {}


@pytest.fixture
def worker(transactional_db: None) -> Iterator[subprocess.Popen[bytes]]:
    database = settings.DATABASES["default"]
    url = (
        f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
        f"{database['PORT']}/{database['NAME']}"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": url,
        "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "LABPANEL_TEST_WORKER_MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    command = [sys.executable, "-m", "celery", "-A", "labpanel", "worker", "--concurrency=1"]
    command += ["-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--loglevel=WARNING"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        _STARTED[0] = cursor.fetchone()[0]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _worker_sessions() -> set[tuple[int, Any]]:
    """(pid, backend start) of every client session on this database opened since the worker
    started, but the test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
            "AND backend_start >= %s",
            [_STARTED[0]],
        )
        return set(cursor.fetchall())


def _rendered(report_id: int, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while Report.objects.get(pk=report_id).status != ReportStatus.READY:
        assert worker.poll() is None, "the worker stopped"
        assert time.monotonic() < deadline, f"report {report_id} was not rendered in time"
        time.sleep(0.1)


def test_a_worker_renders_report_after_report_on_one_database_session(
    worker: subprocess.Popen[bytes],
    technician_client: APIClient,
    panel_payload: dict[str, Any],
) -> None:
    sessions: list[set[tuple[int, Any]]] = []
    for number in range(3):
        payload = {**panel_payload, "accession": f"{panel_payload['accession']}-{number}"}
        response = technician_client.post("/api/v1/panels/", payload, format="json")
        assert response.status_code == 201, response.content
        _rendered(response.json()["report"]["id"], worker)
        sessions.append(_worker_sessions())

    assert len(sessions[0]) == 1, sessions[0]
    assert sessions[1] == sessions[0]
    assert sessions[2] == sessions[0]
