"""Import jobs: upload (archived with its SHA-256) → validating → preview → committed.

``import_job_create`` archives the uploaded bytes unchanged and enqueues validation after
commit. ``import_job_validate`` parses, stages, checks against stored data and interprets,
writing the preview and every problem; it never stores a panel. ``import_job_commit_request``
accepts a clean preview; ``import_job_commit`` re-reads the archived file, checks that what it
would store is exactly what the preview showed, and stores it in one transaction (all or none).
A job may be abandoned until it is committed.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from labpanel.exceptions import Conflict, InvalidInput
from panels.intake.files import parse_file, parse_manifest
from panels.intake.files.types import ParsedFile
from panels.intake.imports.conclusions import Conclusions, conclude, history_fingerprint
from panels.intake.imports.prepare import Prepared, prepare
from panels.intake.imports.staged_file import (
    CommitFacts,
    StagedFileError,
    StagedKeys,
    shown,
    staged_file,
    staged_record,
    staged_records,
)
from panels.intake.imports.staging import StagedImport, StagedProblem, StagingContext, stage
from panels.intake.imports.store import staged_store
from panels.intake.validation import local_zone
from panels.models import (
    BeadRegion,
    ImportJob,
    ImportProblem,
    ImportStatus,
    Panel,
    Patient,
)
from reference_ranges.models import ReferenceRangeRule
from reference_ranges.patterns import pattern_rules_enabled
from reference_ranges.selectors import (
    analyte_catalogue_get,
    measuring_ranges_active,
    ruleset_get_active,
)
from reports.bulk import import_pending_report_ids, import_reports_enqueue, report_uuid_new
from reports.services import BROKER_ERRORS, report_dispatch_failed_record

logger = logging.getLogger(__name__)

FORMATS = ("labpanel_long", "labpanel_wide", "luminex_xponent", "biorad_bioplex", "msd_workbench")
PROGRESS_EVERY_ROWS = 10_000
# A job still committing can be abandoned too (e.g. its worker died): the commit locks the job
# row and checks its status inside the storing transaction, so either the abandon waits for a
# commit in progress (and is then refused) or the commit finds the job abandoned and stores
# nothing.
ABANDONABLE = (
    ImportStatus.VALIDATING,
    ImportStatus.PREVIEW,
    ImportStatus.REJECTED,
    ImportStatus.COMMITTING,
)


def _sha256(upload: File[Any]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


def import_job_create(
    *,
    user: User,
    upload: File[Any],
    manifest: File[Any] | None = None,
    file_format: str = "",
    default_unit: str = "",
) -> ImportJob:
    """Archive ``upload`` (and ``manifest``) unchanged and enqueue validation after commit.

    Raises ``InvalidInput`` (empty file, unknown format), ``Conflict`` (the lab already has a
    job for the same bytes; the message points at it) and ``NotAllowed``.
    """
    lab = access.importing_lab(user)
    if file_format and file_format not in FORMATS:
        raise InvalidInput(
            f"unknown format {file_format!r}",
            details=[{"field": "format", "message": f"use one of {', '.join(FORMATS)}"}],
        )
    sha256, size = _sha256(upload)
    if size == 0:
        raise InvalidInput(
            "the file is empty (0 bytes); nothing was imported",
            details=[{"field": "file", "message": "the file is empty (0 bytes)"}],
        )
    if size > settings.IMPORT_MAX_BYTES:
        raise InvalidInput(
            f"the file is {size} bytes; the limit is {settings.IMPORT_MAX_BYTES}",
            details=[{"field": "file", "message": "file too large"}],
        )
    manifest_sha256 = ""
    if manifest is not None:
        manifest_sha256, manifest_size = _sha256(manifest)
        if manifest_size == 0:
            raise InvalidInput(
                "the manifest is empty (0 bytes)",
                details=[{"field": "manifest", "message": "the file is empty (0 bytes)"}],
            )
    with transaction.atomic():
        first = _same_file_job(lab=lab, sha256=sha256)
        if first is not None:
            raise _duplicate(first)
        job = ImportJob(
            lab=lab,
            created_by=user,
            format_requested=file_format,
            default_unit=default_unit.strip(),
            filename=(upload.name or "upload")[:255],
            sha256=sha256,
            size_bytes=size,
            manifest_filename=(manifest.name or "manifest")[:255] if manifest else "",
            manifest_sha256=manifest_sha256,
        )
        job.file.save(f"original-{sha256[:12]}", upload, save=False)
        if manifest is not None:
            job.manifest.save(f"manifest-{manifest_sha256[:12]}", manifest, save=False)
        job.save()
        _enqueue_on_commit("panels.validate_import", job.pk)
    logger.info(
        "import.created job_id=%s lab_id=%s bytes=%d sha256=%s", job.pk, lab.pk, size, sha256
    )
    return job


def _same_file_job(*, lab: Lab, sha256: str) -> ImportJob | None:
    return (
        ImportJob.objects.select_for_update()
        .filter(lab=lab, sha256=sha256)
        .exclude(status=ImportStatus.ABANDONED)
        .first()
    )


def _duplicate(first: ImportJob) -> Conflict:
    return Conflict(
        f"this file was already uploaded on {first.created_at:%Y-%m-%d %H:%M} as import "
        f"{first.uuid} ({first.status}); abandon that job to upload the file again",
        details=[{"field": "file", "message": "same SHA-256 as an earlier upload"}],
    )


def _enqueue_on_commit(task_name: str, job_id: int) -> None:
    """Send the job's task once the transaction commits. The job is stored either way, so a
    broker that is down never fails the caller: the job stays in its state, is recorded
    (``dispatch_failed_at``) and logged, and the next sweep sends its task again."""
    transaction.on_commit(partial(_task_send, task_name, job_id))


def _task_send(task_name: str, job_id: int) -> None:
    from panels.intake.imports.tasks import commit_import_task, validate_import_task

    task = {
        "panels.validate_import": validate_import_task,
        "panels.commit_import": commit_import_task,
    }[task_name]
    try:
        task.delay(job_id)
    except BROKER_ERRORS as error:
        logger.warning(
            "import.dispatch.failed job_id=%s task=%s error=%s",
            job_id,
            task_name,
            type(error).__name__,
        )
        try:
            ImportJob.objects.filter(pk=job_id).update(dispatch_failed_at=timezone.now())
        except DatabaseError:
            logger.error("import.dispatch.record_failed job_id=%s", job_id)


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


def _stage_and_prepare(
    job: ImportJob, parsed: ParsedFile, manifest: ParsedFile | None
) -> tuple[StagedImport, Prepared | None]:
    clinicians = {
        staff.user.get_username(): staff.user
        for staff in access.ordering_clinicians(lab_id=job.lab_id)
    }
    now = timezone.now()
    context = StagingContext(
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
    staged = stage(parsed, manifest=manifest, context=context)
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
        return staged, None
    return staged, prepare(staged=staged, lab=job.lab, ruleset=ruleset)


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
    parsed, manifest = _parse(job, _Progress(job_id=job.pk))
    staged, prepared = _stage_and_prepare(job, parsed, manifest)
    summary = _visible_json(_summary(parsed, staged, prepared))
    file_format, encoding, rows_total = parsed.format, parsed.encoding, parsed.rows_total
    del parsed, manifest  # every cell is in the staged panels now: let the parsed file go
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
        basis = _basis(lab=job.lab, keys=keys)
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
            _problems_store(locked, staged.problems)
    logger.info(
        "import.validated job_id=%s status=%s panels=%d problems=%d",
        job.pk,
        status,
        len(keys.accessions),
        len(staged.problems),
    )


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector around bulk work. An import holds millions of
    long-lived objects (cells, results, measurements) and makes few reference cycles; the
    collector would traverse all of them again and again, a large share of validation's time
    (figures: bench/import_csv.py). Cycles made meanwhile are collected afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _basis(*, lab: Lab, keys: StagedKeys) -> str:
    """A hash of every database fact the staged lines rest on. Equal at commit means the
    preview is still exactly what would be stored: the same active rule set, pattern rules and
    measuring ranges, the same matched patients with the same history, no new patient's MRN
    and no accession taken meanwhile, the same clinicians still active."""
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(repr(parts).encode())

    ruleset = ruleset_get_active(lab=lab)
    add("ruleset", ruleset.pk if ruleset else None, ruleset.version if ruleset else None)
    add("patterns", sorted((r.id, r.version) for r in pattern_rules_enabled(lab_id=lab.pk)))
    ranges = measuring_ranges_active(lab_id=lab.pk, on=timezone.localdate())
    add("ranges", sorted(facts.id for facts in ranges.values()))
    matched, new_mrns, accessions = keys.matched, keys.new_mrns, keys.accessions
    for chunk in _chunks(matched):
        add(
            "matched",
            list(
                Patient.objects.filter(pk__in=chunk)
                .order_by("pk")
                .values_list(
                    "pk", "lab_id", "mrn", "family_name", "given_name", "birth_date", "sex"
                )
            ),
        )
    add("history", history_fingerprint(patient_ids=matched))
    for chunk in _chunks(new_mrns):
        add(
            "mrns taken",
            sorted(Patient.objects.filter(mrn__in=chunk).values_list("mrn", flat=True)),
        )
    for chunk in _chunks(accessions):
        add(
            "accessions taken",
            sorted(Panel.objects.filter(accession__in=chunk).values_list("accession", flat=True)),
        )
    clinicians = keys.clinicians
    add(
        "clinicians",
        sorted(
            access.ordering_clinicians(lab_id=lab.pk)
            .filter(user_id__in=clinicians)
            .values_list("user_id", flat=True)
        ),
    )
    return digest.hexdigest()


def _chunks(values: Sequence[Any], size: int = 5000) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _problems_store(job: ImportJob, problems: Iterable[StagedProblem]) -> None:
    ImportProblem.objects.filter(job=job).delete()
    ImportProblem.objects.bulk_create(
        (
            ImportProblem(
                job=job,
                position=position,
                source=problem.source,
                row=problem.row,
                column=_visible(problem.column or "")[:120],
                code=_visible(problem.code)[:40],
                severity=problem.severity,
                message=_visible(problem.message),
            )
            for position, problem in enumerate(problems, start=1)
        ),
        batch_size=1000,
    )


def _visible(text: str) -> str:
    """PostgreSQL text cannot hold NUL: show it as ``\\x00`` (the archived file keeps it)."""
    return text.replace("\x00", "\\x00")


def _visible_json(value: Any) -> Any:
    if isinstance(value, str):
        return _visible(value)
    if isinstance(value, dict):
        return {_visible(str(key)): _visible_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_visible_json(item) for item in value]
    return value


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
    if not job.preview:
        return []
    panels: list[dict[str, Any]] = []
    with job.preview.open("rb") as raw:
        for record in staged_records(raw, skip=offset):
            if len(panels) >= limit:
                break
            panels.append(shown(record))
    return panels


def import_job_commit_request(*, job: ImportJob, user: User) -> ImportJob:
    """Accept the preview of ``job`` and enqueue the commit. ``Conflict`` unless it is clean."""
    access.importing_lab(user)
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportStatus.PREVIEW or locked.error_count:
            raise Conflict(
                f"import {locked.uuid} is {locked.status}; only a preview without errors can be "
                "committed",
                details=[{"field": "status", "message": locked.status}],
            )
        locked.status = ImportStatus.COMMITTING
        locked.committed_by = user
        locked.status_message = "committing"
        locked.save(update_fields=["status", "committed_by", "status_message", "updated_at"])
        _enqueue_on_commit("panels.commit_import", locked.pk)
    return locked


def import_job_commit(*, job_id: int) -> None:
    """Store job ``job_id`` (status ``committing``) in one transaction, exactly as previewed.

    The staged file is stored as it is; if anything it rests on changed since the preview (a
    patient registered meanwhile, an accession used, the rule set republished...) nothing is
    stored and the job is rejected saying so.
    """
    job = (
        ImportJob.objects.select_related("lab", "committed_by", "created_by", "ruleset")
        .filter(pk=job_id, status=ImportStatus.COMMITTING)
        .first()
    )
    if job is None or job.ruleset is None:
        return
    digest = hashlib.sha256()
    with job.preview.open("rb") as raw:
        for chunk in iter(lambda: raw.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != job.preview_sha256:
        _reject_changed(job, "the staged preview file is not the one validated")
        return
    keys = StagedKeys.from_json(job.staged_keys)
    try:
        with transaction.atomic():
            locked = ImportJob.objects.select_for_update().get(pk=job.pk)
            if locked.status != ImportStatus.COMMITTING:
                return
            list(Patient.objects.select_for_update().filter(pk__in=keys.matched).values_list("pk"))
            if _basis(lab=job.lab, keys=keys) != job.basis_sha256:
                raise _Changed("patients, accessions, clinicians or the rules changed")
            with job.preview.open("rb") as raw, gc_paused():
                ruleset = job.ruleset
                submitter = job.committed_by or job.created_by
                stored = staged_store(
                    records=staged_records(raw),
                    panels=len(keys.accessions),
                    new_mrns=keys.new_mrns,
                    facts=lambda now: CommitFacts(
                        job_id=job.pk,
                        lab_id=job.lab_id,
                        ruleset_id=ruleset.pk,
                        ruleset_version=ruleset.version,
                        submitted_by_id=submitter.pk,
                        now=now,
                    ),
                )
            locked.status = ImportStatus.COMMITTED
            locked.committed_at = timezone.now()
            locked.status_message = (
                f"stored {len(stored.panel_ids)} panel(s), {stored.results} result(s); "
                f"{stored.patients_created} new patient(s)"
            )
            locked.summary = {
                **locked.summary,
                "stored": {
                    "panels": len(stored.panel_ids),
                    "results": stored.results,
                    "findings": stored.findings,
                    "patients_created": stored.patients_created,
                },
            }
            locked.save(
                update_fields=["status", "committed_at", "status_message", "summary", "updated_at"]
            )
            event_record(
                kind=EventKind.IMPORT_COMMITTED,
                lab_id=job.lab_id,
                actor_id=submitter.pk,
                import_job_id=job.pk,
                payload={
                    "import_job_uuid": str(job.uuid),
                    "intake": "import",
                    **locked.summary["stored"],
                },
                occurred_at=locked.committed_at,
            )
            transaction.on_commit(partial(_reports_request_send, locked.pk))
    except (_Changed, StagedFileError, IntegrityError) as error:
        # IntegrityError: an accession or MRN was taken by a concurrent submission.
        _reject_changed(
            job,
            str(error)
            if isinstance(error, _Changed | StagedFileError)
            else "a concurrent submission used an accession or MRN of this file",
        )
        return
    logger.info(
        "import.committed job_id=%s panels=%d results=%d",
        job.pk,
        len(stored.panel_ids),
        stored.results,
    )


class _Changed(Exception):
    """Something the preview rests on changed before the commit."""


def _reject_changed(job: ImportJob, what: str) -> None:
    problems = [
        StagedProblem(
            "file",
            None,
            None,
            "changed_since_preview",
            "error",
            f"what this file would store changed after the preview ({what}); nothing was "
            "stored — abandon this job and upload the file again for a fresh preview",
        ),
    ]
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        locked.status = ImportStatus.REJECTED
        locked.status_message = "changed since the preview; nothing was stored"
        locked.problem_count = len(problems)
        locked.error_count = 1
        locked.save()
        _problems_store(locked, problems)


def import_jobs_stalled_requeue(*, now: datetime | None = None) -> list[int]:
    """Send again the task of jobs left validating or committing for ``IMPORT_REQUEUE_AFTER``
    (longer than an import task may run: its message or its worker was lost), and at once the
    task of jobs whose message could not be sent (``dispatch_failed_at``: the broker was down;
    this does not count towards ``IMPORT_MAX_REQUEUES``). A commit in progress holds the job's
    row lock and is skipped; a job whose task was already sent again ``IMPORT_MAX_REQUEUES``
    times is rejected saying so, never left hanging. Running a job's task twice is harmless:
    each step acts only on the status it expects. Returns the ids."""
    now = now or timezone.now()
    requeued: list[int] = []
    with transaction.atomic():
        stalled = ImportJob.objects.select_for_update(skip_locked=True).filter(
            Q(updated_at__lt=now - settings.IMPORT_REQUEUE_AFTER)
            | Q(dispatch_failed_at__isnull=False),
            status__in=(ImportStatus.VALIDATING, ImportStatus.COMMITTING),
        )
        for job in stalled:
            unsent = job.dispatch_failed_at is not None
            if not unsent and job.requeued >= settings.IMPORT_MAX_REQUEUES:
                job.status = ImportStatus.REJECTED
                job.status_message = (
                    f"processing stopped {job.requeued + 1} times without finishing (the worker "
                    "was lost); nothing was stored — check the worker's memory and logs, then "
                    "upload the file again"
                )
                job.save(update_fields=["status", "status_message", "updated_at"])
                logger.error("import.given_up job_id=%s requeued=%d", job.pk, job.requeued)
                continue
            if not unsent:
                job.requeued += 1
            job.dispatch_failed_at = None
            job.save(update_fields=["requeued", "dispatch_failed_at", "updated_at"])
            task = (
                "panels.validate_import"
                if job.status == ImportStatus.VALIDATING
                else "panels.commit_import"
            )
            _enqueue_on_commit(task, job.pk)
            requeued.append(job.pk)
    if requeued:
        logger.warning("import.requeued job_ids=%s", requeued)
    return requeued


def import_job_fail(*, job_id: int) -> None:
    """Reject a job whose validation or commit crashed (nothing was stored: the commit's
    transaction rolled back). The error itself is in the worker's log under the job id."""
    ImportJob.objects.filter(
        pk=job_id, status__in=(ImportStatus.VALIDATING, ImportStatus.COMMITTING)
    ).update(
        status=ImportStatus.REJECTED,
        status_message=f"internal error while processing import {job_id}; nothing was stored "
        "(logged for the administrators)",
        updated_at=timezone.now(),
    )


def import_job_abandon(*, job: ImportJob, user: User) -> ImportJob:
    access.importing_lab(user)
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status not in ABANDONABLE:
            raise Conflict(
                f"import {locked.uuid} is {locked.status} and can no longer be abandoned",
                details=[{"field": "status", "message": locked.status}],
            )
        locked.status = ImportStatus.ABANDONED
        locked.status_message = f"abandoned by {user.get_username()}"
        locked.save(update_fields=["status", "status_message", "updated_at"])
    return locked


def _reports_request_send(job_id: int) -> None:
    """Ask a worker to enqueue the committed import's reports; if the broker is down, record
    every pending report as unsent instead (the reports sweep sends them)."""
    from panels.intake.imports.tasks import request_import_reports_task

    try:
        request_import_reports_task.delay(job_id)
    except BROKER_ERRORS as error:
        report_dispatch_failed_record(
            report_ids=import_pending_report_ids(job_id=job_id), error=error
        )


def import_reports_request(*, job_id: int) -> int:
    """Enqueue the rendering of every pending report of a committed import's panels."""
    return import_reports_enqueue(job_id=job_id)
