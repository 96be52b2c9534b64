"""Report jobs: request a report for a panel, render it once, mark it failed with a reason.

Rendering never holds a transaction or a row lock: the row is claimed with a conditional
update, the PDF is drawn and stored outside any transaction, then a compare-and-set marks it
ready. Running the render twice yields one report (idempotent), which is what makes
``acks_late`` safe for the task.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from panels.models import Panel
from reports.document_builder import report_document_build
from reports.models import Report, ReportStatus
from reports.rendering import RenderError, render_pdf

logger = logging.getLogger(__name__)


class ReportStorageUnavailable(Exception):
    """Storing the PDF (or recording it) failed for a reason that may pass: retry."""


def report_request(*, panel: Panel) -> Report:
    """Create the pending report of ``panel`` and enqueue its rendering after commit.

    Must run inside the transaction that stores the panel; returns the existing report when
    the panel already has one (the database's unique constraint makes this race-free).
    """
    from reports.tasks import render_report_pdf_task

    report, created = Report.objects.get_or_create(
        panel=panel, amends=None, defaults={"ruleset_version": panel.ruleset.version}
    )
    if created:
        render_report_pdf_task.delay_on_commit(report.pk)
    return report


def reports_stalled_requeue(
    *, waiting: int | None, now: datetime | None = None, limit: int = 500
) -> list[int]:
    """Enqueue the rendering of reports whose message was lost (a broker restarted without
    persistence, a worker killed): pending for ``REPORT_REQUEUE_AFTER`` while ``waiting`` (the
    messages in the queue) is 0 — with a backlog their message may simply not have come up yet —
    or rendering for longer than ``REPORT_RENDER_STALE_AFTER`` (the worker died mid-render).

    A second message for a report is harmless: only one render claims it. At most ``limit``
    reports per call, oldest first; each one's ``updated_at`` is set, so the next sweep waits
    again before re-sending it. Returns their ids.
    """
    from reports.tasks import render_report_pdf_task

    now = now or timezone.now()
    stalled = Q(
        status=ReportStatus.RENDERING,
        rendering_started_at__lt=now - settings.REPORT_RENDER_STALE_AFTER,
    )
    if waiting == 0:
        stalled |= Q(
            status=ReportStatus.PENDING, updated_at__lt=now - settings.REPORT_REQUEUE_AFTER
        )
    with transaction.atomic():
        ids = list(
            Report.objects.filter(stalled)
            .order_by("updated_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        Report.objects.filter(pk__in=ids).update(updated_at=now)
        for report_id in ids:
            render_report_pdf_task.delay_on_commit(report_id)
    if ids:
        logger.warning("report.requeued count=%d report_ids=%s", len(ids), ids[:20])
    return ids


def _claim(*, report_id: int, now: datetime) -> Report | None:
    stale_before = now - settings.REPORT_RENDER_STALE_AFTER
    claimed = Report.objects.filter(
        Q(status=ReportStatus.PENDING)
        | Q(status=ReportStatus.RENDERING, rendering_started_at__lt=stale_before),
        pk=report_id,
    ).update(
        status=ReportStatus.RENDERING,
        attempts=F("attempts") + 1,
        rendering_started_at=now,
        updated_at=now,
    )
    if not claimed:
        return None
    return Report.objects.get(pk=report_id)


def _release(*, report_id: int) -> None:
    """Hand a claimed report back so that the task's retry can claim it again."""
    Report.objects.filter(pk=report_id, status=ReportStatus.RENDERING).update(
        status=ReportStatus.PENDING, updated_at=timezone.now()
    )


def report_render(*, report_id: int) -> None:
    """Render and store the PDF of report ``report_id``; a no-op unless it is claimable.

    Raises ``ReportStorageUnavailable`` for transient failures (the task retries), and marks
    the report failed for terminal ones (``RenderError``: bad data or a broken template).
    """
    report = _claim(report_id=report_id, now=timezone.now())
    if report is None:
        logger.info("report.render.skipped report_id=%s", report_id)
        return
    logger.info("report.render.start report_id=%s attempt=%s", report.pk, report.attempts)
    document = report_document_build(report=report, reported_at=timezone.now())
    try:
        pdf_bytes = render_pdf(document)
    except RenderError as error:
        report_mark_failed(report_id=report.pk, reason=f"The PDF could not be drawn: {error}")
        return
    checksum = hashlib.sha256(pdf_bytes).hexdigest()
    name = f"reports/{report.uuid}/{checksum}.pdf"
    try:
        if not default_storage.exists(name):
            stored_name = default_storage.save(name, ContentFile(pdf_bytes))
            if stored_name != name:  # pragma: no cover - storage renamed a concurrent write
                name = stored_name
        with transaction.atomic():
            finished = Report.objects.filter(pk=report.pk, status=ReportStatus.RENDERING).update(
                status=ReportStatus.READY,
                pdf=name,
                checksum=checksum,
                rendered_at=timezone.now(),
                error_message="",
                updated_at=timezone.now(),
            )
    except (OSError, OperationalError) as error:
        try:
            _release(report_id=report.pk)
        except OperationalError:
            logger.warning("report.release.failed report_id=%s", report.pk)
        raise ReportStorageUnavailable(str(error)) from error
    if finished:
        logger.info("report.render.ready report_id=%s checksum=%s", report.pk, checksum)
    else:
        logger.warning("report.render.superseded report_id=%s", report.pk)


def report_mark_failed(*, report_id: int, reason: str) -> None:
    """Record a terminal failure: status failed with a user-safe reason. Ready reports stay."""
    updated = (
        Report.objects.filter(pk=report_id)
        .exclude(status=ReportStatus.READY)
        .update(status=ReportStatus.FAILED, error_message=reason, updated_at=timezone.now())
    )
    logger.error("report.render.failed report_id=%s updated=%s", report_id, updated)
