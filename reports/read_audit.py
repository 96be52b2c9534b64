"""Recording reads of reports in the read audit (``labpanel.audit``): each report returned, its
panel and the panel's patient, in ONE entry per request (the report's ``panel`` is read with it
by ``select_related``, or its ids are given)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labpanel.audit.models import ReadEntry
from labpanel.audit.services import read_record
from reports.models import Report


def reports_read_record(*, request: Any, reports: Sequence[Report]) -> ReadEntry:
    """Record that ``request`` read ``reports`` (their panels loaded with them)."""
    return read_record(
        request=request,
        patient_ids=[report.panel.patient_id for report in reports],
        panel_ids=[report.panel_id for report in reports],
        report_ids=[report.pk for report in reports],
    )
