"""Celery workers as real processes of their own, for end-to-end tests that stop brokers and kill
workers: each one shares this test's PostgreSQL database, queue and media folder.

``python -m tests.e2e.worker_process`` is the worker whose PDF drawing waits for a file (the
test's release file): ``E2E_RENDER_STARTED`` is created when drawing starts, and drawing goes on
only once ``E2E_RENDER_RELEASE`` exists. The wait is added here, in the test's process, around
the production ``render_pdf``; no production code path knows about it. It makes "killed while
rendering" deterministic: the report is claimed (``rendering``) and nothing is stored yet.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from labpanel.celery import app

BASE_DIR = Path(__file__).resolve().parents[2]


def worker_env(broker_url: str, **extra: str) -> dict[str, str]:
    database = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        ),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": str(app.conf.task_default_queue),
        "LABPANEL_TEST_WORKER_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        **extra,
    }


def worker_arguments() -> list[str]:
    return [
        "worker",
        "--pool",
        "solo",
        "--concurrency",
        "1",
        "--queues",
        str(app.conf.task_default_queue),
        "--hostname",
        f"e2e-{uuid.uuid4().hex[:8]}@%h",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def worker_start(
    broker_url: str, *, blocking: bool = False, env: dict[str, str] | None = None
) -> subprocess.Popen[Any]:
    """``celery -A labpanel worker`` (or the blocking worker) on ``broker_url``; ``env`` adds
    variables."""
    command = (
        [sys.executable, "-m", "tests.e2e.worker_process"]
        if blocking
        else [sys.executable, "-m", "celery", "-A", "labpanel"]
    )
    return subprocess.Popen(
        [*command, *worker_arguments()],
        cwd=BASE_DIR,
        env=worker_env(broker_url, **(env or {})),
        stdout=subprocess.DEVNULL,
        stderr=None,  # the worker's warnings show in the test's output on failure
    )


def _blocking_worker_main() -> None:
    import django

    django.setup()
    import reports.services
    from reports.rendering import ReportDocument, render_pdf

    started = Path(os.environ["E2E_RENDER_STARTED"])
    release = Path(os.environ["E2E_RENDER_RELEASE"])

    def render_pdf_after_release(document: ReportDocument) -> bytes:
        started.touch()
        while not release.exists():
            time.sleep(0.05)
        return render_pdf(document)

    reports.services.render_pdf = render_pdf_after_release  # type: ignore[attr-defined]
    app.worker_main(worker_arguments())


if __name__ == "__main__":
    _blocking_worker_main()
