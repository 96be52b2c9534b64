"""The rule-set API's impact preview: ``GET /api/v1/rulesets/{id}/impact/``.

The preview reads the panels' stored results, so it cannot live with the rule sets below them.
:class:`RulesetViewSet` here is the rule-set resource of :mod:`reference_ranges.views` with the
impact action added; the API router registers it at ``rulesets``, so every URL, name and answer
stays what it was.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.accounts import access
from labpanel.accounts.scopes import RANGES_MANAGE
from labpanel.audit.services import read_record
from panels.ruleset_impact import ruleset_impact_preview
from reference_ranges.views import RulesetViewSet as RulesetBaseViewSet


class ImpactSideOutput(serializers.Serializer[Any]):
    code = serializers.CharField(allow_null=True)
    interval = serializers.CharField(allow_null=True)
    rule_key = serializers.CharField(allow_null=True)
    ruleset_version = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class ImpactExampleOutput(serializers.Serializer[Any]):
    accession = serializers.CharField()
    analyte = serializers.CharField()
    value = serializers.CharField()
    unit = serializers.CharField()
    old = ImpactSideOutput()
    new = ImpactSideOutput()


class ImpactPreviewOutput(serializers.Serializer[Any]):
    ruleset_id = serializers.IntegerField()
    key = serializers.CharField()
    version = serializers.CharField()
    lab = serializers.CharField(allow_null=True)
    panels_examined = serializers.IntegerField()
    results_examined = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    changed = serializers.IntegerField()
    transitions = serializers.DictField(child=serializers.IntegerField())
    examples = ImpactExampleOutput(many=True)


class ImpactPreviewInput(serializers.Serializer[Any]):
    examples = serializers.IntegerField(required=False, min_value=0, max_value=200, default=20)


# No class docstring: DRF and the OpenAPI schema describe the list and detail views with it,
# and the rule-set resource has none.
class RulesetViewSet(RulesetBaseViewSet):
    # the impact preview is part of managing a set (a director's, before publishing)
    required_scopes = {**RulesetBaseViewSet.required_scopes, "impact": RANGES_MANAGE}

    @extend_schema(
        parameters=[ImpactPreviewInput],
        responses={
            200: ImpactPreviewOutput,
            400: OpenApiResponse(description="The set fails validation"),
            403: OpenApiResponse(description="Not a director of the set's lab"),
        },
    )
    @action(detail=True, methods=["get"], url_path="impact", url_name="impact")
    def impact(self, request: Request, pk: Any = None) -> Response:
        """Dry run over the lab's stored results: every interpretation this set would change."""
        ruleset = self.get_object()
        access.ruleset_manager_check(
            user=self._user(), lab_id=ruleset.lab_id, installation_wide_allowed=False
        )
        query = ImpactPreviewInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        preview = ruleset_impact_preview(
            candidate=ruleset, limit_examples=query.validated_data["examples"]
        )
        data = ImpactPreviewOutput(preview.as_dict()).data
        read_record(
            request=request,
            patient_ids=[example.patient_id for example in preview.examples],
            panel_ids=[example.panel_id for example in preview.examples],
        )
        return Response(data)
