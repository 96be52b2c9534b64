"""Request bodies are capped while they stream in, never after they were received whole.

Three guards, each refusing with ``TooLarge`` (``413``) and reading no further:

- ``RequestBodyLimitMiddleware`` (first in ``MIDDLEWARE``): a body whose declared
  ``Content-Length`` is over ``REQUEST_BODY_MAX_BYTES`` is answered at once, nothing read; a
  chunked body without ``Content-Length`` (gunicorn de-chunks it and marks the input terminated)
  is read up to that limit into a temporary file, refused as soon as it passes it, and otherwise
  handed on with its length, so Django parses it as any other body.
- ``LimitedUploadHandler`` (first in ``FILE_UPLOAD_HANDLERS``): each uploaded file of a
  multipart body is counted chunk by chunk against the limit of its field (``field_limit``:
  an import's ``manifest``, else the import's file limit); once one passes it the upload
  stops (``StopUpload``, the rest of the body is not read) and the refusal is kept on the
  request.
- The view asks ``upload_refusal(request)`` after reading the form and answers the refusal:
  the imports API raises it, the import page shows it above the form.

Limits are settings with defaults (``labpanel.settings``), read per request so that tests and
deployments may change them.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse

from labpanel.exceptions import TooLarge

logger = logging.getLogger(__name__)

#: Bytes read from a chunked body at a time.
READ_CHUNK_BYTES = 64 * 1024
#: The request attribute that carries a refused upload's ``TooLarge``.
REFUSAL_ATTRIBUTE = "labpanel_upload_refused"


def upload_refusal(request: Any) -> TooLarge | None:
    """The ``TooLarge`` a limit raised while ``request``'s body was read, or ``None``.

    Accepts a Django ``HttpRequest`` or a DRF ``Request`` (which passes attributes through).
    """
    refusal = getattr(request, REFUSAL_ATTRIBUTE, None)
    return refusal if isinstance(refusal, TooLarge) else None


def upload_refusal_raise(request: Any) -> None:
    """Raise the refusal of ``request``'s upload, if a limit refused it."""
    refusal = upload_refusal(request)
    if refusal is not None:
        raise refusal


def field_limit(field_name: str) -> int:
    """The most bytes one uploaded file of ``field_name`` may have: ``IMPORT_MANIFEST_MAX_BYTES``
    for an import's ``manifest``, ``IMPORT_MAX_BYTES`` for its ``file`` and any other field."""
    if field_name == "manifest":
        return int(settings.IMPORT_MANIFEST_MAX_BYTES)
    return int(settings.IMPORT_MAX_BYTES)


def _refuse(request: HttpRequest, refusal: TooLarge) -> TooLarge:
    setattr(request, REFUSAL_ATTRIBUTE, refusal)
    return refusal


class LimitedUploadHandler(FileUploadHandler):
    """Counts each uploaded file's bytes as they arrive; stops the upload past its field's limit.

    Passes every chunk on unchanged to the next handler (memory or temporary file), so what is
    stored is never more than the limit plus one chunk.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = 0
        self.received = 0

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, *args, **kwargs)
        self.limit = field_limit(field_name)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            refusal = TooLarge(
                f"the {self.field_name} is over the limit of {self.limit} bytes; the upload was "
                "stopped there and nothing was stored",
                details=[
                    {
                        "field": self.field_name,
                        "message": f"larger than {self.limit} bytes",
                    }
                ],
            )
            if self.request is not None:
                _refuse(self.request, refusal)
            logger.info(
                "upload.refused field=%s limit=%d received=%d",
                self.field_name,
                self.limit,
                self.received,
            )
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _body_too_large(declared: int | None, limit: int) -> TooLarge:
    size = f"{declared} bytes" if declared is not None else "a chunked body"
    return TooLarge(
        f"the request body is over the limit of {limit} bytes ({size}); nothing was read or stored",
        details=[{"field": "body", "message": f"larger than {limit} bytes"}],
    )


def _declared_length(request: HttpRequest) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _is_chunked(request: HttpRequest) -> bool:
    encoding = str(request.META.get("HTTP_TRANSFER_ENCODING", "")).lower()
    return "chunked" in encoding and bool(request.META.get("wsgi.input_terminated"))


class RequestBodyLimitMiddleware:
    """The whole-body limit, before anything reads the body (CSRF, sessions, views)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit: int = settings.REQUEST_BODY_MAX_BYTES
        declared = _declared_length(request)
        if declared is not None and declared > limit:
            return self._answer(request, _body_too_large(declared, limit))
        if declared is None and _is_chunked(request):
            refusal = self._spool_chunked(request, limit)
            if refusal is not None:
                return self._answer(request, refusal)
        return self.get_response(request)

    def _spool_chunked(self, request: HttpRequest, limit: int) -> TooLarge | None:
        """Read the de-chunked body into a temporary file, at most ``limit`` + one chunk."""
        source = request.META["wsgi.input"]
        spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - owned by the request's stream
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        size = 0
        while True:
            chunk = source.read(min(READ_CHUNK_BYTES, limit + 1 - size))
            if not chunk:
                break
            spool.write(chunk)
            size += len(chunk)
            if size > limit:
                spool.close()
                return _body_too_large(None, limit)
        spool.seek(0)
        request.META["CONTENT_LENGTH"] = str(size)
        stream: Any = LimitedStream(cast(Any, spool), size)
        request._stream = stream
        request._read_started = False  # type: ignore[attr-defined]
        return None

    @staticmethod
    def _answer(request: HttpRequest, refusal: TooLarge) -> HttpResponse:
        logger.info("upload.refused path=%s %s", request.path, refusal.message)
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"code": refusal.code, "message": refusal.message, "details": refusal.details},
                status=refusal.http_status,
            )
        response = HttpResponse(
            f"{refusal.message}.\n", status=refusal.http_status, content_type="text/plain"
        )
        response["Connection"] = "close"
        return response


__all__ = [
    "LimitedUploadHandler",
    "RequestBodyLimitMiddleware",
    "upload_refusal",
    "upload_refusal_raise",
]
