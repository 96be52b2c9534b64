"""HTTP endpoints for import jobs: upload, follow, preview, commit or abandon."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.accounts.scopes import RESULTS_READ, RESULTS_SUBMIT
from labpanel.audit.services import read_record
from labpanel.exceptions import NotReady
from labpanel.idempotency.views import IdempotentPosts
from labpanel.pagination import LabpanelPagination
from labpanel.uploads import upload_refusal_raise
from panels.intake.imports.selectors import import_job_get, import_jobs_visible_to, import_problems
from panels.intake.imports.serializers import (
    ImportCreateInput,
    ImportJobOutput,
    ImportProblemOutput,
)
from panels.intake.imports.services import (
    import_job_abandon,
    import_job_commit_request,
    import_job_create,
)
from panels.intake.imports.validate import preview_page
from panels.models import ImportJob, ImportStatus

PREVIEW_STATUSES = (ImportStatus.PREVIEW, ImportStatus.COMMITTING, ImportStatus.COMMITTED)


class ImportJobViewSet(IdempotentPosts, mixins.ListModelMixin, viewsets.GenericViewSet[ImportJob]):
    serializer_class = ImportJobOutput
    lookup_field = "uuid"
    # token scopes: uploading, committing and abandoning submit results; following a job,
    # its problems, preview and file read them
    required_scopes = {
        "list": RESULTS_READ,
        "retrieve": RESULTS_READ,
        "problems": RESULTS_READ,
        "preview": RESULTS_READ,
        "file": RESULTS_READ,
        "create": RESULTS_SUBMIT,
        "commit": RESULTS_SUBMIT,
        "abandon": RESULTS_SUBMIT,
    }
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> Any:
        return import_jobs_visible_to(user=self.request.user).order_by("-created_at", "-pk")

    def _job(self, key: Any) -> ImportJob:
        job = import_job_get(key=str(key), user=self.request.user)
        if job is None:
            raise Http404
        return job

    @extend_schema(
        request={"multipart/form-data": ImportCreateInput},
        responses={
            202: ImportJobOutput,
            400: OpenApiResponse(description="Empty or unreadable upload; nothing stored"),
            409: OpenApiResponse(description="The same file was already uploaded (points at it)"),
            413: OpenApiResponse(
                description="The file, the manifest or the whole body is over its limit; the "
                "upload was stopped there and nothing was stored"
            ),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data
        # A file over its limit stopped the upload while it streamed (labpanel.uploads).
        upload_refusal_raise(request)
        serializer = ImportCreateInput(data=data)
        serializer.is_valid(raise_exception=True)
        job = import_job_create(
            user=request.user,  # type: ignore[arg-type]
            upload=serializer.validated_data["file"],
            manifest=serializer.validated_data.get("manifest"),
            file_format=serializer.validated_data.get("format", ""),
            default_unit=serializer.validated_data.get("default_unit", ""),
        )
        return Response(
            ImportJobOutput(job, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )

    def retrieve(self, request: Request, uuid: Any = None) -> Response:
        return Response(ImportJobOutput(self._job(uuid), context={"request": request}).data)

    @extend_schema(responses=ImportProblemOutput(many=True))
    @action(detail=True, methods=["get"], url_path="problems", url_name="problems")
    def problems(self, request: Request, uuid: Any = None) -> Response:
        job = self._job(uuid)
        paginator = LabpanelPagination()
        page = paginator.paginate_queryset(import_problems(job=job), request, view=self)
        data = ImportProblemOutput(page, many=True).data
        # A problem quotes the file's cells (a name, an MRN): a read of the job's data.
        read_record(request=request, import_job_id=job.pk, lab_id=job.lab_id)
        return paginator.get_paginated_response(data)

    @extend_schema(
        parameters=[
            OpenApiParameter("offset", int, description="First panel (0-based)"),
            OpenApiParameter("limit", int, description="Panels per page (at most 500)"),
        ],
        responses={200: OpenApiTypes.OBJECT, 409: OpenApiResponse(description="Not previewed")},
    )
    @action(detail=True, methods=["get"], url_path="preview", url_name="preview")
    def preview(self, request: Request, uuid: Any = None) -> Response:
        """What a commit stores: panels, patients new or matched, every result interpreted."""
        job = self._job(uuid)
        if job.status not in PREVIEW_STATUSES:
            raise NotReady(
                f"import {job.uuid} is {job.status}; there is no preview to show",
                details=[{"field": "status", "message": job.status}],
            )
        paginator = LabpanelPagination()
        offset = paginator.get_offset(request)
        limit = paginator.get_limit(request) or paginator.default_limit
        total = int(job.summary.get("panels_new", 0))
        panels, patient_ids = preview_page(job=job, offset=offset, limit=limit)
        read_record(
            request=request, patient_ids=patient_ids, import_job_id=job.pk, lab_id=job.lab_id
        )
        return Response(
            {
                "count": total,
                "offset": offset,
                "limit": limit,
                "summary": job.summary,
                "panels": panels,
            }
        )

    @extend_schema(request=None, responses={202: ImportJobOutput, 409: OpenApiResponse()})
    @action(detail=True, methods=["post"], url_path="commit", url_name="commit")
    def commit(self, request: Request, uuid: Any = None) -> Response:
        job = import_job_commit_request(job=self._job(uuid), user=request.user)  # type: ignore[arg-type]
        return Response(
            ImportJobOutput(job, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=None, responses={200: ImportJobOutput, 409: OpenApiResponse()})
    @action(detail=True, methods=["post"], url_path="abandon", url_name="abandon")
    def abandon(self, request: Request, uuid: Any = None) -> Response:
        job = import_job_abandon(job=self._job(uuid), user=request.user)  # type: ignore[arg-type]
        return Response(ImportJobOutput(job, context={"request": request}).data)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="file", url_name="file")
    def file(self, request: Request, uuid: Any = None) -> FileResponse:
        """The archived upload, byte for byte, as a download (never rendered or evaluated)."""
        job = self._job(uuid)
        response = FileResponse(
            job.file.open("rb"),
            content_type="application/octet-stream",
            as_attachment=True,
            filename=job.filename,
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        response["X-Checksum-SHA256"] = job.sha256
        read_record(request=request, import_job_id=job.pk, lab_id=job.lab_id)
        return response
