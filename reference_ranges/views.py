"""HTTP endpoints for reference-range sets: read, export, import, publish.

Thin: selectors scope what a user may see (404 outside it), services decide and write. Imports
and publications are a director's, for their own lab's sets; installation-wide sets are
readable here and managed with the management commands. The impact preview reads stored panel
results, a layer above, so its action is added in :mod:`panels.ruleset_views`, whose subclass
of :class:`RulesetViewSet` the API router registers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.accounts import access
from labpanel.accounts.scopes import RANGES_MANAGE, RESULTS_READ
from labpanel.exceptions import InvalidInput, TooLarge
from labpanel.idempotency.views import IdempotentPosts
from reference_ranges.models import ReferenceRangeSet
from reference_ranges.ruleset_format import DocumentFormat, document_dump, document_load
from reference_ranges.selectors import ruleset_document_get, ruleset_get, ruleset_list
from reference_ranges.serializers import (
    RulesetImportOutput,
    RulesetOutput,
    RulesetProblemsOutput,
    RulesetPublishInput,
    RulesetPublishOutput,
)
from reference_ranges.services import ruleset_import, ruleset_publish


class _DocumentParser(BaseParser):
    """The request body as an exchange document; JSON numbers stay exact Decimals.

    Read up to ``RULESET_MAX_BYTES`` and no further: a larger document is a ``413``."""

    document_format: DocumentFormat = "json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit: int = settings.RULESET_MAX_BYTES
        body: bytes = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise TooLarge(
                f"the rule-set document is over the limit of {limit} bytes; nothing was stored",
                details=[{"field": "body", "message": f"larger than {limit} bytes"}],
            )
        try:
            return document_load(body, document_format=self.document_format)
        except InvalidInput as error:
            raise ParseError(error.details[0]["message"]) from error


class RulesetJSONParser(_DocumentParser):
    media_type = "application/json"
    document_format = "json"


class RulesetYAMLParser(_DocumentParser):
    media_type = "application/yaml"
    document_format = "yaml"


class _DocumentRenderer(BaseRenderer):
    charset = "utf-8"
    document_format: DocumentFormat = "yaml"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        return document_dump(data, document_format=self.document_format).encode("utf-8")


class RulesetYAMLRenderer(_DocumentRenderer):
    media_type = "application/yaml"
    format = "yaml"
    document_format = "yaml"


class RulesetJSONRenderer(_DocumentRenderer):
    media_type = "application/json"
    format = "json"
    document_format = "json"


class RulesetViewSet(
    IdempotentPosts,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[ReferenceRangeSet],
):
    serializer_class = RulesetOutput
    # token scopes (labpanel.accounts.scopes): reads need results:read, changes ranges:manage
    required_scopes: dict[str, str] = {
        "list": RESULTS_READ,
        "retrieve": RESULTS_READ,
        "export": RESULTS_READ,
        "import_document": RANGES_MANAGE,
        "publish": RANGES_MANAGE,
    }

    def get_queryset(self) -> QuerySet[ReferenceRangeSet]:
        return ruleset_list(user=self.request.user)

    def get_object(self) -> ReferenceRangeSet:
        try:
            pk = int(self.kwargs["pk"])
        except (TypeError, ValueError) as error:
            raise Http404 from error
        ruleset = ruleset_get(pk=pk, user=self.request.user)
        if ruleset is None:
            raise Http404
        return ruleset

    def handle_exception(self, exc: Exception) -> Response:
        # Errors keep the API's one JSON shape, even on the export action's YAML renderer.
        response: Response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    def _user(self) -> User:
        user = self.request.user
        assert isinstance(user, User)  # noqa: S101 - IsAuthenticated ran first
        return user

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", OpenApiTypes.STR, enum=["yaml", "json"], description="Default yaml"
            )
        ],
        responses={
            (200, "application/yaml"): OpenApiResponse(OpenApiTypes.STR),
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="export",
        url_name="export",
        renderer_classes=[RulesetYAMLRenderer, RulesetJSONRenderer],
    )
    def export(self, request: Request, pk: Any = None) -> Response:
        """The set as an exchange document (docs/ruleset-format.md), bounds as strings."""
        ruleset = self.get_object()
        extension = "json" if request.accepted_renderer.format == "json" else "yaml"
        filename = f"{ruleset.key}-{ruleset.version}.{extension}"
        return Response(
            ruleset_document_get(ruleset=ruleset),
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT, "application/yaml": OpenApiTypes.STR},
        parameters=[
            OpenApiParameter(
                "version", OpenApiTypes.STR, description="Replaces the document's version"
            )
        ],
        responses={
            201: RulesetImportOutput,
            400: OpenApiResponse(RulesetProblemsOutput, description="Every problem at once"),
            403: OpenApiResponse(description="Not a director"),
            413: OpenApiResponse(description="The document is over RULESET_MAX_BYTES"),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[RulesetJSONParser, RulesetYAMLParser],
    )
    def import_document(self, request: Request) -> Response:
        """Store the document as a draft set of the director's lab; 400 names every problem."""
        user = self._user()
        director = access.ruleset_manager_check(
            user=user, lab_id=None, installation_wide_allowed=True
        )
        outcome = ruleset_import(
            document=request.data,
            created_by=user,
            lab=director.lab,
            version=request.query_params.get("version") or None,
        )
        stored = ruleset_get(pk=outcome.ruleset.pk, user=user)
        output = RulesetImportOutput(
            {"ruleset": stored, "warnings": outcome.warnings}, context={"request": request}
        )
        return Response(output.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=RulesetPublishInput,
        responses={
            200: RulesetPublishOutput,
            400: OpenApiResponse(description="Validation problems or effective date refused"),
            403: OpenApiResponse(description="Not a director of the set's lab"),
            409: OpenApiResponse(description="Not a draft, or a concurrent publish"),
        },
    )
    @action(detail=True, methods=["post"], url_path="publish", url_name="publish")
    def publish(self, request: Request, pk: Any = None) -> Response:
        """Make the draft the lab's active set from today; the previous one is retired."""
        ruleset = self.get_object()
        serializer = RulesetPublishInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = self._user()
        outcome = ruleset_publish(
            ruleset=ruleset,
            published_by=user,
            effective_from=serializer.validated_data.get("effective_from"),
            installation_wide_allowed=False,
        )
        output = RulesetPublishOutput(
            {
                "ruleset": ruleset_get(pk=outcome.ruleset.pk, user=user),
                "retired": outcome.retired,
                "warnings": outcome.warnings,
            },
            context={"request": request},
        )
        return Response(output.data)
