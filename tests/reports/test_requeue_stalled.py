"""Work whose message was lost is sent again by the scheduled sweep, and only that work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from reports.models import FailureKind, Report, ReportStatus
from reports.services import report_mark_failed, report_render, reports_stalled_requeue

pytestmark = pytest.mark.django_db


def _age(report: Report, **fields: Any) -> None:
    Report.objects.filter(pk=report.pk).update(**fields)


def test_a_pending_report_whose_message_was_lost_is_sent_again_once(
    report: Report, django_capture_on_commit_callbacks: Any
) -> None:
    long_ago = timezone.now() - settings.REPORT_REQUEUE_AFTER - timedelta(seconds=1)
    _age(report, updated_at=long_ago)

    with django_capture_on_commit_callbacks() as sent:
        assert reports_stalled_requeue(waiting=0) == [report.pk]
    assert len(sent) == 1
    report.refresh_from_db()
    assert report.updated_at > long_ago  # the next sweep waits again before re-sending
    with django_capture_on_commit_callbacks() as sent_again:
        assert reports_stalled_requeue(waiting=0) == []
    assert sent_again == []


def test_pending_reports_are_left_alone_while_messages_wait_or_when_recent(
    report: Report,
) -> None:
    assert reports_stalled_requeue(waiting=0) == []  # just requested
    _age(report, updated_at=timezone.now() - settings.REPORT_REQUEUE_AFTER * 2)
    assert reports_stalled_requeue(waiting=12) == []  # its message may be among those
    assert reports_stalled_requeue(waiting=None) == []  # the broker cannot say


def test_a_report_left_rendering_by_a_dead_worker_is_sent_again_despite_a_backlog(
    report: Report,
) -> None:
    started = timezone.now() - settings.REPORT_RENDER_STALE_AFTER - timedelta(seconds=1)
    _age(report, status=ReportStatus.RENDERING, rendering_started_at=started)

    assert reports_stalled_requeue(waiting=40) == [report.pk]


def test_ready_and_failed_reports_are_never_sent_again(
    report: Report, technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    report_render(report_id=report.pk)
    failed = technician_client.post(
        "/api/v1/panels/", {**panel_payload, "accession": "A-FAILED"}, format="json"
    ).json()["report"]["id"]
    report_mark_failed(report_id=failed, reason="test", kind=FailureKind.PERMANENT)

    assert set(Report.objects.values_list("status", flat=True)) == {"ready", "failed"}
    # a day later, both long untouched (a ready report's row cannot be back-dated: it never
    # changes, reports migration 0012)
    assert reports_stalled_requeue(waiting=0, now=timezone.now() + timedelta(days=1)) == []


def test_the_sweeps_are_scheduled_every_minute() -> None:
    from labpanel.celery import app

    app.loader.import_default_modules()
    schedule: dict[str, Any] = settings.CELERY_BEAT_SCHEDULE
    scheduled = {entry["task"]: entry["schedule"] for entry in schedule.values()}
    assert scheduled == {
        "reports.requeue_stalled": 60.0,
        "panels.requeue_stalled_imports": 60.0,
        "panels.escalate_critical_alerts": 60.0,
        "webhooks.dispatch": 5.0,  # webhooks: fan-out and due deliveries, from PostgreSQL
        # not a sweep: idempotency keys past their day, hourly (labpanel.idempotency)
        "idempotency.keys_expire": 3600.0,
    }
    assert set(scheduled) <= set(app.tasks)
