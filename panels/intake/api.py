"""HTTP endpoints for panels: list, read, submit. Thin: validate → service → serialize."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.accounts import access
from panels.intake.amendments import panel_amend
from panels.intake.inputs import AmendmentInput, PanelSubmitInput
from panels.intake.outputs import PanelOutput
from panels.intake.selectors import panel_get, panel_list
from panels.intake.submission import panel_submit
from panels.models import Panel
from reference_ranges.selectors import analyte_catalogue_get


class PanelViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Panel]
):
    serializer_class = PanelOutput

    def get_queryset(self) -> QuerySet[Panel]:
        return panel_list(user=self.request.user)

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
            409: OpenApiResponse(description="Accession reused with different content"),
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
        output = PanelOutput(stored, context={"request": request})
        return Response(
            output.data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
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
        return Response(
            PanelOutput(stored, context={"request": request}).data, status=status.HTTP_201_CREATED
        )
