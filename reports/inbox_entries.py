"""Keeping the inbox's read model (``InboxEntry``) true, in the transaction of each change.

One function builds entries, :func:`inbox_entries_refresh`: for the panels it is given it
reads the newest report, the patient, the current results' counts by judgement and the reader's
receipt, and writes each panel's entry (insert or replace). Every path that makes a report
calls it (``reports.services`` for every amendment, ``reports.release`` for the FINAL report,
``reports.bulk`` for an import's panels) except a new panel's first report, whose entry
:func:`inbox_entry_of_new_panel` writes from the rows in hand (the same values); the backfill
(``reports/migrations/0007_inbox_entry_backfill.py``) is its snapshot in one statement. Opening
and acknowledging a report change only the reader's flags (:func:`inbox_entry_opened`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db.models import Count, Q

from panels.models import Panel
from reports.models import InboxEntry, Report, ReportReceipt
from reports.results_builder import NOT_FLAGGED

CRITICAL = ("HH", "LL")
# The columns an existing entry takes from a refresh (all but the panel, its key).
_REFRESHED = [
    field.name for field in InboxEntry._meta.concrete_fields if field.name not in ("id", "panel")
]
BATCH = 2000


def inbox_entries_refresh(*, panel_ids: Iterable[int]) -> int:
    """Write the inbox entry of each of ``panel_ids`` that has a report, from the stored rows
    (the caller is inside the transaction that changed them). Returns how many were written.
    Four queries per batch of ``BATCH`` panels, whatever their number of reports."""
    ids = sorted(set(panel_ids))
    written = 0
    for start in range(0, len(ids), BATCH):
        written += _refresh(ids[start : start + BATCH])
    return written


def _refresh(panel_ids: Sequence[int]) -> int:
    newest: dict[int, Report] = {}
    for report in Report.objects.filter(panel_id__in=panel_ids).only(
        "pk", "panel_id", "stage", "created_at"
    ):
        if report.panel_id not in newest or report.pk > newest[report.panel_id].pk:
            newest[report.panel_id] = report
    if not newest:
        return 0
    current = Q(results__superseded_by__isnull=True)
    code = "results__interpretation"
    panels = list(
        Panel.objects.filter(pk__in=list(newest))
        .order_by()
        .values(
            "pk",
            "lab_id",
            "ordering_clinician_id",
            "submitted_by_id",
            "collected_at",
            "accession",
            "patient__mrn",
            "patient__family_name",
            "patient__given_name",
        )
        .annotate(
            total=Count("results", filter=current),
            abnormal=Count("results", filter=current & ~Q(**{f"{code}__in": NOT_FLAGGED})),
            critical=Count("results", filter=current & Q(**{f"{code}__in": CRITICAL})),
            not_interpreted=Count("results", filter=current & Q(**{code: ""})),
            indeterminate=Count("results", filter=current & Q(**{code: "IND"})),
        )
    )
    receipts = {
        (report_id, user_id): acknowledged_at
        for report_id, user_id, acknowledged_at in ReportReceipt.objects.filter(
            report_id__in=[report.pk for report in newest.values()]
        ).values_list("report_id", "user_id", "acknowledged_at")
    }
    entries = []
    for panel in panels:
        report = newest[panel["pk"]]
        reader_id = panel["ordering_clinician_id"]
        opened = (report.pk, reader_id) in receipts
        entries.append(
            InboxEntry(
                panel_id=panel["pk"],
                report_id=report.pk,
                reader_id=reader_id,
                lab_id=panel["lab_id"],
                submitted_by_id=panel["submitted_by_id"],
                stage=report.stage,
                issued_at=report.created_at,
                collected_at=panel["collected_at"],
                accession=panel["accession"],
                patient_mrn=panel["patient__mrn"],
                patient_family_name=panel["patient__family_name"],
                patient_given_name=panel["patient__given_name"],
                unread=not opened,
                acknowledged=opened and receipts[(report.pk, reader_id)] is not None,
                needs_attention=bool(
                    panel["abnormal"] or panel["not_interpreted"] or panel["indeterminate"]
                ),
                results_total=panel["total"],
                results_abnormal=panel["abnormal"],
                results_critical=panel["critical"],
                results_not_interpreted=panel["not_interpreted"],
                results_indeterminate=panel["indeterminate"],
            )
        )
    InboxEntry.objects.bulk_create(
        entries, update_conflicts=True, unique_fields=["panel"], update_fields=_REFRESHED
    )
    return len(entries)


def inbox_entry_of_new_panel(*, panel: Panel, report: Report) -> None:
    """Write the entry of ``panel``, inserted in this transaction with its result counts
    (``panels.result_counts.panel_result_counts_apply``), whose first report ``report`` was just
    created: what :func:`inbox_entries_refresh` would write, from the rows in hand (no receipt
    can name a report just made). One INSERT."""
    patient = panel.patient
    entry = InboxEntry(
        panel_id=panel.pk,
        report_id=report.pk,
        reader_id=panel.ordering_clinician_id,
        lab_id=panel.lab_id,
        submitted_by_id=panel.submitted_by_id,
        stage=report.stage,
        issued_at=report.created_at,
        collected_at=panel.collected_at,
        accession=panel.accession,
        patient_mrn=patient.mrn,
        patient_family_name=patient.family_name,
        patient_given_name=patient.given_name,
        unread=True,
        acknowledged=False,
        needs_attention=bool(
            panel.results_flagged or panel.results_not_interpreted or panel.results_indeterminate
        ),
        results_total=panel.results_total,
        results_abnormal=panel.results_flagged,
        results_critical=panel.results_critical,
        results_not_interpreted=panel.results_not_interpreted,
        results_indeterminate=panel.results_indeterminate,
    )
    InboxEntry.objects.bulk_create([entry])


def inbox_entry_opened(*, report_id: int, user_id: int, acknowledged: bool) -> None:
    """``user_id`` opened (and, if ``acknowledged``, acknowledged) report ``report_id``: its
    entry, if the user is its reader and it still stands for that report, is read (and
    acknowledged). One UPDATE; the caller is inside the transaction that wrote the receipt."""
    changes = {"unread": False, **({"acknowledged": True} if acknowledged else {})}
    InboxEntry.objects.filter(report_id=report_id, reader_id=user_id).update(**changes)
