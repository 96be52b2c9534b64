"""``IdempotentPosts``: the API views' POSTs honour an ``Idempotency-Key`` header.

After authentication, permissions and rate limits (DRF's ``initial``), a POST with a key claims
it (``services.idempotency_claim``): a key answered before sends that first answer again
(status, type and body, marked ``Idempotent-Replayed: true``; what it read is recorded in the
read audit again), without doing the work; a key sent with another body or path is answered
422, one whose first request is still being answered 409. Otherwise the handler runs inside one
transaction that also stores its answer (the services' own transactions become savepoints of
it), so the work and the stored answer commit together. A request without the header is
untouched."""

from __future__ import annotations

import hashlib
from typing import Any, cast

from django.db import transaction
from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.audit.services import READS_ATTRIBUTE, read_record
from labpanel.idempotency.services import (
    Replay,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    key_clean,
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class _Replayed(Exception):
    def __init__(self, replay: Replay) -> None:
        super().__init__("replayed")
        self.replay = replay


def request_fingerprint(request: Request) -> str:
    """SHA-256 of ``request``'s body: its bytes; for a multipart upload, of its fields and of
    each file's content (read in chunks, then rewound for the view)."""
    digest = hashlib.sha256()
    content_type = request.content_type or ""
    digest.update(content_type.partition(";")[0].encode())
    if content_type.startswith("multipart/"):
        data: Any = request.data  # a QueryDict of the fields and files
        for name in sorted(data.keys()):
            digest.update(b"\0" + name.encode())
            for value in data.getlist(name):
                if hasattr(value, "chunks"):
                    for chunk in value.chunks():
                        digest.update(chunk)
                    value.seek(0)
                else:
                    digest.update(b"\0" + str(value).encode())
    else:
        digest.update(request._request.body)
    return digest.hexdigest()


def _owner(request: Request) -> str:
    digest = getattr(request.auth, "digest", None)
    return f"token:{digest}" if digest else f"user:{request.user.pk}"


class IdempotentPosts:
    """A DRF view mixin (before the view class): its POSTs honour ``Idempotency-Key``."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return
        claim = idempotency_claim(
            owner=_owner(request),
            key=key_clean(key),
            path=request.path,
            fingerprint=request_fingerprint(request),
        )
        if isinstance(claim, Replay):
            raise _Replayed(claim)
        handler = cast(Any, self).post

        def post_once(request: Request, *args: Any, **kwargs: Any) -> Any:
            try:
                with transaction.atomic():
                    try:
                        response = handler(request, *args, **kwargs)
                    except Exception as exc:
                        response = self.handle_exception(exc)
                    response = self._rendered(request, response)
                    idempotency_complete(
                        claim_id=claim,
                        status_code=response.status_code,
                        content_type=response.get("Content-Type", ""),
                        body=bytes(response.content),
                        reads=list(request._request.__dict__.get(READS_ATTRIBUTE, [])),
                    )
            except BaseException:
                idempotency_release(claim_id=claim)
                raise
            return response

        self.post = post_once

    def _rendered(self, request: Request, response: Any) -> Any:
        """``response`` as it will be sent (DRF's ``finalize_response``, rendered)."""
        response = self.finalize_response(request, response)  # type: ignore[attr-defined]
        if isinstance(response, Response) or hasattr(response, "render"):
            response.render()
        return response

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, _Replayed):
            replay = exc.replay
            for read in replay.reads:
                read_record(request=cast(Any, self).request, **read)
            response = HttpResponse(
                replay.body, status=replay.status_code, content_type=replay.content_type
            )
            response[REPLAYED_HEADER] = "true"
            return response
        return super().handle_exception(exc)  # type: ignore[misc]
