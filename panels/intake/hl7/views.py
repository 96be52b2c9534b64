"""``POST /api/v1/hl7/``: an HL7 v2 ER7 message in the body, its ACK in the response body.

The body is read up to the MLLP listener's message limit (a larger one is a ``413``, nothing
archived) and decoded only in a character set HL7 names (table 0211, ``hl7.charsets``): any
other ``charset`` in ``Content-Type`` (``unicode_escape``, say) is refused, never guessed."""

from __future__ import annotations

import codecs
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.views import APIView

from labpanel.accounts.scopes import RESULTS_SUBMIT
from labpanel.exceptions import InvalidInput, TooLarge
from labpanel.idempotency.views import IdempotentPosts
from panels.intake.hl7.charsets import CHARSETS
from panels.intake.hl7.framing import DEFAULT_MAX_MESSAGE_SIZE
from panels.intake.hl7.services import hl7_receive_any
from panels.models import Transport

ACK_CONTENT_TYPE = "x-application/hl7-v2+er7; charset=utf-8"
MAX_BODY_BYTES = DEFAULT_MAX_MESSAGE_SIZE  # as over MLLP
#: The Python codecs of the character sets HL7 names (table 0211), by canonical name.
HL7_CODECS = frozenset(codecs.lookup(codec).name for codec in CHARSETS.values())


class Er7Parser(BaseParser):
    """Accepts the body as it is; the view decodes it (HL7 over HTTP uses several types)."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        if stream is None:
            return b""
        body: bytes = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge(f"the HL7 body is over {MAX_BODY_BYTES} bytes; nothing was stored")
        return body


class Hl7View(IdempotentPosts, APIView):
    parser_classes = [Er7Parser]
    required_scope = RESULTS_SUBMIT  # token scope (labpanel.accounts.scopes)

    @extend_schema(
        request={"x-application/hl7-v2+er7": OpenApiTypes.STR},
        responses={
            (200, "x-application/hl7-v2+er7"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The HL7 ACK: MSA-1 AA (stored), AE or AR (nothing stored) with "
                "ERR segments naming segment and field. The HTTP status is 200 whenever an "
                "ACK was produced; the ACK code is also in the X-HL7-Ack-Code header.",
            )
        },
    )
    def post(self, request: Request) -> HttpResponse:
        body = request.data if isinstance(request.data, bytes) else b""
        charset = request.content_type.partition("charset=")[2].strip() or "utf-8"
        try:
            known = codecs.lookup(charset).name in HL7_CODECS
        except LookupError:
            known = False
        if not known:
            raise InvalidInput(
                f"charset {charset!r} is not a character set HL7 names; send UTF-8, ASCII or "
                "ISO 8859-1…15 and declare it in Content-Type",
                details=[{"field": "Content-Type", "message": f"unsupported charset {charset}"}],
            )
        try:
            raw = body.decode(charset)
        except (LookupError, UnicodeDecodeError) as error:
            # Never guess an encoding: a mis-decoded name would be stored as another patient's.
            raise InvalidInput(
                f"the body is not valid {charset}; declare the charset in Content-Type",
                details=[{"field": "body", "message": str(error)}],
            ) from error
        outcome = hl7_receive_any(
            raw=raw,
            user=request.user,  # type: ignore[arg-type]
            transport=Transport.HTTP,
            raw_bytes=body,
        )
        response = HttpResponse(outcome.ack.encode("utf-8"), content_type=ACK_CONTENT_TYPE)
        response["X-HL7-Ack-Code"] = outcome.ack_code
        return response
