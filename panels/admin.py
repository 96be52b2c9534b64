"""Admin for patients, panels and results. Panels and results are never added here (they come
in through the submission path), and those on a report are read-only.

A director sees only their own lab's rows (``LabRowsAdmin``; a superuser every lab's), so an
MRN or accession is searched within the lab's own, and another lab's is never found.

Every view of a patient-bearing row (change, history, delete pages; the changelists' pages) is
recorded in the read audit (``labpanel.audit.admin_reads.ReadAuditedAdmin``), and a change of
a patient goes through ``panels.patient_changes.patient_admin_change`` (an event with the old
and new values)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from labpanel.accounts.admin import LabRowsAdmin
from labpanel.audit.admin_reads import ReadAuditedAdmin
from panels.models import (
    BeadRegion,
    ImportJob,
    InboundMessage,
    Panel,
    Patient,
    Result,
)
from panels.patient_changes import patient_admin_change


@admin.register(Patient)
class PatientAdmin(ReadAuditedAdmin, LabRowsAdmin, admin.ModelAdmin[Patient]):
    list_display = ("mrn", "lab", "sex", "created_at")
    search_fields = ("mrn",)
    list_filter = ("lab",)
    read_audit_paths = {"patient": "pk", "lab": "lab_id"}

    def save_model(self, request: HttpRequest, obj: Patient, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        patient_admin_change(patient=obj, user=request.user)


def _on_a_report(result: Result | None) -> bool:
    return result is not None and result.panel.reports.exists()


class ResultInline(admin.TabularInline[Result, Panel]):
    model = Result
    extra = 0
    can_delete = False
    fields = (
        "position",
        "analyte",
        "raw_value",
        "unit",
        "interpretation",
        "reference_text",
        "rule",
        "ruleset_version",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Panel)
class PanelAdmin(ReadAuditedAdmin, LabRowsAdmin, admin.ModelAdmin[Panel]):
    read_audit_paths = {"patient": "patient_id", "panel": "pk", "lab": "lab_id"}
    list_display = (
        "accession",
        "lab",
        "specimen_type",
        "review_state",
        "collected_at",
        "created_at",
    )
    search_fields = ("accession", "patient__mrn")
    list_filter = ("lab", "specimen_type", "review_state")
    inlines = (ResultInline,)
    # The review state changes only through the review services, which record each change.
    readonly_fields = ("content_sha256", "ruleset", "received_at", "review_state")
    raw_id_fields = ("patient", "ordering_clinician", "submitted_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A panel comes in through the one submission path (panels.submission: interpreted,
        # with its report and events), never as a bare row.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Panel | None = None) -> bool:
        if obj is not None and obj.reports.exists():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Panel | None = None) -> bool:
        return False


@admin.register(Result)
class ResultAdmin(ReadAuditedAdmin, LabRowsAdmin, admin.ModelAdmin[Result]):
    read_audit_paths = {"patient": "panel.patient_id", "panel": "panel_id", "lab": "panel.lab_id"}
    lab_path = "panel__lab_id"
    list_display = ("panel", "analyte", "raw_value", "unit", "interpretation", "ruleset_version")
    list_filter = ("interpretation", "analyte")
    search_fields = ("panel__accession",)
    raw_id_fields = ("panel", "rule")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A result comes with its panel's submission or an amendment (which keeps the released
        # report and issues a new one), never added to a panel here.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Result | None = None) -> bool:
        if _on_a_report(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Result | None = None) -> bool:
        if obj is None or _on_a_report(obj):
            return False
        return super().has_delete_permission(request, obj)


class _ArchiveAdmin:
    """Archives are evidence: readable in the admin, never edited or deleted there."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ImportJob)
class ImportJobAdmin(ReadAuditedAdmin, _ArchiveAdmin, LabRowsAdmin, admin.ModelAdmin[ImportJob]):
    read_audit_paths = {"import_job": "pk", "lab": "lab_id"}
    list_display = ("uuid", "lab", "status", "format", "filename", "created_by", "created_at")
    list_filter = ("status", "format", "lab")
    search_fields = ("uuid", "sha256", "filename")


@admin.register(InboundMessage)
class InboundMessageAdmin(
    ReadAuditedAdmin, _ArchiveAdmin, LabRowsAdmin, admin.ModelAdmin[InboundMessage]
):
    # A message's problems and ACK may quote its fields; it names no stored id (its own id is
    # in the recorded path).
    read_audit_paths = {"lab": "lab_id"}
    list_display = ("control_id", "sending_facility", "ack_code", "transport", "created_at")
    list_filter = ("ack_code", "transport", "lab")
    search_fields = ("control_id",)


@admin.register(BeadRegion)
class BeadRegionAdmin(LabRowsAdmin, admin.ModelAdmin[BeadRegion]):
    list_display = ("region", "analyte", "kit", "lab", "created_by", "created_at")
    list_filter = ("lab",)
    readonly_fields = ("created_by",)

    def save_model(self, request: HttpRequest, obj: BeadRegion, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
