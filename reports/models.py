"""Report jobs: one row per report, its status, attempts and the rendered PDF.

Jobs are rows (Saleor's Job pattern): the row says pending / rendering / ready / failed, so the
API can answer without Celery's result backend. A ready report's PDF and checksum never change.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from labpanel.db import QuickLoadModel, TimestampedModel, user_reference
from panels.models import Panel


class ReportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RENDERING = "rendering", "Rendering"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ReportStage(models.TextChoices):
    """What a report is to its reader: PRELIMINARY before the panel is released (marked so on
    every page), FINAL when released, CORRECTED when amended after release. Set at creation
    and never changed: release and amendment make new reports, keeping the earlier ones."""

    PRELIMINARY = "preliminary", "Preliminary"
    FINAL = "final", "Final"
    CORRECTED = "corrected", "Corrected"


class FailureKind(models.TextChoices):
    """Why a report failed: a transient cause (storage, database or broker unavailable) may pass
    and is retried automatically; a permanent one (bad data, a broken template) is not."""

    TRANSIENT = "transient", "Transient"
    PERMANENT = "permanent", "Permanent"


class ReportQuerySet(models.QuerySet["Report"]):
    def ready(self) -> ReportQuerySet:
        return self.filter(status=ReportStatus.READY)


def report_pdf_path(report: Report, filename: str) -> str:
    return f"reports/{report.uuid}/{filename}"


class Report(TimestampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    panel = models.ForeignKey(Panel, on_delete=models.PROTECT, related_name="reports")
    # The panel's lab, kept on the report so that a lab's reports are found and counted from an
    # index of the reports alone (``access.reports_scope``; a FHIR search counts what it
    # matches). Always its panel's: set where reports are created (this app), and on
    # PostgreSQL a foreign key from (lab, panel) to the panel's (lab, id) refuses any other
    # (migration 0011).
    lab = models.ForeignKey(
        "accounts.Lab", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.PENDING
    )
    # A database default too: the bulk import's COPY leaves the column out.
    stage = models.CharField(
        max_length=12,
        choices=ReportStage.choices,
        default=ReportStage.PRELIMINARY,
        db_default=ReportStage.PRELIMINARY,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error_message = models.TextField(blank=True)
    # Database defaults too: an import writes its pending reports with COPY, naming the
    # columns it sets (reports.bulk.REPORT_COLUMNS).
    failure_kind = models.CharField(
        max_length=10, choices=FailureKind.choices, blank=True, default="", db_default=""
    )
    auto_retries = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        help_text="Automatic retries of a transient failure since the last request",
    )
    next_retry_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweep retries this transiently failed report"
    )
    dispatch_failed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Sending its render message to the broker failed; the next sweep sends it again",
    )
    rendering_started_at = models.DateTimeField(null=True, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    pdf = models.FileField(upload_to=report_pdf_path, max_length=255, blank=True)
    checksum = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the PDF")
    ruleset_version = models.CharField(max_length=32)
    amends = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="amended_by",
        help_text="The released report this amended report corrects (kept unchanged)",
    )
    amendment_reason = models.TextField(blank=True)
    corrections = models.JSONField(
        default=list,
        blank=True,
        help_text="What this amendment changed: analyte, previous and corrected value",
    )
    requested_by = user_reference(help_text="Who asked for the amendment")

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One original report per panel and one FINAL (the release); every other report
            # amends the one before it.
            models.UniqueConstraint(
                fields=["panel"],
                condition=models.Q(amends__isnull=True, stage=ReportStage.PRELIMINARY),
                name="one_original_report_per_panel",
            ),
            models.UniqueConstraint(
                fields=["panel"],
                condition=models.Q(stage=ReportStage.FINAL),
                name="one_final_report_per_panel",
            ),
            models.CheckConstraint(
                condition=~models.Q(stage=ReportStage.CORRECTED) | models.Q(amends__isnull=False),
                name="corrected_report_amends_one",
            ),
            models.CheckConstraint(
                condition=models.Q(amends__isnull=True) | ~models.Q(amendment_reason=""),
                name="amendment_has_reason",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=ReportStatus.READY)
                | (~models.Q(pdf="") & ~models.Q(checksum="")),
                name="ready_report_has_pdf",
            ),
            # Only a transient failure is ever retried automatically.
            models.CheckConstraint(
                condition=models.Q(next_retry_at__isnull=True)
                | models.Q(status=ReportStatus.FAILED, failure_kind=FailureKind.TRANSIENT),
                name="auto_retry_only_transient_failures",
            ),
        ]
        indexes = [
            # A lab's reports as ids alone: a lab-wide scope is read and counted from it.
            models.Index(fields=["lab", "id"], name="report_lab_ids"),
            models.Index(
                fields=["dispatch_failed_at"],
                condition=models.Q(dispatch_failed_at__isnull=False),
                name="report_dispatch_failed_idx",
            ),
            models.Index(
                fields=["next_retry_at"],
                condition=models.Q(next_retry_at__isnull=False),
                name="report_next_retry_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Report {self.pk} for panel {self.panel_id} ({self.status})"

    @property
    def is_amendment(self) -> bool:
        return self.amends_id is not None

    @property
    def public_status(self) -> str:
        """The API's three states: a report being drawn is still ``pending`` to its readers."""
        return ReportStatus.PENDING if self.status == ReportStatus.RENDERING else self.status


