"""Committing an import job: the staged file stored exactly as previewed, in one transaction.

``import_job_commit`` checks that the staged file is the one validated and that nothing it rests
on changed (``panels.intake.imports.basis``), then stores it (``panels.intake.imports.store``)
with its ``import.committed`` event; otherwise nothing is stored and the job is rejected saying
what changed.
"""

from __future__ import annotations

import hashlib
import logging
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from panels.intake.imports.basis import basis_of
from panels.intake.imports.dispatch import reports_request_send
from panels.intake.imports.memory import gc_paused
from panels.intake.imports.problems import problems_store
from panels.intake.imports.staged import StagedProblem
from panels.intake.imports.staged_file import (
    StagedFileError,
    StagedKeys,
    staged_records,
)
from panels.intake.imports.staged_rows import CommitFacts
from panels.intake.imports.store import staged_store
from panels.models import (
    ImportJob,
    ImportStatus,
    Patient,
)
from panels.review import panels_auto_verify_bulk
from reports.bulk import import_inbox_entries_write

logger = logging.getLogger(__name__)


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
            if basis_of(lab=job.lab, keys=keys) != job.basis_sha256:
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
            panels_auto_verify_bulk(lab=job.lab, panel_ids=stored.panel_ids)
            import_inbox_entries_write(panel_ids=stored.panel_ids)
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
            transaction.on_commit(partial(reports_request_send, locked.pk))
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
        problems_store(locked, problems)
