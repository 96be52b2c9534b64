"""Errors as FHIR answers them: an ``OperationOutcome`` with the HTTP status.

``FhirError`` is raised by the parsing of a request (``reports.fhir.search``); the views turn
it, and every other refusal (401, 403, 404, 405), into an OperationOutcome
(``outcome_for``)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status


class FhirError(Exception):
    """A request FHIR refuses: ``http_status``, the issue ``code`` (FHIR's IssueType) and what
    was wrong (``diagnostics``)."""

    def __init__(
        self,
        diagnostics: str,
        *,
        code: str = "invalid",
        http_status: int = status.HTTP_400_BAD_REQUEST,
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.code = code
        self.http_status = http_status


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def not_found(kind: str, pk: object) -> FhirError:
    """The one answer for a resource that does not exist and one the caller may not see."""
    return FhirError(
        f"{kind}/{pk} is not known", code="not-found", http_status=status.HTTP_404_NOT_FOUND
    )


_ISSUE_CODES = {
    status.HTTP_401_UNAUTHORIZED: "login",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not-found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "not-supported",
    status.HTTP_406_NOT_ACCEPTABLE: "not-supported",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def outcome_for(error: Exception) -> tuple[int, dict[str, Any]] | None:
    """(status, OperationOutcome) for a refusal, or ``None`` for an unexpected error."""
    if isinstance(error, FhirError):
        return error.http_status, operation_outcome(error.code, error.diagnostics)
    if isinstance(error, Http404):
        return status.HTTP_404_NOT_FOUND, operation_outcome("not-found", "not found")
    if isinstance(error, exceptions.APIException):
        code = _ISSUE_CODES.get(error.status_code, "processing")
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        return error.status_code, operation_outcome(code, str(detail))
    return None
