"""Release: a verified panel's results reach the ordering clinician as the FINAL report.

Releasing is the act that makes the FINAL report, and only ``reports`` creates reports, so the
service lives here and moves the panel's review state through ``panels.review``. The
PRELIMINARY report (and any amended preliminary) is kept as it was; the FINAL report is a new
row, rendered by the worker once the release commits. After release, what the clinician sees
changes only through the amendment path, which issues CORRECTED reports.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from labpanel.accounts import access
from panels.documents import panel_documents_write
from panels.models import Panel, ReviewState
from panels.review import review_transition, review_transition_check
from panels.review_rules import panel_has_interpretive_findings
from reports.inbox_entries import inbox_entries_refresh
from reports.models import Report, ReportStage
from reports.notify import report_issued_notify
from reports.services import report_render_enqueue

logger = logging.getLogger(__name__)


def panel_release(*, panel_id: int, user: User, reason: str = "") -> Report:
    """Release verified panel ``panel_id`` as ``user``: its FINAL report is created and its
    rendering enqueued after commit. Returns the FINAL report (pending).

    Raises ``NotAllowed`` (role, lab setting, interpretive findings need a director),
    ``Conflict`` ("already released", not verified yet). Side effects, in one transaction: the
    transition row, the ``panel.released`` event carrying the report id, the report row, the
    panel's inbox entry (now standing for the FINAL report).
    """
    with transaction.atomic():
        panel = Panel.objects.select_for_update().select_related("ruleset").get(pk=panel_id)
        access.release_check(
            user,
            lab_id=panel.lab_id,
            has_interpretive_findings=panel_has_interpretive_findings(panel=panel),
        )
        review_transition_check(panel=panel, to_state=ReviewState.RELEASED)
        report = Report.objects.create(
            panel=panel,
            lab_id=panel.lab_id,
            stage=ReportStage.FINAL,
            ruleset_version=panel.ruleset.version,
        )
        review_transition(
            panel=panel,
            to_state=ReviewState.RELEASED,
            actor=user,
            reason=reason.strip(),
            report_id=report.pk,
            now=timezone.now(),
        )
        inbox_entries_refresh(panel_ids=[panel.pk])
        report_render_enqueue(report_ids=[report.pk])
        report_issued_notify(report_id=report.pk)
        panel_documents_write(panel_ids=[panel.pk])
    logger.info("panel.released panel_id=%s report_id=%s", panel.pk, report.pk)
    return report
