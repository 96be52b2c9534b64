"""Reports for the bulk import: the pending reports of many panels at once.

The bulk path (``panels.intake.imports``) stores thousands of panels with PostgreSQL ``COPY``
instead of per-row saves; their pending reports are rows of that COPY too. This module is the
one place those rows are made (``report_copy_row``, in the columns ``REPORT_COLUMNS`` of the
table ``REPORT_TABLE``, with ids reserved by ``report_ids_reserve``), so that reports stay the
only code that creates a report and the bulk path never names the Report model, and the one way
the committed import's reports are found and enqueued (``import_reports_enqueue``), and the one
way the stored panels get their inbox entries (``import_inbox_entries_write``).
"""

from __future__ import annotations

import uuid

from labpanel.bulk import ids_reserve
from reports.inbox_entries import inbox_entries_refresh
from reports.models import Report, ReportStatus
from reports.services import report_render_enqueue

# The model label the bulk writer stores the rows in, and their columns in COPY order. The
# columns left out take their database defaults (nothing failed, nothing rendered yet).
REPORT_TABLE = "reports.Report"
REPORT_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "uuid",
    "panel_id",
    "lab_id",
    "status",
    "attempts",
    "error_message",
    "pdf",
    "checksum",
    "ruleset_version",
    "amendment_reason",
    "corrections",
)
_PENDING = ReportStatus.PENDING.value


def report_ids_reserve(count: int) -> list[int]:
    """``count`` fresh report ids for rows ``report_copy_row`` will make (the caller is inside
    the storing transaction)."""
    return ids_reserve(Report, count)


def report_uuid_new() -> str:
    """The public id of a report to be stored later by the bulk path (shown in the preview)."""
    return str(uuid.uuid4())


def report_copy_row(
    *,
    report_id: int,
    panel_id: str,
    lab_id: str,
    report_uuid: str,
    ruleset_version: str,
    now: str,
) -> str:
    """The COPY text row (``REPORT_COLUMNS``) of the pending first report of panel
    ``panel_id`` (of lab ``lab_id``), as ``reports.services.report_request`` creates it for a
    single panel.

    ``report_uuid``, ``ruleset_version`` and ``now`` are already COPY text (escaped by the
    caller, which escapes the whole record once); ``report_id`` is a reserved primary key.
    """
    return (
        f"{report_id}\t{now}\t{now}\t{report_uuid}\t{panel_id}\t{lab_id}\t{_PENDING}\t0\t\t\t\t"
        f"{ruleset_version}\t\t[]\n"
    )


def import_pending_report_ids(*, job_id: int) -> list[int]:
    """The pending reports of the panels import ``job_id`` stored."""
    return list(
        Report.objects.filter(
            panel__imported_from__job_id=job_id, status=ReportStatus.PENDING
        ).values_list("pk", flat=True)
    )


def import_reports_enqueue(*, job_id: int) -> int:
    """Enqueue the rendering of every pending report of a committed import; how many."""
    report_ids = import_pending_report_ids(job_id=job_id)
    report_render_enqueue(report_ids=report_ids)
    return len(report_ids)


def import_inbox_entries_write(*, panel_ids: list[int]) -> int:
    """The inbox entries of the panels an import stored (its pending reports), written in the
    commit's transaction by the same code as every other report's; how many."""
    return inbox_entries_refresh(panel_ids=panel_ids)
