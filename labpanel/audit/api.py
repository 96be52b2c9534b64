"""The read audit over the API: ``GET /api/v1/audit/reads/?patient=&user=&since=&until=``,
newest first, paginated (``limit``/``offset``), for a lab's director (their own lab's entries;
``access.read_audit_search_check``; others get 403)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.accounts import access
from labpanel.accounts.scopes import RESULTS_READ
from labpanel.audit.models import ReadEntry
from labpanel.audit.selectors import read_entries_search
from labpanel.pagination import LabpanelPagination


class ReadSearchInput(serializers.Serializer[Any]):
    patient = serializers.IntegerField(required=False, min_value=1)
    user = serializers.IntegerField(required=False, min_value=1)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and until <= since:
            raise serializers.ValidationError({"until": "must be after since"})
        return attrs


class ReadEntryOutput(serializers.ModelSerializer[ReadEntry]):
    patient_ids = serializers.ListField(child=serializers.IntegerField())
    panel_ids = serializers.ListField(child=serializers.IntegerField())
    report_ids = serializers.ListField(child=serializers.IntegerField())

    class Meta:
        model = ReadEntry
        fields = (
            "id",
            "occurred_at",
            "lab_id",
            "user_id",
            "token_id",
            "channel",
            "view",
            "path",
            "ip",
            "user_agent",
            "patient_ids",
            "panel_ids",
            "report_ids",
            "import_job_id",
        )
        read_only_fields = fields


class ReadEntryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[ReadEntry]):
    serializer_class = ReadEntryOutput
    required_scope = RESULTS_READ  # token scope: reading who read results is a read of results
    pagination_class = LabpanelPagination
    queryset = ReadEntry.objects.none()

    @extend_schema(
        operation_id="audit_reads_list",
        parameters=[
            OpenApiParameter("patient", int, description="Entries that read this patient's data"),
            OpenApiParameter("user", int, description="Entries of this user (id)"),
            OpenApiParameter("since", str, description="At or after (ISO 8601 date-time)"),
            OpenApiParameter("until", str, description="Before (ISO 8601 date-time)"),
        ],
        responses={
            200: ReadEntryOutput(many=True),
            400: OpenApiResponse(description="A malformed parameter, named"),
            403: OpenApiResponse(description="Not a lab director"),
        },
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Who read which patient's data, when, from where: the director's lab's entries."""
        access.read_audit_search_check(request.user)
        search = ReadSearchInput(data=request.query_params)
        search.is_valid(raise_exception=True)
        entries = read_entries_search(
            reader=request.user,
            patient_id=search.validated_data.get("patient"),
            user_id=search.validated_data.get("user"),
            since=search.validated_data.get("since"),
            until=search.validated_data.get("until"),
        )
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(ReadEntryOutput(page, many=True).data)
