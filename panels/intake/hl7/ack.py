"""The HL7 v2.5.1 original-mode acknowledgement (ACK^R01^ACK) for an ORU^R01.

MSH: sender and receiver swapped from the original MSH, its own MSH-10, MSH-7 from ``now``.
MSA: MSA-1 the acknowledgment code, MSA-2 the original MSH-10, MSA-3 an optional text.
ERR: one per problem: ERR-2 location (ERL: segment ID ^ segment sequence ^ field position ^
field repetition ^ component), ERR-3 the HL7 table 0357 code, ERR-4 severity, ERR-5 the
application's problem code, ERR-8 the user message.

The ACK uses the standard delimiters ``|^~\\&`` whatever the original used, and is pure ASCII:
values go through python-hl7's escaping (``\\F\\ \\S\\ \\R\\ \\T\\ \\E\\``, line breaks as
``\\.br\\``, Latin-1 characters as ``\\Xhh\\``); a character beyond Latin-1 is written
``U+XXXX`` and other control characters become spaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

import hl7

from panels.intake.hl7.parse import parse_oru
from panels.intake.hl7.segments import normalize_segments
from panels.intake.hl7.types import AckCode, Hl7Problem, OruParse, ProblemCode

__all__ = ["HL7_ERROR_CODES", "TABLE_0357", "ack_code_of", "build_ack", "escape_text"]

ACK_VERSION = "2.5.1"

#: HL7 table 0357 (message error condition codes).
TABLE_0357: Mapping[str, str] = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}

#: Problem code -> table 0357 code. A code not listed here is reported as 207.
HL7_ERROR_CODES: Mapping[str, str] = {
    ProblemCode.EMPTY_MESSAGE: "100",
    ProblemCode.NOT_ER7: "100",
    ProblemCode.BAD_ENCODING_CHARACTERS: "102",
    ProblemCode.BATCH_NOT_SPLIT: "100",
    ProblemCode.MULTIPLE_MESSAGES: "100",
    ProblemCode.UNSUPPORTED_MESSAGE_TYPE: "200",
    ProblemCode.UNSUPPORTED_EVENT: "201",
    ProblemCode.UNSUPPORTED_VERSION: "203",
    ProblemCode.UNSUPPORTED_PROCESSING_ID: "202",
    ProblemCode.MISSING_CONTROL_ID: "101",
    ProblemCode.UNSUPPORTED_CHARSET: "103",
    ProblemCode.UNDECODABLE_CHARSET: "102",
    ProblemCode.MESSAGE_TOO_LARGE: "207",
    ProblemCode.INTERNAL_ERROR: "207",
    ProblemCode.INVALID_SEGMENT: "100",
    ProblemCode.UNEXPECTED_SEGMENT: "100",
    ProblemCode.SEGMENT_SEQUENCE: "100",
    ProblemCode.NO_ORDERS: "100",
    ProblemCode.NO_OBSERVATIONS: "100",
    ProblemCode.PATIENT_WITHOUT_ORDERS: "100",
    ProblemCode.MISSING_PATIENT_ID: "101",
    ProblemCode.MISSING_PATIENT_NAME: "101",
    ProblemCode.BAD_SEX: "103",
    ProblemCode.BAD_DATETIME: "102",
    ProblemCode.MISSING_ACCESSION: "101",
    ProblemCode.MISSING_SERVICE_ID: "101",
    ProblemCode.MISSING_COLLECTION_TIME: "101",
    ProblemCode.MISSING_OBSERVATION_CODE: "101",
    ProblemCode.DUPLICATE_OBSERVATION: "205",
    ProblemCode.MISSING_VALUE_TYPE: "101",
    ProblemCode.UNSUPPORTED_VALUE_TYPE: "102",
    ProblemCode.VALUE_EMPTY: "101",
    ProblemCode.VALUE_NOT_NUMERIC: "102",
    ProblemCode.VALUE_RANGE: "102",
    ProblemCode.VALUE_EXPONENT: "102",
    ProblemCode.VALUE_DECIMAL_COMMA: "102",
    ProblemCode.VALUE_NEGATIVE: "102",
    ProblemCode.VALUE_REPEATED: "102",
    ProblemCode.MISSING_UNIT: "101",
    ProblemCode.MISSING_RESULT_STATUS: "101",
    ProblemCode.BAD_RESULT_STATUS: "103",
    ProblemCode.BAD_ESCAPE: "102",
    ProblemCode.BATCH_STRUCTURE: "100",
}

_ACK_CODES = ("AA", "AE", "AR")
_ESCAPER = hl7.Message(None, [], "\\", "\r|~^&")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BEYOND_LATIN1 = re.compile(r"[^\x00-\xff]")
_EVENT = re.compile(r"[A-Z0-9]{3}\Z")


def escape_text(text: str) -> str:
    """``text`` as one ER7 value under ``|^~\\&``: delimiters escaped, pure ASCII."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    text = _CONTROL.sub(" ", text)
    text = _BEYOND_LATIN1.sub(lambda match: f"U+{ord(match.group()):04X}", text)
    return str(_ESCAPER.escape(text))


