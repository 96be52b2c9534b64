"""HTTP endpoints for panels: list, read, submit, amend, verify, release. Thin: validate →
service → serialize."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.accounts import access
from labpanel.accounts.scopes import RESULTS_READ, RESULTS_SUBMIT
from labpanel.audit.services import ReadRecording, read_record, read_recording
from labpanel.idempotency.views import IdempotentPosts
from labpanel.json_text import JSONTextEncoder, orjson_default
from labpanel.pagination import NewestFirstPagination
from labpanel.reversing import id_url_parts
from panels.documents import (
    PanelSummaryOutput,
    answer_of,
    answer_spliced,
    panel_documents_build,
    panel_summary,
)
from panels.history import earlier_accessions
from panels.intake.amendments import panel_amend
from panels.intake.filters import PanelFilter, panels_filtered
from panels.intake.inputs import AmendmentInput, BulkVerifyInput, PanelSubmitInput, ReviewInput
from panels.intake.selectors import (
    PanelRead,
    PanelReads,
    panel_document_get,
    panel_document_read_recorded,
    panel_get,
    panel_list,
    panel_read,
    read_model_available,
)
from panels.intake.submission import panel_submit
from panels.models import Panel
from panels.outputs import BulkVerifyOutput, PanelOutput
from panels.read_audit import panels_read_record
from panels.review import panel_verify, panels_verify_bulk
from panels.selectors import panel_details, panels_visible_to
from reference_ranges.selectors import analyte_catalogue_get
from reports.release import panel_release


class PanelJSONRenderer(JSONRenderer):
    """DRF's JSON answer, encoded by orjson: the same JSON (compact, UTF-8), several times
    quicker for a panel's answer. Data orjson would write otherwise than DRF (datetimes,
    dataclasses, Decimals, lazy text), and an answer asked for indented, go to DRF's encoder.
    Stored documents spliced into the answer (``labpanel.json_text.JSONText``) are copied as
    they are, or parsed for DRF's encoder."""

    encoder_class = JSONTextEncoder

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is not None and self.get_indent(accepted_media_type or "", {}) is None:
            try:
                return orjson.dumps(
                    data,
                    default=orjson_default,
                    option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS,
                )
            except TypeError:
                pass
        return super().render(data, accepted_media_type, renderer_context)


class _ReportLinks:
    """The reports of reads (``PanelRead.reports``) as ``ReportSummaryOutput`` answers them:
    their URLs are ``request.build_absolute_uri(reverse(...))``'s, the routes reversed once per
    process (``labpanel.reversing.id_url_parts``) and made absolute once per request, not twice
    per report (a list of 50 panels made a hundred absolute)."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._heads: tuple[str, str, str, str] | None = None

    def _parts(self) -> tuple[str, str, str, str]:
        if self._heads is None:
            detail_head, detail_tail = id_url_parts("api:report-detail")
            pdf_head, pdf_tail = id_url_parts("api:report-pdf")
            self._heads = (
                self._request.build_absolute_uri(detail_head),
                detail_tail,
                self._request.build_absolute_uri(pdf_head),
                pdf_tail,
            )
        return self._heads

    def answer(self, reports: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        if not reports:
            return []
        detail_head, detail_tail, pdf_head, pdf_tail = self._parts()
        return [
            {
                "id": report["id"],
                "status": report["status"],
                "stage": report["stage"],
                "amends": report["amends"],
                "url": f"{detail_head}{int(report['id'])}{detail_tail}",
                "pdf_url": f"{pdf_head}{int(report['id'])}{pdf_tail}",
            }
            for report in reports
        ]


def _reads_record(request: Request, reads: Sequence[PanelRead]) -> None:
    """The read audit's entry of ``reads``, as ``panels_read_record`` writes it for panels."""
    read_record(
        request=request,
        patient_ids=[read.patient_id for read in reads],
        panel_ids=[read.pk for read in reads],
        report_ids=[report["id"] for read in reads for report in read.reports],
    )


