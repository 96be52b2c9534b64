"""One error shape for the API: ``{"code", "message", "details"}``.

Services raise ``DomainError`` subclasses; the DRF exception handler below maps them (and
DRF's own validation/auth errors) to that shape. A lost database connection (the server
restarted, the backend was terminated) is a 503 with ``Retry-After``: the request's transaction
was rolled back or committed whole, the next request reconnects, and re-sending the identical
request is safe. Other unexpected exceptions stay 500s and are logged.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

#: Seconds a client is asked to wait before re-sending after a lost database connection.
DATABASE_RETRY_AFTER_SECONDS = 1


class DomainError(Exception):
    """A business rule said no. ``details`` is a JSON-able list or dict naming what failed."""

    code = "domain_error"
    http_status: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else []


class InvalidInput(DomainError):
    code = "invalid"


class Conflict(DomainError):
    code = "conflict"
    http_status = status.HTTP_409_CONFLICT


class IdempotencyKeyInFlight(Conflict):
    """A request with the same ``Idempotency-Key`` is still being answered (``409``)."""

    code = "idempotency_key_in_flight"


class IdempotencyKeyReused(DomainError):
    """An ``Idempotency-Key`` sent again with another body or path (``422``): a key names one
    request; a different request needs a new key."""

    code = "idempotency_key_reused"
    http_status = status.HTTP_422_UNPROCESSABLE_ENTITY


class NotAllowed(DomainError):
    code = "permission_denied"
    http_status = status.HTTP_403_FORBIDDEN


class NotReady(DomainError):
    code = "not_ready"
    http_status = status.HTTP_409_CONFLICT


class TooManyAttempts(DomainError):
    """Too many refused attempts of one kind in a while (``429``, with ``Retry-After``: the
    seconds until the next attempt may be made)."""

    code = "too_many_attempts"
    http_status = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class TooLarge(DomainError):
    """A request body over its limit (``413``): refused before any of it is used or stored."""

    code = "too_large"
    http_status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


def _flatten_drf_detail(detail: Any, path: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested errors into ``[{"field": "results[1].value", "message": ...}]``."""
    errors: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):
                child = f"{path}[{key}]"
            elif key == "non_field_errors":
                child = path
            else:
                child = f"{path}.{key}" if path else str(key)
            errors.extend(_flatten_drf_detail(value, child))
    elif isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            errors.extend({"field": path, "message": str(item)} for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    errors.extend(_flatten_drf_detail(item, f"{path}[{index}]"))
    else:
        errors.append({"field": path, "message": str(detail)})
    return errors


def _database_unavailable(
    exc: OperationalError | InterfaceError, context: dict[str, Any]
) -> Response:
    view = context.get("view")
    # the type only: a database error's text may quote the statement's parameters
    logger.warning(
        "api.database_unavailable error=%s view=%s",
        type(exc).__name__,
        type(view).__name__ if view is not None else "",
    )
    body = {
        "code": "database_unavailable",
        "message": "the database connection was lost; what this request stores is stored "
        "whole or not at all: send the identical request again",
        "details": [],
    }
    return Response(
        body,
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        return _database_unavailable(exc, context)
    if isinstance(exc, DomainError):
        body = {"code": exc.code, "message": exc.message, "details": exc.details}
        if isinstance(exc, TooManyAttempts):
            headers = {"Retry-After": str(exc.retry_after)}
            return Response(body, status=exc.http_status, headers=headers)
        return Response(body, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        exc = drf_exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        details = _flatten_drf_detail(exc.detail)
        response.data = {
            "code": "invalid",
            "message": "; ".join(
                f"{item['field']}: {item['message']}" if item["field"] else item["message"]
                for item in details
            ),
            "details": details,
        }
    elif isinstance(exc, drf_exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else exc.default_code,
            "message": str(exc.detail),
            "details": [],
        }
    return response
