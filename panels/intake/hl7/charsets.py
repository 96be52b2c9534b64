"""MLLP character sets: a frame's bytes decoded in the set its MSH-18 (first repetition) names,
UTF-8 when it names none. A declared set this module does not know, or bytes that do not decode
in the chosen one, give a reject problem (the MSH is then read as ISO 8859-1 just to address the
AR): the handler is never called with text that might be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from panels.intake.hl7.types import Hl7Problem, ProblemCode

__all__ = ["CHARSETS", "DecodedPayload", "decode_payload"]

#: MSH-18 values (HL7 table 0211) this module decodes, and the Python codec for each.
CHARSETS: dict[str, str] = {
    "": "utf-8",
    "ASCII": "ascii",
    "UNICODE UTF-8": "utf-8",
    "8859/1": "latin-1",
    "8859/2": "iso8859-2",
    "8859/3": "iso8859-3",
    "8859/4": "iso8859-4",
    "8859/5": "iso8859-5",
    "8859/6": "iso8859-6",
    "8859/7": "iso8859-7",
    "8859/8": "iso8859-8",
    "8859/9": "iso8859-9",
    "8859/15": "iso8859-15",
}


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    text: str
    encoding: str  # the Python codec used
    problem: Hl7Problem | None  # a reject problem: the text is only good for addressing an AR


def _declared_charset(payload: bytes) -> str:
    first = payload.replace(b"\n", b"\r").split(b"\r", 1)[0]
    if not first.startswith(b"MSH") or len(first) < 5:
        return ""
    fields = first.split(first[3:4])
    if len(fields) < 18:
        return ""
    repetition = fields[1][1:2] or b"~"
    return fields[17].split(repetition)[0].decode("latin-1").strip()


def decode_payload(payload: bytes) -> DecodedPayload:
    """Decode a frame's bytes in the character set MSH-18 names (UTF-8 when it names none)."""
    declared = _declared_charset(payload)
    codec = CHARSETS.get(declared.upper())
    if codec is None:
        return _refused(
            payload,
            ProblemCode.UNSUPPORTED_CHARSET,
            f"MSH-18 character set {declared[:40]!r} is not supported "
            f"(accepted: {', '.join(name or '(none: UTF-8)' for name in CHARSETS)})",
        )
    try:
        return DecodedPayload(payload.decode(codec), codec, None)
    except UnicodeDecodeError as error:
        return _refused(
            payload,
            ProblemCode.UNDECODABLE_CHARSET,
            f"byte {error.start} is not {codec} (MSH-18 is {declared or 'empty: UTF-8'}); "
            "declare the character set the message is written in",
        )


def _refused(payload: bytes, code: ProblemCode, message: str) -> DecodedPayload:
    """``payload`` read as ISO 8859-1 (only to address the AR) with the reject problem on MSH-18."""
    problem = Hl7Problem(
        "MSH", 1, 18, None, code, message, "reject", repetition=1, segment_occurrence=1
    )
    return DecodedPayload(payload.decode("latin-1"), "latin-1", problem)
