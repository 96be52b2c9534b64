"""Recording reads of panels in the read audit (``labpanel.audit``): the ids a view returned —
each panel, its patient and the reports it carried (prefetched ``reports``) — in ONE entry per
request. A panel's answer also shows the same patient's earlier panels (``serial``): they are
covered by the patient's id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from labpanel.audit.models import ReadEntry
from labpanel.audit.services import read_record
from panels.models import Panel


def panels_read_record(
    *,
    request: Any,
    panels: Sequence[Panel],
    with_reports: bool = True,
    report_ids: Iterable[int] = (),
    lab_id: int | None = None,
) -> ReadEntry:
    """Record that ``request`` read ``panels`` (and their prefetched reports when
    ``with_reports``; ``report_ids`` adds others shown with them)."""
    reports = (
        [report.pk for panel in panels for report in panel.reports.all()] if with_reports else []
    )
    return read_record(
        request=request,
        patient_ids=[panel.patient_id for panel in panels],
        panel_ids=[panel.pk for panel in panels],
        report_ids=[*reports, *report_ids],
        lab_id=lab_id,
    )