class ReportReceipt(QuickLoadModel):
    """That a user opened a report, and when they acknowledged it: one row per report and
    reader, written on the first opening; ``acknowledged_at`` is set once and never changed, and
    no row is ever deleted (the record of who read what)."""

    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="receipts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "user"], name="one_receipt_per_reader"),
        ]

    def __str__(self) -> str:
        return f"Receipt of report {self.report_id} by user {self.user_id}"


# What a page of the inbox reads of an entry (besides its order), in ``reports.inbox``'s order.
INBOX_PAGE_COLUMNS = [
    "lab",
    "stage",
    "report",
    "collected_at",
    "accession",
    "patient_mrn",
    "patient_family_name",
    "patient_given_name",
    "acknowledged",
    "results_total",
    "results_abnormal",
    "results_critical",
    "results_not_interpreted",
    "results_indeterminate",
]


class InboxEntry(QuickLoadModel):
    """The inbox's read model: one row per panel that has a report, standing for its newest
    report, for its reader (the panel's ordering clinician), with what the inbox lists, orders
    and searches by copied in, so that a page is an index scan and a LIMIT.

    Written only by ``reports.inbox_entries`` (``inbox_entries_refresh``), in the transaction
    of each change: a panel's first report, an amendment (a CORRECTED report replaces the
    entry's report), the release (FINAL), the reader's first opening and acknowledgement. Who
    sees an entry is ``access.inbox_scope``, the mirror of ``access.reports_scope`` over these
    columns (tests/reports/test_inbox_scope.py checks they agree for every role)."""

    panel = models.OneToOneField(Panel, on_delete=models.PROTECT, related_name="+")
    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="+")
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    lab = models.ForeignKey(
        "accounts.Lab", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    stage = models.CharField(max_length=12, choices=ReportStage.choices)
    issued_at = models.DateTimeField(help_text="When the entry's report was created")
    collected_at = models.DateTimeField()
    accession = models.CharField(max_length=64)
    patient_mrn = models.CharField(max_length=64)
    patient_family_name = models.CharField(max_length=120)
    patient_given_name = models.CharField(max_length=120, blank=True)
    unread = models.BooleanField(help_text="The reader has not opened the entry's report")
    acknowledged = models.BooleanField(help_text="The reader acknowledged the entry's report")
    needs_attention = models.BooleanField(
        help_text="A current result is abnormal (critical included), not interpreted or "
        "indeterminate"
    )
    results_total = models.PositiveSmallIntegerField()
    results_abnormal = models.PositiveSmallIntegerField()
    results_critical = models.PositiveSmallIntegerField()
    results_not_interpreted = models.PositiveSmallIntegerField()
    results_indeterminate = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [
            # The inbox's order, for a clinician (their entries) and for the lab's staff. The
            # clinician's carries every column a page reads: a page, however deep, is an
            # index-only scan (no visit to the table per entry skipped).
            models.Index(
                fields=["reader", "-unread", "-needs_attention", "-issued_at", "-id"],
                name="inbox_reader_order_idx",
                include=INBOX_PAGE_COLUMNS,
            ),
            models.Index(
                fields=["lab", "-unread", "-needs_attention", "-issued_at", "-id"],
                name="inbox_lab_order_idx",
            ),
            # MRN prefix search (LIKE 'X%').
            models.Index(
                fields=["patient_mrn"],
                name="inbox_mrn_prefix_idx",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"Inbox entry of panel {self.panel_id}: report {self.report_id}"


# The FHIR server's stored resources (its read model: reports/models_fhir.py).
from reports.models_fhir import StoredDiagnosticReport as StoredDiagnosticReport  # noqa: E402
