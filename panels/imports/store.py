"""Writing a staged import: patients, panels, results, findings, pending reports — in bulk.

The caller holds the transaction and has checked that the staged file still describes the
database (``panels.imports.services``). The rows stored per panel are exactly those a single
submission (``panels.services.panel_submit``) stores; they come from the staged file, i.e.
from what the preview showed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from panels.imports.bulk import ids_reserve, rows_insert
from panels.imports.staged_file import STORE
from panels.models import Finding, ImportedPanel, ImportJob, Lab, Panel, Patient, Result
from reference_ranges.models import ReferenceRangeSet
from reports.models import Report, ReportStatus


@dataclass(frozen=True)
class Stored:
    panel_ids: list[int]
    patients_created: int
    results: int
    findings: int


CHUNK_PANELS = 2000


def staged_store(
    *,
    job: ImportJob,
    lab: Lab,
    submitted_by: User,
    ruleset: ReferenceRangeSet,
    lines: Iterable[dict[str, Any]],
) -> Stored:
    """Insert the panels of ``lines`` and their pending reports, in the caller's transaction.

    The lines are read and written a chunk at a time, so a large import never holds them all.
    """
    now = timezone.now()
    created: dict[str, int] = {}  # MRN -> id of the patients this import creates
    panel_ids: list[int] = []
    results = findings = 0
    chunk: list[dict[str, Any]] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == CHUNK_PANELS:
            stored = _chunk_store(job, lab, submitted_by, ruleset, chunk, created, now)
            panel_ids += stored.panel_ids
            results += stored.results
            findings += stored.findings
            chunk = []
    if chunk:
        stored = _chunk_store(job, lab, submitted_by, ruleset, chunk, created, now)
        panel_ids += stored.panel_ids
        results += stored.results
        findings += stored.findings
    return Stored(
        panel_ids=panel_ids, patients_created=len(created), results=results, findings=findings
    )


def _chunk_store(
    job: ImportJob,
    lab: Lab,
    submitted_by: User,
    ruleset: ReferenceRangeSet,
    lines: Sequence[dict[str, Any]],
    created: dict[str, int],
    now: datetime,
) -> Stored:
    patient_ids = _patients_store(lab=lab, lines=lines, created=created, now=now)
    panel_ids = ids_reserve(Panel, len(lines))
    rows_insert(
        Panel,
        _PANEL_COLUMNS,
        (
            (
                panel_id,
                now,
                now,
                line["accession"],
                lab.pk,
                patient_ids[line["patient"]["mrn"]],
                line["specimen"]["type"],
                line["specimen"]["collected_at"],
                now,
                line[STORE]["ordering_clinician_id"],
                submitted_by.pk,
                ruleset.pk,
                line[STORE]["content_sha256"],
                {},
                line[STORE]["anchor_event_id"],
                line["serial"],
                line["summary"],
            )
            for panel_id, line in zip(panel_ids, lines, strict=True)
        ),
    )
    results = rows_insert(Result, _RESULT_COLUMNS, _result_rows(panel_ids, lines, ruleset))
    findings = rows_insert(Finding, _FINDING_COLUMNS, _finding_rows(panel_ids, lines))
    rows_insert(
        Report,
        _REPORT_COLUMNS,
        (
            (
                now,
                now,
                _uuid(),
                panel_id,
                ReportStatus.PENDING.value,
                0,
                "",
                "",
                "",
                ruleset.version,
                "",
                [],
            )
            for panel_id in panel_ids
        ),
    )
    rows_insert(
        ImportedPanel,
        ("job_id", "panel_id", "sample_id", "row"),
        (
            (job.pk, panel_id, line["sample_id"].replace("\x00", "\\x00")[:120], line["row"])
            for panel_id, line in zip(panel_ids, lines, strict=True)
        ),
    )
    return Stored(panel_ids=panel_ids, patients_created=0, results=results, findings=findings)


def _result_rows(
    panel_ids: Sequence[int], lines: Sequence[dict[str, Any]], ruleset: ReferenceRangeSet
) -> Iterable[tuple[Any, ...]]:
    version = ruleset.version
    for panel_id, line in zip(panel_ids, lines, strict=True):
        for position, (shown, stored) in enumerate(
            zip(line["results"], line[STORE]["results"], strict=True), start=1
        ):
            analyte_id, rule_id, comparator, number, scale, sender_range, sender_flags = stored
            yield (
                panel_id,
                position,
                analyte_id,
                shown["analyte_as_received"],
                shown["raw_value"],
                comparator,
                number,
                scale,
                shown["unit"],
                shown["dilution_factor"],
                shown["interpretation"] or "",
                shown["conversion"] or "",
                shown["reason"],
                shown["reference_interval"] or "",
                rule_id,
                version,
                sender_range,
                sender_flags,
            )


def _finding_rows(
    panel_ids: Sequence[int], lines: Sequence[dict[str, Any]]
) -> Iterable[tuple[Any, ...]]:
    for panel_id, line in zip(panel_ids, lines, strict=True):
        for finding in line["findings"]:
            yield (
                panel_id,
                finding["position"],
                finding["rule_id"],
                finding["rule_version"],
                finding["name"],
                finding["status"],
                finding["statement"],
                finding["evidence"],
                finding["missing_inputs"],
                finding["score"],
                finding["citation"],
                finding["verified"],
                finding["verification_note"],
                finding["evaluated_at"],
            )


def _patients_store(
    *, lab: Lab, lines: Sequence[dict[str, Any]], created: dict[str, int], now: datetime
) -> dict[str, int]:
    """MRN -> patient id for every line, creating the patients not seen before in this import
    (``created`` carries those made by earlier chunks, and is extended)."""
    ids: dict[str, int] = {}
    new: dict[str, dict[str, Any]] = {}
    for line in lines:
        patient = line["patient"]
        mrn = patient["mrn"]
        if line[STORE]["patient_id"] is not None:
            ids[mrn] = line[STORE]["patient_id"]
        elif mrn in created:
            ids[mrn] = created[mrn]
        else:
            new.setdefault(mrn, patient)
    new_ids = ids_reserve(Patient, len(new))
    rows_insert(
        Patient,
        (
            "id",
            "created_at",
            "updated_at",
            "lab_id",
            "mrn",
            "family_name",
            "given_name",
            "birth_date",
            "sex",
        ),
        (
            (
                pid,
                now,
                now,
                lab.pk,
                mrn,
                data["family_name"],
                data["given_name"],
                data["birth_date"],
                data["sex"],
            )
            for pid, (mrn, data) in zip(new_ids, new.items(), strict=True)
        ),
    )
    fresh = dict(zip(new.keys(), new_ids, strict=True))
    created.update(fresh)
    ids.update(fresh)
    return ids


def _uuid() -> Any:
    import uuid

    return uuid.uuid4()


_PANEL_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "accession",
    "lab_id",
    "patient_id",
    "specimen_type",
    "collected_at",
    "received_at",
    "ordering_clinician_id",
    "submitted_by_id",
    "ruleset_id",
    "content_sha256",
    "clinical",
    "anchor_event_id",
    "serial",
    "summary",
)
_RESULT_COLUMNS = (
    "panel_id",
    "position",
    "analyte_id",
    "analyte_as_received",
    "raw_value",
    "comparator",
    "value",
    "value_scale",
    "unit",
    "dilution_factor",
    "interpretation",
    "conversion",
    "interpretation_reason",
    "reference_text",
    "rule_id",
    "ruleset_version",
    "sender_range",
    "sender_flags",
)
_FINDING_COLUMNS = (
    "panel_id",
    "position",
    "rule_id",
    "rule_version",
    "name",
    "status",
    "statement",
    "evidence",
    "missing_inputs",
    "score",
    "citation",
    "verified",
    "verification_note",
    "evaluated_at",
)
_REPORT_COLUMNS = (
    "created_at",
    "updated_at",
    "uuid",
    "panel_id",
    "status",
    "attempts",
    "error_message",
    "pdf",
    "checksum",
    "ruleset_version",
    "amendment_reason",
    "corrections",
)
