"""The OpenAPI schema's shared error answers (drf-spectacular postprocessing hook).

Every API error has one shape, ``{"code", "message", "details"}`` (``labpanel.exceptions``), and
some can come from any operation: no or an expired token (``401``), a role that may not
(``403``), an id the caller may not see (``404``, so existence does not leak), a request the
API refuses as written (``400``), a body over its limit or of a type the operation does not
read (``413``, ``415``; ``labpanel.uploads``), a lost database connection (``503``). This hook
adds those an operation can give to its documented responses, where the view did not document
them itself, so that the schema describes every answer (schemathesis checks it:
``tests/api/test_schemathesis.py``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from labpanel.accounts.scopes import view_required_scope

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every API error: a code, a sentence, and what failed (field by field).",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "details": {"description": "A list naming each field and why, or an object"},
    },
    "required": ["code", "message", "details"],
}
EVERY_OPERATION = {
    "401": "No token, or one that expired or was revoked",
    "403": "The caller's role may not do this",
    "503": "The database connection was lost; nothing was half-stored (Retry-After)",
}
WITH_PATH_PARAMETERS = {"404": "Not found, or not visible to the caller"}
WITH_INPUT = {"400": "The request as written is refused; details name each field"}
WITH_BODY = {
    "413": "The body is over its limit; nothing was read past it or stored",
    "415": "The body is of a media type this operation does not read",
}


WITH_IDEMPOTENCY_KEY = {
    "409": "A request with this Idempotency-Key is still being answered",
    "422": "This Idempotency-Key was sent before with another body or path",
}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="1 to 255 printable ASCII characters (e.g. a UUID), new for each request. "
    "A retry with the same key (same token, path and body) within 24 hours gets the first "
    "successful answer again (marked `Idempotent-Replayed: true`) without the work being done "
    "again; the same key with another body is answered 422, and while the first request is "
    "still being answered 409. Answers other than 2xx are not kept.",
)


def _codes(path: str, operation: dict[str, Any]) -> dict[str, str]:
    codes = dict(EVERY_OPERATION)
    if any(
        parameter.get("in") == "header" and parameter.get("name") == IDEMPOTENCY_KEY.name
        for parameter in operation.get("parameters", [])
    ):
        codes.update(WITH_IDEMPOTENCY_KEY)
    if "{" in path:
        codes.update(WITH_PATH_PARAMETERS)
    if operation.get("parameters") or "requestBody" in operation:
        codes.update(WITH_INPUT)
    if "requestBody" in operation:
        codes.update(WITH_BODY)
    return codes


def error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Add the shared error answers to every operation of ``result`` that lacks them."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation.setdefault("responses", {})
            for code, description in _codes(path, operation).items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result


class ScopedAutoSchema(AutoSchema):
    """drf-spectacular's schema of an operation, naming the token scope it needs
    (``labpanel.accounts.scopes``) as ``x-token-scope`` and in its description, and the
    ``Idempotency-Key`` header its POST takes."""

    def get_override_parameters(self) -> list[Any]:
        """The view's own, and ``Idempotency-Key`` on the POSTs of views that honour it
        (``labpanel.idempotency``)."""
        from labpanel.idempotency.views import IdempotentPosts

        parameters = list(super().get_override_parameters())
        if self.method == "POST" and isinstance(self.view, IdempotentPosts):
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        action = getattr(self.view, "action", None) or self.method.lower()
        scope = view_required_scope(self.view, action)
        if scope is not None:
            operation["x-token-scope"] = scope
            sentence = f"Token scope: `{scope}`."
            description = operation.get("description", "")
            operation["description"] = f"{description}\n\n{sentence}" if description else sentence
        return operation