def _error_location(problem: Hl7Problem) -> str:
    if not problem.segment:
        return ""
    parts = [
        escape_text(problem.segment),
        str(problem.segment_occurrence or problem.segment_index or ""),
    ]
    if problem.field is not None:
        parts += [str(problem.field), str(problem.repetition or 1)]
        if problem.component is not None:
            parts.append(str(problem.component))
    return "^".join(parts).rstrip("^")


def _err_segment(problem: Hl7Problem, severity: str) -> str:
    hl7_code = problem.hl7_error_code or HL7_ERROR_CODES.get(problem.code, "207")
    hl7_text = TABLE_0357.get(hl7_code, "")
    fields = [
        "ERR",
        "",  # ERR-1 (ELD): withdrawn in favour of ERR-2
        _error_location(problem),
        f"{escape_text(hl7_code)}^{escape_text(hl7_text)}^HL70357",
        severity,
        escape_text(str(problem.code)),
        "",  # ERR-6 application error parameter
        "",  # ERR-7 diagnostic information
        escape_text(problem.message),
    ]
    return "|".join(fields)


def _timestamp(now: datetime) -> str:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (MSH-7 carries the offset)")
    return now.strftime("%Y%m%d%H%M%S%z")


def build_ack(
    original: OruParse | str,
    *,
    code: AckCode,
    problems: Sequence[Hl7Problem] = (),
    text: str = "",
    now: datetime,
    control_id: str,
    receiving_application: str = "LABPANEL",
    receiving_facility: str | None = None,
) -> str:
    """The ACK text ("\\r" after every segment) for ``original``.

    ``original`` is the :class:`OruParse` of the message, or its raw text when there is no parse
    (it is then parsed here for its MSH; an unreadable MSH leaves those fields empty).
    ``receiving_application``/``receiving_facility`` name this service (the original's
    receiver), and become the ACK's MSH-3/MSH-4; the facility defaults to the original MSH-6.
    Raises ``ValueError`` only for a caller's mistake: an unknown ``code``, an empty
    ``control_id`` or a naive ``now``.
    """
    if code not in _ACK_CODES:
        raise ValueError(f"code must be one of {', '.join(_ACK_CODES)}, not {code!r}")
    if not control_id.strip():
        raise ValueError("control_id (the ACK's own MSH-10) must not be empty")
    header = parse_oru(original) if isinstance(original, str) else original
    component = header.encoding_characters[:1] or "^"
    type_parts = header.message_type.split(component)
    trigger = type_parts[1] if len(type_parts) > 1 and _EVENT.match(type_parts[1]) else "R01"
    facility = header.receiving_facility if receiving_facility is None else receiving_facility
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            escape_text(receiving_application),
            escape_text(facility),
            escape_text(header.sending_application),
            escape_text(header.sending_facility),
            _timestamp(now),
            "",
            f"ACK^{trigger}^ACK",
            escape_text(control_id),
            escape_text(header.processing_id[:1] or "P"),
            ACK_VERSION,
        ]
    )
    msa = f"MSA|{code}|{escape_text(header.control_id)}" + (f"|{escape_text(text)}" if text else "")
    severity = "W" if code == "AA" else "E"
    segments = [msh, msa, *(_err_segment(problem, severity) for problem in problems)]
    return "\r".join(segments) + "\r"


def ack_code_of(ack: str) -> str:
    """MSA-1 of an ACK ("" when it has none or cannot be read): for clients, logs and benches."""
    try:
        return str(hl7.parse("\r".join(normalize_segments(ack))).segment("MSA")(1))
    except Exception:
        return ""
