"""Issue 9 on the real stack: the broker dies while panels arrive, and a worker dies mid-render.

The broker is a Redis server of the test's own (``tests.broker.RedisServer``: a free port, nothing
kept on disk), killed and started again on the same port; the shared Redis is never touched.
Panels go through the live server's HTTP API (or HL7, over HTTP and over MLLP), each with its
``panel.stored`` event written while the broker is down (the outbox needs none); reports are
rendered by Celery worker processes (``tests.e2e.worker_process``); the sweep the beat schedule
runs every minute is called directly (beat needs the broker too, so "the next sweep after the
broker is back" is what production does).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.accounts.services import api_token_issue
from labpanel.celery import queue_depth
from labpanel.events.models import Event, EventKind
from panels.intake.hl7.ack import ack_code_of
from panels.intake.hl7.mllp import MllpClient
from panels.models import Panel
from reports.models import Report, ReportStatus
from reports.services import report_render, reports_stalled_requeue
from reports.tasks import requeue_stalled_reports_task
from tests.broker import RedisServer, celery_broker, free_port
from tests.conftest import EXAMPLE_PANEL
from tests.e2e.conftest import http
from tests.e2e.faults import until
from tests.e2e.launcher import port_wait, process_stop
from tests.e2e.worker_process import BASE_DIR, worker_env, worker_start
from tests.messaging.test_hl7_http import oru

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 40
ER7 = "x-application/hl7-v2+er7"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[Any]]]:
    started: list[subprocess.Popen[Any]] = []
    yield started
    for worker in started:
        process_stop(worker)


def _panel(number: int) -> dict[str, Any]:
    return {
        **EXAMPLE_PANEL,
        "accession": f"OUT-{number:03d}",
        "patient": {**EXAMPLE_PANEL["patient"], "mrn": f"MRN-OUT-{number:03d}"},
    }


def _ready_count() -> int:
    return Report.objects.filter(status=ReportStatus.READY).count()


def test_every_post_is_answered_201_while_redis_is_down_and_every_report_ends_ready(
    live_server: Any,
    reference_data: None,
    technician: StaffMember,
    clinician: StaffMember,
    redis_server: RedisServer,
    workers: list[subprocess.Popen[Any]],
) -> None:
    token = api_token_issue(user=technician.user, expires_in=None)
    redis_server.start()
    with celery_broker(redis_server.url):
        workers.append(worker_start(redis_server.url))
        answers: list[tuple[int, str]] = []
        for number in range(100):
            if number == 30:
                # the first 30 were rendered; then Redis dies (its messages with it)
                until(lambda: _ready_count() == 30, "the first 30 reports", WAIT_SECONDS)
                redis_server.stop()
            status, body, _ = http(
                "POST", f"{live_server.url}/api/v1/panels/", token, _panel(number)
            )
            answers.append((status, json.loads(body)["report"]["status"]))

        # the first 30, sent while Redis was up, may already be drawn when their answer is
        # written (a fast worker); every answer sent while it was down says pending
        assert all(status == 201 for status, _ in answers)
        assert {report for _, report in answers[:30]} <= {"pending", "rendering", "ready"}
        assert [report for _, report in answers[30:]] == ["pending"] * 70
        assert Panel.objects.count() == 100
        unsent = Report.objects.filter(
            status=ReportStatus.PENDING, dispatch_failed_at__isnull=False
        )
        assert unsent.count() == 70
        # the outbox does not depend on the broker: every stored panel has its event
        stored = Event.objects.filter(kind=EventKind.PANEL_STORED)
        assert set(stored.values_list("panel_id", flat=True)) == set(
            Panel.objects.values_list("pk", flat=True)
        )
        assert stored.count() == 100

        redis_server.start()  # same port, empty
        requeue_stalled_reports_task()  # the next sweep beat runs
        until(lambda: _ready_count() == 100, "all 100 reports", WAIT_SECONDS)

    assert Report.objects.filter(dispatch_failed_at__isnull=False).count() == 0
    assert set(Report.objects.values_list("attempts", flat=True)) == {1}
    ready = Event.objects.filter(kind=EventKind.REPORT_READY)
    assert set(ready.values_list("report_id", flat=True)) == set(
        Report.objects.values_list("pk", flat=True)
    )
    assert ready.count() == 100


def test_hl7_over_http_is_answered_aa_while_redis_is_down_and_its_report_follows(
    live_server: Any,
    reference_data: None,
    integrator: StaffMember,
    clinician: StaffMember,
    redis_server: RedisServer,
    workers: list[subprocess.Popen[Any]],
) -> None:
    token = api_token_issue(user=integrator.user, expires_in=None)
    with celery_broker(redis_server.url):  # not started: nothing listens on its port
        status, body, _ = http(
            "POST", f"{live_server.url}/api/v1/hl7/", token, oru().encode(), content_type=ER7
        )
        assert status == 200
        assert ack_code_of(body.decode()) == "AA", body
        report = Report.objects.get(panel__accession="H-1")
        assert (report.status, report.dispatch_failed_at is not None) == ("pending", True)
        event = Event.objects.get(kind=EventKind.PANEL_STORED)
        assert (event.report_id, event.payload["intake"]) == (report.pk, "hl7_http")

        redis_server.start()
        workers.append(worker_start(redis_server.url))
        requeue_stalled_reports_task()
        until(
            lambda: Report.objects.get(pk=report.pk).status == ReportStatus.READY,
            "the report",
            WAIT_SECONDS,
        )


def test_hl7_over_mllp_is_answered_aa_while_redis_is_down(
    reference_data: None, integrator: StaffMember, clinician: StaffMember
) -> None:
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    port = free_port()
    listener = subprocess.Popen(
        [sys.executable, "manage.py", "mllp_listener", "--port", str(port), "--user", "engine"],
        cwd=BASE_DIR,
        env=worker_env(dead_broker),
        stdout=subprocess.DEVNULL,
        stderr=None,
    )
    try:
        port_wait(port, listener, timeout=30)
        with MllpClient("127.0.0.1", port) as client:
            ack = client.send(oru())
    finally:
        process_stop(listener)

    assert ack_code_of(ack) == "AA", ack
    report = Report.objects.get(panel__accession="H-1")
    assert (report.status, report.dispatch_failed_at is not None) == ("pending", True)
    event = Event.objects.get(kind=EventKind.PANEL_STORED)
    assert (event.report_id, event.payload["intake"]) == (report.pk, "hl7_mllp")


def test_a_worker_killed_mid_render_leaves_one_ready_report_with_one_pdf(
    reference_data: None,
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    redis_server: RedisServer,
    workers: list[subprocess.Popen[Any]],
    tmp_path: Path,
    settings: Any,
) -> None:
    # Redis redelivers an unacknowledged message only after its visibility timeout (1 h), so
    # the sweep, with REPORT_RENDER_STALE_AFTER (4 min by default; 3 s here), is what saves it.
    settings.REPORT_RENDER_STALE_AFTER = timedelta(seconds=3)
    stale = {"REPORT_RENDER_STALE_AFTER_SECONDS": "3"}
    started, release = tmp_path / "render-started", tmp_path / "render-release"
    redis_server.start()
    with celery_broker(redis_server.url):
        blocked = worker_start(
            redis_server.url,
            blocking=True,
            env={
                "E2E_RENDER_STARTED": str(started),
                "E2E_RENDER_RELEASE": str(release),
                **stale,
            },
        )
        workers.append(blocked)
        response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
        assert response.status_code == 201
        report = Report.objects.get(pk=response.json()["report"]["id"])
        until(started.exists, "the render to start", WAIT_SECONDS)
        assert Report.objects.get(pk=report.pk).status == ReportStatus.RENDERING

        os.kill(blocked.pid, signal.SIGKILL)
        assert blocked.wait(timeout=20) == -signal.SIGKILL
        folder = Path(django_settings.MEDIA_ROOT) / "reports" / str(report.uuid)
        assert not folder.exists()  # killed before anything was stored
        assert Report.objects.get(pk=report.pk).status == ReportStatus.RENDERING

        workers.append(worker_start(redis_server.url, env=stale))
        claimed_at = Report.objects.get(pk=report.pk).rendering_started_at
        assert claimed_at is not None
        until(
            lambda: timezone.now() > claimed_at + timedelta(seconds=3),
            "the render to go stale",
            WAIT_SECONDS,
        )
        assert reports_stalled_requeue(waiting=queue_depth()) == [report.pk]  # the sweep
        until(
            lambda: Report.objects.get(pk=report.pk).status == ReportStatus.READY,
            "the report",
            WAIT_SECONDS,
        )

    report.refresh_from_db()
    assert report.attempts == 2  # the killed render, then the one that finished
    stored = sorted(folder.iterdir())
    assert [path.name for path in stored] == [f"{report.checksum}.pdf"]
    assert hashlib.sha256(stored[0].read_bytes()).hexdigest() == report.checksum
    # a late duplicate message changes nothing: a released report never changes
    report_render(report_id=report.pk)
    again = Report.objects.get(pk=report.pk)
    assert (again.checksum, again.pdf.name, again.rendered_at, again.attempts) == (
        report.checksum,
        report.pdf.name,
        report.rendered_at,
        2,
    )
    assert sorted(folder.iterdir()) == stored
