"""The MSH segment: the message header (sender, receiver, type, control ID, version, character
set), its delimiters checked before python-hl7 splits anything, and a best-effort reading of an
MSH the library cannot be trusted with (enough to address an AR)."""

from __future__ import annotations

from dataclasses import dataclass

from panels.intake.hl7.segments import SegmentReader, quote, raw
from panels.intake.hl7.types import ProblemCode

__all__ = ["SUPPORTED_VERSIONS", "Header", "check_encoding", "fallback_header", "read_msh"]

SUPPORTED_VERSIONS = frozenset({"2.5.1"})


@dataclass
class Header:
    """The MSH fields an :class:`OruParse` carries (same names), as written."""

    field_separator: str = ""
    encoding_characters: str = ""
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_datetime: str = ""
    message_type: str = ""
    control_id: str = ""
    processing_id: str = ""
    version: str = ""
    character_set: str = ""


def fallback_header(first: str) -> Header:
    """Best effort on an MSH the library cannot be trusted with: plain splits, no unescaping."""
    header = Header()
    if not first.startswith("MSH") or len(first) < 4:
        return header
    separator = first[3]
    parts = first.split(separator)
    component = parts[1][0] if len(parts) > 1 and parts[1] else "^"

    def msh(number: int, first_component: bool = True) -> str:
        value = parts[number - 1] if 1 < number <= len(parts) else ""
        return value.split(component)[0] if first_component else value

    header.field_separator = separator
    header.encoding_characters = msh(2, first_component=False)
    header.sending_application = msh(3)
    header.sending_facility = msh(4)
    header.receiving_application = msh(5)
    header.receiving_facility = msh(6)
    header.message_datetime = msh(7)
    header.message_type = msh(9, first_component=False)
    header.control_id = msh(10)
    header.processing_id = msh(11)
    header.version = msh(12)
    header.character_set = msh(18, first_component=False)
    return header


def check_encoding(first: str) -> str | None:
    """Why MSH-1/MSH-2 are unusable, or None."""
    if len(first) < 4:
        return "MSH ends before MSH-1 (the field separator)"
    separator = first[3]
    end = first.find(separator, 4)
    characters = first[4:] if end == -1 else first[4:end]
    if len(characters) != 4:
        return (
            f"MSH-2 must be the four encoding characters (component, repetition, escape, "
            f"sub-component), got {len(characters)}"
        )
    delimiters = separator + characters
    if len(set(delimiters)) != len(delimiters):
        return "MSH-1 and MSH-2 repeat a delimiter"
    if any(char.isalnum() or char.isspace() or ord(char) < 0x20 for char in delimiters):
        return "a delimiter in MSH-1/MSH-2 is a letter, digit, space or control character"
    return None


def read_msh(reader: SegmentReader, header: Header) -> bool:
    """Fill ``header`` from the parsed MSH; False when the message must be refused (AR)."""
    msh = reader.parsed[0]
    h = header
    h.field_separator = str(raw(msh, 1))
    h.encoding_characters = str(raw(msh, 2))
    h.sending_application = reader.text(msh, 3, 1, 1)
    h.sending_facility = reader.text(msh, 4, 1, 1)
    h.receiving_application = reader.text(msh, 5, 1, 1)
    h.receiving_facility = reader.text(msh, 6, 1, 1)
    h.message_datetime = reader.text(msh, 7, 1)
    h.message_type = reader.text(msh, 9, rep=1)
    h.control_id = reader.text(msh, 10)
    h.processing_id = reader.text(msh, 11, 1)
    h.version = reader.text(msh, 12, 1)
    h.character_set = reader.text(msh, 18)
    message_code, trigger = reader.text(msh, 9, 1), reader.text(msh, 9, 2)
    if message_code != "ORU":
        reader.problem(
            ProblemCode.UNSUPPORTED_MESSAGE_TYPE,
            f"MSH-9 message type {quote(message_code)}: only ORU^R01 is accepted",
            field=9, component=1, severity="reject",
        )  # fmt: skip
    elif trigger != "R01":
        reader.problem(
            ProblemCode.UNSUPPORTED_EVENT,
            f"MSH-9 trigger event {quote(trigger)}: only ORU^R01 is accepted",
            field=9, component=2, severity="reject",
        )  # fmt: skip
    if h.version not in SUPPORTED_VERSIONS:
        reader.problem(
            ProblemCode.UNSUPPORTED_VERSION,
            f"MSH-12 version {quote(h.version)}: only "
            f"{', '.join(sorted(SUPPORTED_VERSIONS))} is accepted",
            field=12, severity="reject",
        )  # fmt: skip
    if not h.control_id.strip():
        reader.problem(
            ProblemCode.MISSING_CONTROL_ID,
            "MSH-10 (message control ID) is required",
            field=10, severity="reject",
        )  # fmt: skip
    if any(problem.severity == "reject" for problem in reader.problems):
        return False
    if not h.message_datetime:
        reader.problem(
            ProblemCode.BAD_DATETIME, "MSH-7 (date/time of message) is required", field=7
        )
    reader.check_datetime(h.message_datetime, "MSH-7", 7)
    return True
