"""Validating an import job: parse, stage, prepare (interpret), conclude, and write the preview.

``import_job_validate`` turns the archived file into the staged file (one record per panel, as
it would be stored: ``panels.intake.imports.staged_file``), its summary and every problem, and
leaves the job in ``preview`` or ``rejected``; it never stores a panel. ``preview_read``
reads a page of that preview.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, cast

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from labpanel.accounts import access
from panels.demographics import import_mismatches_audit
from panels.intake.files import SamplesNotGrouped, parse_file, parse_manifest, parse_stream
from panels.intake.files.detect import LABPANEL_LONG
from panels.intake.files.types import ParsedFile
from panels.intake.imports.basis import basis_of
from panels.intake.imports.conclusions import Conclusions, conclude
from panels.intake.imports.memory import gc_paused
from panels.intake.imports.prepare import Prepared, prepare
from panels.intake.imports.problems import problems_store, visible_json
from panels.intake.imports.staged import StagedImport, StagedProblem, StagingContext
from panels.intake.imports.staged_file import (
    StagedKeys,
    shown,
    staged_file,
    staged_record,
    staged_records,
)
from panels.intake.imports.staging import stage, stage_stream
from panels.intake.validation import local_zone
from panels.models import (
    BeadRegion,
    ImportJob,
    ImportStatus,
)
from reference_ranges.models import ReferenceRangeRule
from reference_ranges.patterns import pattern_rules_enabled
from reference_ranges.selectors import (
    analyte_catalogue_get,
    measuring_ranges_active,
    ruleset_get_active,
)
from reports.bulk import report_uuid_new

logger = logging.getLogger(__name__)


PROGRESS_EVERY_ROWS = 10_000


@dataclass
class _Progress:
    job_id: int
    offset: int = 0
    last_saved: int = -PROGRESS_EVERY_ROWS

    def __call__(self, rows_done: int, rows_total: int) -> None:
        done = self.offset + rows_done
        if done - self.last_saved >= PROGRESS_EVERY_ROWS or rows_done == rows_total:
            ImportJob.objects.filter(pk=self.job_id).update(
                rows_processed=done, rows_total=self.offset + rows_total
            )
            self.last_saved = done


def _parse(
    job: ImportJob, on_progress: Callable[[int, int], None] | None
) -> tuple[ParsedFile, ParsedFile | None]:
    with job.file.open("rb") as stream:
        parsed = parse_file(
            cast(BinaryIO, stream), format=job.format_requested or None, on_progress=on_progress
        )
    manifest = None
    if job.manifest:
        with job.manifest.open("rb") as stream:
            manifest = parse_manifest(cast(BinaryIO, stream))
    return parsed, manifest


def _staging_context(job: ImportJob) -> StagingContext:
    clinicians = {
        staff.user.get_username(): staff.user
        for staff in access.ordering_clinicians(lab_id=job.lab_id)
    }
    now = timezone.now()
    return StagingContext(
        catalogue=analyte_catalogue_get(),
        clinicians=clinicians,
        now=now,
        today=timezone.localdate(now),
        local_zone=local_zone(),
        # OOR markers are read against the assay's range in force when the file is read.
        measuring_ranges=measuring_ranges_active(lab_id=job.lab_id, on=timezone.localdate(now)),
        default_unit=job.default_unit,
        bead_regions={
            mapping.region: mapping.analyte
            for mapping in BeadRegion.objects.filter(lab_id=job.lab_id).select_related("analyte")
        },
    )


def _staged(job: ImportJob, context: StagingContext) -> tuple[ParsedFile, StagedImport]:
    """The file staged, and what the parser found about it (its samples not held: they are in
    the staged panels). A long-layout Labpanel CSV is staged while it is read, sample by
    sample (``stage_stream``); other files are parsed whole first (a plate, a manifest)."""
    if not job.manifest:
        with job.file.open("rb") as stream:
            streamed = parse_stream(
                cast(BinaryIO, stream),
                format=job.format_requested or None,
                on_progress=_Progress(job_id=job.pk),
            )
            if streamed.format != LABPANEL_LONG:
                parsed = streamed.parsed()
                staged = stage(parsed, manifest=None, context=context)
                return replace(parsed, samples=()), staged
            try:
                staged = stage_stream(streamed, context=context)
            except SamplesNotGrouped:
                pass  # an accession's rows are apart: read the file whole below
            else:
                return streamed.parsed(samples=()), staged
    parsed, manifest = _parse(job, _Progress(job_id=job.pk))
    staged = stage(parsed, manifest=manifest, context=context)
    return replace(parsed, samples=()), staged


def _stage_and_prepare(job: ImportJob) -> tuple[ParsedFile, StagedImport, Prepared | None]:
    parsed, staged = _staged(job, _staging_context(job))
    ruleset = ruleset_get_active(lab=job.lab)
    if ruleset is None:
        staged.problems.append(
            StagedProblem(
                "file",
                None,
                None,
                "no_ruleset",
                "error",
                "no reference range set is active; a director must publish one",
            )
        )
        return parsed, staged, None
    return parsed, staged, prepare(staged=staged, lab=job.lab, ruleset=ruleset)


def import_job_validate(*, job_id: int) -> None:
    """Validate job ``job_id`` (status ``validating``): preview it, or reject it with problems.

    The preview is the staged file: every panel as it would be stored, with its conclusions.
    """
    job = (
        ImportJob.objects.select_related("lab")
        .filter(pk=job_id, status=ImportStatus.VALIDATING)
        .first()
    )
    if job is None:
        return
    with gc_paused():
        _validate(job)


def _validate(job: ImportJob) -> None:
    parsed, staged, prepared = _stage_and_prepare(job)
    summary = visible_json(_summary(parsed, staged, prepared))
    file_format, encoding, rows_total = parsed.format, parsed.encoding, parsed.rows_total
    errors = staged.errors
    status = ImportStatus.REJECTED if errors or prepared is None else ImportStatus.PREVIEW
    members: list[bytes] = []
    keys = StagedKeys([], [], [], [])
    basis = ""
    if status == ImportStatus.PREVIEW and prepared is not None:
        rule_ids = dict(
            ReferenceRangeRule.objects.filter(ruleset=prepared.ruleset).values_list("key", "pk")
        )
        members = [b""] * len(prepared.panels)
        panels = prepared.panels

        def emit(index: int, conclusions: Conclusions) -> None:
            members[index] = staged_record(panels[index], conclusions, rule_ids, report_uuid_new())

        conclude(
            panels, rules=pattern_rules_enabled(lab_id=job.lab_id), now=timezone.now(), emit=emit
        )
        keys = StagedKeys.of(panels)
        basis = basis_of(lab=job.lab, keys=keys)
    with tempfile.TemporaryFile() as staged_rows:
        digest = hashlib.sha256()
        for chunk in staged_file(members):
            staged_rows.write(chunk)
            digest.update(chunk)
        members.clear()
        staged_rows.seek(0)
        with transaction.atomic():
            locked = ImportJob.objects.select_for_update().get(pk=job.pk)
            if locked.status != ImportStatus.VALIDATING:
                return  # abandoned meanwhile
            locked.format = file_format
            locked.encoding = encoding
            locked.rows_processed = rows_total
            locked.rows_total = rows_total
            locked.ruleset = prepared.ruleset if prepared else None
            locked.summary = summary
            locked.preview.save("staged.rows", File(staged_rows), save=False)
            locked.preview_sha256 = digest.hexdigest()
            locked.basis_sha256 = basis
            locked.staged_keys = keys.as_json()
            locked.problem_count = len(staged.problems)
            locked.error_count = len(errors)
            locked.status = status
            locked.status_message = (
                f"{len(errors)} problem(s) must be fixed in the file; nothing was stored"
                if status == ImportStatus.REJECTED
                else "ready to commit"
            )
            locked.save()
            problems_store(locked, staged.problems)
            if prepared is not None and prepared.mismatches:
                import_mismatches_audit(
                    lab_id=locked.lab_id,
                    user_id=locked.created_by_id,
                    import_job_id=locked.pk,
                    mismatches=prepared.mismatches,
                )
    logger.info(
        "import.validated job_id=%s status=%s panels=%d problems=%d",
        job.pk,
        status,
        len(keys.accessions),
        len(staged.problems),
    )


def _summary(parsed: ParsedFile, staged: StagedImport, prepared: Prepared | None) -> dict[str, Any]:
    flags: Counter[str] = Counter()
    results = 0
    if prepared is not None:
        for panel in prepared.panels:
            for interpretation in panel.interpretations:
                results += 1
                flags[interpretation.code.value if interpretation.code else "none"] += 1
    return {
        "format": parsed.format,
        "encoding": parsed.encoding,
        "delimiter": parsed.delimiter,
        "decimal_separator": parsed.decimal_separator,
        "metadata": dict(parsed.metadata),
        "rows": parsed.rows_total,
        "panels_new": len(prepared.panels) if prepared else 0,
        "panels_already_stored": [p.submission.accession for p in prepared.already_stored]
        if prepared
        else [],
        "patients_new": prepared.new_patients if prepared else 0,
        "patients_matched": prepared.matched_patients if prepared else 0,
        "results": results,
        "interpretations": dict(sorted(flags.items())),
        "cells_not_measured": staged.not_measured,
        "qc_samples": [
            {
                "sample_id": qc.sample_id,
                "kind": qc.kind,
                "row": qc.row,
                "well": qc.well,
                "values": qc.values,
            }
            for qc in staged.qc_samples
        ],
        "ruleset_version": prepared.ruleset.version if prepared else None,
        "errors": len(staged.errors),
        "warnings": len(staged.problems) - len(staged.errors),
    }


def preview_read(*, job: ImportJob, offset: int, limit: int) -> list[dict[str, Any]]:
    """Panels ``offset`` .. ``offset + limit`` of the job's preview (streamed, not all read)."""
    return preview_page(job=job, offset=offset, limit=limit)[0]


def preview_page(
    *, job: ImportJob, offset: int, limit: int
) -> tuple[list[dict[str, Any]], list[int]]:
    """As ``preview_read``, with the ids of the stored patients the page's panels matched (new
    patients have none yet): what the read audit records of a preview page."""
    if not job.preview:
        return [], []
    panels: list[dict[str, Any]] = []
    patient_ids: list[int] = []
    with job.preview.open("rb") as raw:
        for record in staged_records(raw, skip=offset):
            if len(panels) >= limit:
                break
            panels.append(shown(record))
            if record.get("patient_id") is not None:
                patient_ids.append(int(record["patient_id"]))
    return panels, patient_ids
