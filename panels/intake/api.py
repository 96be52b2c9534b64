"""HTTP endpoints for panels: list, read, submit, amend, verify, release. Thin: validate →
service → serialize."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.accounts import access
from labpanel.audit.services import read_record
from panels.intake.amendments import panel_amend
from panels.intake.inputs import AmendmentInput, BulkVerifyInput, PanelSubmitInput, ReviewInput
from panels.intake.selectors import panel_get, panel_list
from panels.intake.submission import panel_submit
from panels.models import Panel
from panels.outputs import BulkVerifyOutput, PanelOutput
from panels.read_audit import panels_read_record
from panels.review import panel_verify, panels_verify_bulk
from panels.selectors import panels_visible_to
from reference_ranges.selectors import analyte_catalogue_get
from reports.release import panel_release


class PanelViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Panel]
):
    serializer_class = PanelOutput

    def get_queryset(self) -> QuerySet[Panel]:
        return panel_list(user=self.request.user)

    def _answer(self, request: Request, panel: Panel, answer_status: int) -> Response:
        """The panel as answered, its read recorded in the read audit."""
        data = PanelOutput(panel, context={"request": request}).data
        panels_read_record(request=request, panels=[panel])
        return Response(data, status=answer_status)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A page of the panels the caller may see: one read-audit entry with its ids."""
        page = self.paginate_queryset(self.get_queryset())
        panels = list(page) if page is not None else []
        data = PanelOutput(panels, many=True, context={"request": request}).data
        panels_read_record(request=request, panels=panels)
        return self.get_paginated_response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._answer(request, self.get_object(), status.HTTP_200_OK)

    def get_object(self) -> Panel:
        from django.http import Http404

        try:
            pk = int(self.kwargs["pk"])
        except ValueError as error:
            raise Http404 from error
        panel = panel_get(pk=pk, user=self.request.user)
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
        stored = panel_get(pk=panel.pk, user=request.user)
        if stored is None:
            # An identical re-send of a panel the caller may not see: 404, as for every
            # object outside the caller's scope (never an empty answer that confirms it).
            raise NotFound()
        return self._answer(
            request, stored, status.HTTP_201_CREATED if created else status.HTTP_200_OK
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
        stored = panel_get(pk=panel.pk, user=request.user)
        if stored is None:
            raise NotFound()
        return self._answer(request, stored, status.HTTP_201_CREATED)

    def _review(
        self, request: Request, service: Callable[..., object], answer_status: int
    ) -> Response:
        """Validate the optional reason, run the review ``service`` on the panel, answer it."""
        panel = self.get_object()
        serializer = ReviewInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        service(panel_id=panel.pk, user=request.user, reason=serializer.validated_data["reason"])
        stored = panel_get(pk=panel.pk, user=request.user)
        if stored is None:
            raise NotFound()
        return self._answer(request, stored, answer_status)

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