class PanelViewSet(
    IdempotentPosts,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Panel],
):
    serializer_class = PanelOutput
    renderer_classes = (PanelJSONRenderer, BrowsableAPIRenderer)
    # the list's filters (applied in list(); declared here for the schema)
    filter_backends = (DjangoFilterBackend,)
    filterset_class = PanelFilter
    # limit/offset, or by cursor (``?cursor=``) for integrators who poll
    pagination_class = NewestFirstPagination
    # token scopes (labpanel.accounts.scopes); verify and release still need the role
    required_scopes = {
        "list": RESULTS_READ,
        "retrieve": RESULTS_READ,
        "create": RESULTS_SUBMIT,
        "amendments": RESULTS_SUBMIT,
        "verify": RESULTS_SUBMIT,
        "release": RESULTS_SUBMIT,
        "verify_bulk": RESULTS_SUBMIT,
    }

    def get_queryset(self) -> QuerySet[Panel]:
        return panel_list(user=self.request.user)

    def _answer(
        self,
        request: Request,
        panel: Panel,
        answer_status: int,
        recorded: PanelRead | None = None,
    ) -> Response:
        """The panel as answered, its read recorded in the read audit (already, when
        ``recorded`` read the same panel with the same reports)."""
        data = PanelOutput(panel, context={"request": request}).data
        shown = [report.pk for report in panel.reports.all()]
        if (
            recorded is None
            or recorded.pk != panel.pk
            or [report["id"] for report in recorded.reports] != shown
        ):
            panels_read_record(request=request, panels=[panel])
        return Response(data, status=answer_status)

    def _recording(self, request: Request) -> ReadRecording | None:
        """The reader's side of the read-audit entry a panel read writes with its row."""
        return read_recording(request=request)

    def _answer_stored(self, request: Request, pk: int, answer_status: int) -> Response:
        """Panel ``pk`` as answered, its read recorded in the read audit: its stored document
        with its reports and its audit entry, read and written in one statement
        (``panels.documents``); built from its records when it has no current document, or
        when the caller is not shown the whole history and the panel shows earlier panels
        (what is shown of them is the caller's). 404 when the caller may not see it."""
        read: PanelRead | None = None
        if read_model_available():
            recording = self._recording(request)
            read = (
                panel_document_get(pk=pk, user=request.user)
                if recording is None
                else panel_document_read_recorded(pk=pk, user=request.user, recording=recording)
            )
            if read is None:
                raise Http404
            data: Mapping[str, Any] | None = None
            if read.stored is not None:
                reports = _ReportLinks(request).answer(read.reports)
                whole = access.history_whole(request.user, lab_id=read.lab_id)
                if whole:  # the stored document as it is
                    data = answer_spliced(read.stored, reports)
                if data is None:
                    document = orjson.loads(read.stored)
                    if whole or not earlier_accessions(
                        document["serial"] or {}, document["accession"]
                    ):
                        data = answer_of(document, reports, PanelOutput.Meta.fields)
            if data is not None:
                return Response(data, status=answer_status)
            if recording is None:
                read = None
        panel = panel_get(pk=pk, user=request.user)
        if panel is None:
            raise Http404
        return self._answer(request, panel, answer_status, recorded=read)

    def _filtered(self, request: Request) -> QuerySet[Panel] | None:
        """The panels the list's filters narrow to (``None``: no filter); 400 for a filter
        value it cannot read. A request naming no filter skips the filter set (building its
        form costs the list about a millisecond)."""
        if not PanelFilter.base_filters.keys() & request.query_params.keys():
            return None
        filterset = PanelFilter(request.query_params, queryset=Panel.objects.all(), request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        return panels_filtered(filterset)

    @extend_schema(responses=PanelSummaryOutput(many=True))
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A page of the panels the caller may see, newest first, each as its summary (its
        stored one, read with the page in one statement) and its reports: one read-audit entry
        with their ids. Filters (all optional, combined): ``mrn``, ``accession``,
        ``collected_after``/``collected_before``, ``interpretation``, ``finding``,
        ``report_status``, ``ordering_clinician``. Paged by ``limit``/``offset``, or by cursor
        (``?cursor=``, empty for the first page: ``labpanel.pagination``), the filters
        alike."""
        within = self._filtered(request)
        if not read_model_available():
            return self._list_built(request, within)
        # the pagination asks count() and a slice, or a keyset page: kept SQL, not a queryset
        page: Any = self.paginate_queryset(
            PanelReads(user=request.user, field="summary", within=within)  # type: ignore[arg-type]
        )
        reads = [panel_read(row) for row in page or []]
        missing = [read.pk for read in reads if read.stored is None]
        built = (
            panel_documents_build(panel_details(Panel.objects.filter(pk__in=missing)))
            if missing
            else {}
        )
        links = _ReportLinks(request)
        data: list[Mapping[str, Any]] = []
        for read in reads:
            reports = links.answer(read.reports)
            item: Mapping[str, Any] | None = (
                None if read.stored is None else answer_spliced(read.stored, reports)
            )
            if item is None:  # (not ``or``: a JSONText's truth would parse it)
                item = answer_of(
                    read.document or panel_summary(built[read.pk]),
                    reports,
                    PanelSummaryOutput.Meta.fields,
                )
            data.append(item)
        _reads_record(request, reads)
        return self.get_paginated_response(data)

    def _list_built(self, request: Request, within: QuerySet[Panel] | None) -> Response:
        """The list built from the records (the embedded SQLite default)."""
        visible = self.get_queryset()
        if within is not None:
            visible = visible.filter(pk__in=within.values("pk"))
        page = self.paginate_queryset(visible)
        panels = list(page) if page is not None else []
        data = PanelSummaryOutput(panels, many=True, context={"request": request}).data
        panels_read_record(request=request, panels=panels)
        return self.get_paginated_response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._answer_stored(request, self._pk(), status.HTTP_200_OK)

    def _pk(self) -> int:
        try:
            return int(self.kwargs["pk"])
        except ValueError as error:
            raise Http404 from error

    def get_object(self) -> Panel:
        panel = panel_get(pk=self._pk(), user=self.request.user)
        if panel is None:
            raise Http404
        return panel

    @extend_schema(
        request=PanelSubmitInput,
        responses={
            201: PanelOutput,
            200: OpenApiResponse(PanelOutput, description="Identical re-submission"),
            400: OpenApiResponse(description="Invalid input; nothing stored"),
            404: OpenApiResponse(
                description="Identical re-submission of a panel the caller may not see"
            ),
            409: OpenApiResponse(
                description="Accession reused with different content, or a known MRN sent "
                "with other demographics (the differing fields named to the lab's staff only)"
            ),
            429: OpenApiResponse(
                description="Too many demographic mismatches lately: a known MRN is refused "
                "until Retry-After seconds have passed"
            ),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lab = access.submitting_lab(request.user)
        serializer = PanelSubmitInput(
            data=request.data, context={"lab": lab, "catalogue": analyte_catalogue_get()}
        )
        serializer.is_valid(raise_exception=True)
        panel, created = panel_submit(
            submitted_by=request.user,  # type: ignore[arg-type]
            submission=serializer.to_submission(),
        )
        # An identical re-send of a panel the caller may not see: 404, as for every object
        # outside the caller's scope (never an empty answer that confirms it).
        return self._answer_stored(
            request, panel.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        request=AmendmentInput,
        responses={
            201: OpenApiResponse(PanelOutput, description="Amended: the new report is pending"),
            400: OpenApiResponse(description="Invalid correction; nothing changed"),
            409: OpenApiResponse(description="The current report is still being produced"),
        },
    )
    @action(detail=True, methods=["post"], url_path="amendments", url_name="amendments")
    def amendments(self, request: Request, pk: Any = None) -> Response:
        """Correct results (or record a re-run on dilution): the released report is kept and
        an amended report, naming the reason and every previous and corrected value, follows."""
        panel = self.get_object()
        serializer = AmendmentInput(
            data=request.data, context={"lab": panel.lab, "catalogue": analyte_catalogue_get()}
        )
        serializer.is_valid(raise_exception=True)
        panel_amend(
            panel_id=panel.pk,
            user=request.user,  # type: ignore[arg-type]
            corrections=serializer.corrections(),
            reason=serializer.validated_data["reason"],
            kind=serializer.validated_data["kind"],
        )
        return self._answer_stored(request, panel.pk, status.HTTP_201_CREATED)

    def _review(
        self, request: Request, service: Callable[..., object], answer_status: int
    ) -> Response:
        """Validate the optional reason, run the review ``service`` on the panel, answer it."""
        panel = self.get_object()
        serializer = ReviewInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        service(panel_id=panel.pk, user=request.user, reason=serializer.validated_data["reason"])
        return self._answer_stored(request, panel.pk, answer_status)

    @extend_schema(
        request=ReviewInput,
        responses={
            200: OpenApiResponse(PanelOutput, description="Verified"),
            403: OpenApiResponse(
                description="Not allowed to verify, with the reason (e.g. self-verification is "
                "not allowed in this lab)"
            ),
            409: OpenApiResponse(description="Not received: already verified or released"),
        },
    )
    @action(detail=True, methods=["post"], url_path="verify", url_name="verify")
    def verify(self, request: Request, pk: Any = None) -> Response:
        """Verify the panel's results (a director, or a technician where the lab allows it)."""
        return self._review(request, panel_verify, status.HTTP_200_OK)

    @extend_schema(
        request=ReviewInput,
        responses={
            202: OpenApiResponse(
                PanelOutput, description="Released: the FINAL report (`report`) is pending"
            ),
            403: OpenApiResponse(
                description="Not allowed to release, with the reason (interpretive findings "
                "are released only by a director)"
            ),
            409: OpenApiResponse(description="Not verified yet, or already released"),
        },
    )
    @action(detail=True, methods=["post"], url_path="release", url_name="release")
    def release(self, request: Request, pk: Any = None) -> Response:
        """Release verified results to the ordering clinician: the FINAL report follows."""
        return self._review(request, panel_release, status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="panels_verify_bulk",
        request=BulkVerifyInput,
        responses={200: BulkVerifyOutput, 400: OpenApiResponse(description="Invalid ids")},
    )
    @action(detail=False, methods=["post"], url_path="verify", url_name="verify-bulk")
    def verify_bulk(self, request: Request) -> Response:
        """Verify the listed panels whose results are all within their intervals; say why
        each other one was not verified."""
        serializer = BulkVerifyInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = panels_verify_bulk(
            panel_ids=serializer.validated_data["ids"],
            user=request.user,  # type: ignore[arg-type]
        )
        data = BulkVerifyOutput({"verified": outcome.verified, "refused": outcome.refused}).data
        # The answer says why each panel the caller sees was refused (its results): a read.
        seen = panels_visible_to(user=request.user).filter(pk__in=serializer.validated_data["ids"])
        patients = dict(seen.values_list("pk", "patient_id"))
        read_record(request=request, patient_ids=patients.values(), panel_ids=patients)
        return Response(data)
