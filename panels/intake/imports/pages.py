"""The technician's web page for file imports: upload, follow, read the preview, commit or
abandon. Server-rendered HTML over the same services and selectors as the API
(``panels.intake.imports.views``); who may see or do what is decided there, not here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from labpanel.accounts import access
from labpanel.audit.services import read_record
from labpanel.exceptions import DomainError, NotAllowed, TooLarge
from labpanel.uploads import upload_refusal
from panels.intake.imports.selectors import import_job_get, import_jobs_visible_to, import_problems
from panels.intake.imports.services import (
    ABANDONABLE,
    FORMATS,
    import_job_abandon,
    import_job_commit_request,
    import_job_create,
)
from panels.intake.imports.validate import preview_page
from panels.models import ImportJob, ImportStatus

PAGE_PANELS = 25
PROBLEMS_SHOWN = 200
WORKING = (ImportStatus.VALIDATING, ImportStatus.COMMITTING)
PREVIEWED = (ImportStatus.PREVIEW, ImportStatus.COMMITTING, ImportStatus.COMMITTED)


class UploadForm(forms.Form):
    file = forms.FileField(
        allow_empty_file=True,
        help_text="The export as the instrument or spreadsheet wrote it (CSV, xPONENT, "
        "Bio-Plex report, MSD)",
    )
    manifest = forms.FileField(
        required=False,
        allow_empty_file=True,
        help_text="Instrument exports: the CSV that maps each sample ID to an accession and "
        "patient",
    )
    format = forms.ChoiceField(
        required=False,
        choices=[("", "Detect from the content"), *[(name, name) for name in FORMATS]],
    )
    default_unit = forms.CharField(
        required=False,
        max_length=16,
        help_text="Only for files that give no unit (MSD exports), e.g. pg/mL",
    )


def _importer(request: HttpRequest) -> None:
    try:
        access.importing_lab(request.user)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error


def _job(request: HttpRequest, key: str) -> ImportJob:
    job = import_job_get(key=key, user=request.user)
    if job is None:
        raise Http404
    return job


@login_required
def imports_page(request: HttpRequest) -> HttpResponse:
    _importer(request)
    form = UploadForm()
    status = 200
    upload_error = ""
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        refusal = upload_refusal(request)
        if refusal is not None:
            # the upload was stopped at the limit while it streamed (labpanel.uploads)
            form = UploadForm()
            upload_error = refusal.message
            status = refusal.http_status
        elif form.is_valid():
            try:
                job = import_job_create(
                    user=request.user,  # type: ignore[arg-type]
                    upload=form.cleaned_data["file"],
                    manifest=form.cleaned_data.get("manifest"),
                    file_format=form.cleaned_data.get("format") or "",
                    default_unit=form.cleaned_data.get("default_unit") or "",
                )
            except DomainError as error:
                form.add_error(None, error.message)
                if isinstance(error, TooLarge):
                    status = error.http_status
            else:
                return redirect("imports:detail", key=job.uuid)
    jobs = import_jobs_visible_to(user=request.user).order_by("-created_at", "-pk")[:50]
    limits = {
        "file": settings.IMPORT_MAX_BYTES,
        "manifest": settings.IMPORT_MANIFEST_MAX_BYTES,
    }
    return render(
        request,
        "panels/imports.html",
        {"form": form, "jobs": jobs, "limits": limits, "upload_error": upload_error},
        status=status,
    )


@login_required
def import_page(request: HttpRequest, key: str) -> HttpResponse:
    _importer(request)
    job = _job(request, key)
    offset = _offset(request.GET.get("offset"))
    panels: list[dict[str, Any]] = []
    total = int(job.summary.get("panels_new", 0)) if job.summary else 0
    patient_ids: list[int] = []
    if job.status in PREVIEWED:
        panels, patient_ids = preview_page(job=job, offset=offset, limit=PAGE_PANELS)
    context = {
        "job": job,
        "working": job.status in WORKING,
        "can_commit": job.status == ImportStatus.PREVIEW and not job.error_count,
        "can_abandon": job.status in ABANDONABLE,
        "problems": import_problems(job=job)[:PROBLEMS_SHOWN],
        "problems_hidden": max(job.problem_count - PROBLEMS_SHOWN, 0),
        "panels": panels,
        "offset": offset,
        "first_shown": offset + 1,
        "last_shown": offset + len(panels),
        "total": total,
        "previous_offset": max(offset - PAGE_PANELS, 0) if offset else None,
        "next_offset": offset + PAGE_PANELS if offset + PAGE_PANELS < total else None,
        "file_url": reverse("api:import-file", kwargs={"uuid": job.uuid}),
    }
    response = render(request, "panels/import.html", context)
    # The preview and the problems (which quote the file's cells): a read of the job's data.
    read_record(request=request, patient_ids=patient_ids, import_job_id=job.pk, lab_id=job.lab_id)
    return response


@login_required
@require_POST
def import_commit(request: HttpRequest, key: str) -> HttpResponse:
    return _act(
        request,
        key,
        import_job_commit_request,
        "Committing: every panel is stored in one go, or none.",
    )


@login_required
@require_POST
def import_abandon(request: HttpRequest, key: str) -> HttpResponse:
    return _act(request, key, import_job_abandon, "Abandoned: nothing from this file was stored.")


def _act(
    request: HttpRequest, key: str, service: Callable[..., ImportJob], done: str
) -> HttpResponse:
    """Ask ``service`` to act on the job; say ``done``, or why not; back to the job's page."""
    _importer(request)
    job = _job(request, key)
    try:
        service(job=job, user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("imports:detail", key=job.uuid)


def _offset(text: str | None) -> int:
    try:
        return max(int(text or 0), 0)
    except ValueError:
        return 0


app_name = "imports"
urlpatterns = [
    path("", imports_page, name="list"),
    path("<str:key>/", import_page, name="detail"),
    path("<str:key>/commit/", import_commit, name="commit"),
    path("<str:key>/abandon/", import_abandon, name="abandon"),
]
