"""Import jobs: upload (archived with its SHA-256) → validating → preview → committed.

This module holds the requests on a job: ``import_job_create`` archives the uploaded bytes
unchanged and enqueues validation after commit (``panels.intake.imports.validate``);
``import_job_commit_request`` accepts a clean preview and enqueues the commit
(``panels.intake.imports.commit``: one transaction, all or none); a job may be abandoned until
it is committed, and a job whose task crashed is failed. Sending the tasks:
``panels.intake.imports.dispatch``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.exceptions import Conflict, InvalidInput, TooLarge
from panels.intake.imports.dispatch import job_task_enqueue
from panels.models import (
    ImportJob,
    ImportStatus,
)

logger = logging.getLogger(__name__)

FORMATS = ("labpanel_long", "labpanel_wide", "luminex_xponent", "biorad_bioplex", "msd_workbench")


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


def _size_check(field: str, size: int, limit: int) -> None:
    """``TooLarge`` for a file over its limit (an upload over HTTP was stopped earlier, while
    it streamed: ``labpanel.uploads``; this holds for every other caller)."""
    if size > limit:
        raise TooLarge(
            f"the {field} is {size} bytes, over the limit of {limit} bytes; nothing was stored",
            details=[{"field": field, "message": f"larger than {limit} bytes"}],
        )


def import_job_create(
    *,
    user: User,
    upload: File[Any],
    manifest: File[Any] | None = None,
    file_format: str = "",
    default_unit: str = "",
) -> ImportJob:
    """Archive ``upload`` (and ``manifest``) unchanged and enqueue validation after commit.

    Raises ``InvalidInput`` (empty file, unknown format), ``TooLarge`` (the file over
    ``IMPORT_MAX_BYTES``, the manifest over ``IMPORT_MANIFEST_MAX_BYTES``), ``Conflict`` (the lab
    already has a job for the same bytes; the message points at it) and ``NotAllowed``.
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
    _size_check("file", size, settings.IMPORT_MAX_BYTES)
    manifest_sha256 = ""
    if manifest is not None:
        manifest_sha256, manifest_size = _sha256(manifest)
        if manifest_size == 0:
            raise InvalidInput(
                "the manifest is empty (0 bytes)",
                details=[{"field": "manifest", "message": "the file is empty (0 bytes)"}],
            )
        _size_check("manifest", manifest_size, settings.IMPORT_MANIFEST_MAX_BYTES)
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
        job_task_enqueue("panels.validate_import", job.pk)
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
        job_task_enqueue("panels.commit_import", locked.pk)
    return locked


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
