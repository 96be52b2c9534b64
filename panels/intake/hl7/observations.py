"""The OBX segment: one observation, its OBX-5 read as a single number (NM, SN or ST, with the
comparator kept) and its unit, status, flags, sender's range, method (OBX-17) and instrument
(OBX-18) taken as written.

A result is never converted to a number here: ``value_text`` is the digits the sender wrote,
with the comparator in Labpanel's notation (``<1.5``), or None with the reason reported (a
range, a ratio, an exponent, a decimal comma, a negative value: never guessed).
"""

from __future__ import annotations

import re
from typing import Any

from panels.intake.hl7.order import OrderBuilder
from panels.intake.hl7.segments import SegmentReader, components, quote, repetitions, whole
from panels.intake.hl7.types import OruObservation, ProblemCode

__all__ = ["RESULT_STATUSES", "STATUSES_WITHOUT_VALUE", "read_obx"]

#: HL7 table 0085 (observation result status).
RESULT_STATUSES = frozenset({"C", "D", "F", "I", "N", "O", "P", "R", "S", "U", "W", "X"})
#: Statuses that legitimately come without an OBX-5 (deleted, pending, not asked, cannot obtain...).
STATUSES_WITHOUT_VALUE = frozenset({"D", "I", "N", "O", "U", "W", "X"})
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?\Z")
_EXPONENT = re.compile(r"[+-]?[0-9]*[.,]?[0-9]+[eE][+-]?[0-9]+\Z")
# Comparators the lab notation knows, longest first; SN's "=" means no comparator.
_ST_COMPARATORS = (("<=", "<="), (">=", ">="), ("≤", "<="), ("≥", ">="), ("<", "<"), (">", ">"))
_SN_COMPARATORS = {"": "", "=": "", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_HL7_NULL = '""'


def read_obx(reader: SegmentReader, segment: Any, index: int, order: OrderBuilder) -> None:
    """Add the observation of the OBX at position ``index`` to ``order``; problems go to
    ``reader``."""
    value_type = reader.text(segment, 2, 1)
    code = reader.text(segment, 3, 1)
    sub_id = reader.text(segment, 4)
    if not code.strip():
        reader.problem(
            ProblemCode.MISSING_OBSERVATION_CODE,
            "OBX-3.1 (observation identifier) is required",
            field=3, component=1,
        )  # fmt: skip
    elif (code, sub_id) in order.keys:
        reader.problem(
            ProblemCode.DUPLICATE_OBSERVATION,
            f"OBX-3 {quote(code)} is reported twice in this OBR (same OBX-4 sub-ID)",
            field=3, component=1,
        )  # fmt: skip
    order.keys.add((code, sub_id))
    status = reader.text(segment, 11, 1)
    if not status:
        reader.problem(
            ProblemCode.MISSING_RESULT_STATUS, "OBX-11 (result status) is required", field=11
        )
    elif status not in RESULT_STATUSES:
        reader.problem(
            ProblemCode.BAD_RESULT_STATUS,
            f"OBX-11 {quote(status)} is not in HL7 table 0085",
            field=11,
        )
    written = whole(segment, 5)
    value_raw = reader.unescape(written, "OBX-5", field=5)
    comparator, value_text = "", None
    if written in ("", _HL7_NULL):
        if status not in STATUSES_WITHOUT_VALUE:
            reader.problem(ProblemCode.VALUE_EMPTY, "OBX-5 (the result) is empty", field=5)
    elif not value_type:
        reader.problem(
            ProblemCode.MISSING_VALUE_TYPE, "OBX-2 (value type) is required with OBX-5", field=2
        )
    elif value_type not in ("NM", "SN", "ST"):
        reader.problem(
            ProblemCode.UNSUPPORTED_VALUE_TYPE,
            f"OBX-2 {quote(value_type)}: results are accepted as NM, SN or ST",
            field=2,
        )
    elif len(repetitions(segment, 5)) > 1:
        reader.problem(ProblemCode.VALUE_REPEATED, "OBX-5 repeats: one result per OBX", field=5)
    else:
        parsed = _read_value(reader, segment, value_type)
        if parsed is not None:
            comparator, digits = parsed
            value_text = comparator + digits
    unit = reader.text(segment, 6, 1)
    if value_text is not None and not unit.strip():
        reader.problem(
            ProblemCode.MISSING_UNIT,
            "OBX-6 (units) is required with a numeric result",
            field=6, component=1,
        )  # fmt: skip
    observed_at = reader.text(segment, 14, 1)
    reader.check_datetime(observed_at, "OBX-14", 14)
    flags = tuple(
        reader.text(segment, 8, rep=number) for number in range(1, len(repetitions(segment, 8)) + 1)
    )
    order.observations.append(
        OruObservation(
            set_id=reader.text(segment, 1),
            value_type=value_type,
            code=code,
            text=reader.text(segment, 3, 2),
            coding_system=reader.text(segment, 3, 3),
            sub_id=sub_id,
            value_raw=value_raw,
            comparator=comparator,
            value_text=value_text,
            unit=unit,
            unit_text=reader.text(segment, 6, 2),
            sender_range=reader.unescape(whole(segment, 7), "OBX-7", field=7),
            sender_flags=tuple(flag for flag in flags if flag),
            status=status,
            observed_at=observed_at,
            segment_index=index,
            method=reader.text(segment, 17, 2).strip() or reader.text(segment, 17, 1).strip(),
            instrument=reader.text(segment, 18, 1).strip(),
        )
    )


def _read_value(reader: SegmentReader, segment: Any, value_type: str) -> tuple[str, str] | None:
    """(comparator, digits) for a single number in OBX-5, or None after a problem."""
    parts = components(repetitions(segment, 5)[0])
    if any(not isinstance(c, str) and len(c) > 1 for c in parts):
        reader.problem(
            ProblemCode.VALUE_NOT_NUMERIC, "OBX-5 has sub-components: not a number", field=5
        )
        return None
    if value_type == "SN":
        return _read_structured_numeric(reader, segment, len(parts))
    if len(parts) > 1:
        reader.problem(
            ProblemCode.VALUE_NOT_NUMERIC,
            f"OBX-5 has components but OBX-2 is {value_type}; a structured value is written as SN",
            field=5,
        )
        return None
    text = reader.text(segment, 5, 1).strip()
    comparator = ""
    if value_type == "NM" and text[:1] in ("<", ">", "≤", "≥"):
        reader.problem(
            ProblemCode.VALUE_NOT_NUMERIC,
            f"OBX-5 {quote(text)}: an NM value cannot carry a comparator; send it as SN "
            "(<^1.5) or ST (<1.5)",
            field=5,
        )
        return None
    if value_type == "ST":
        for written, normal in _ST_COMPARATORS:
            if text.startswith(written):
                comparator, text = normal, text[len(written) :].strip()
                break
    digits = _number(reader, text, f"OBX-5 ({value_type})", component=None)
    return None if digits is None else (comparator, digits)


def _read_structured_numeric(
    reader: SegmentReader, segment: Any, count: int
) -> tuple[str, str] | None:
    if count == 1:
        reader.problem(
            ProblemCode.VALUE_NOT_NUMERIC,
            "OBX-5 (SN) is written comparator^number, e.g. ^12.4 or <^1.5",
            field=5,
        )
        return None
    written = reader.text(segment, 5, 1).strip()
    first = reader.text(segment, 5, 2).strip()
    separator = reader.text(segment, 5, 3).strip()
    second = reader.text(segment, 5, 4).strip()
    if separator or second or count > 4:
        kinds = {"-": "a range", ":": "a ratio", "/": "a ratio", "+": "a categorical value"}
        # "^1^-^5" is the HL7 form; "1^-^5" (comparator slot left out) is seen too
        kind = kinds.get(separator) or kinds.get(first) or "not a single number"
        reader.problem(
            ProblemCode.VALUE_RANGE,
            f"OBX-5 (SN) {quote(whole(segment, 5))} is {kind}, not one value",
            field=5, component=3 if separator else 4,
        )  # fmt: skip
        return None
    if written not in _SN_COMPARATORS:
        reader.problem(
            ProblemCode.VALUE_NOT_NUMERIC,
            f"OBX-5.1 comparator {quote(written)}: accepted are <, >, <=, >=, = or none",
            field=5, component=1,
        )  # fmt: skip
        return None
    digits = _number(reader, first, "OBX-5.2 (SN)", component=2)
    return None if digits is None else (_SN_COMPARATORS[written], digits)


def _number(reader: SegmentReader, text: str, label: str, component: int | None) -> str | None:
    """``text`` if it is digits with an optional decimal point; else report why not."""
    if _NUMBER.match(text):
        return text
    if not text:
        code, reason = ProblemCode.VALUE_EMPTY, "has no number"
    elif text.startswith("-"):
        code, reason = ProblemCode.VALUE_NEGATIVE, "is negative: a concentration cannot be"
    elif _EXPONENT.match(text):
        code, reason = ProblemCode.VALUE_EXPONENT, "is written with an exponent: not stored"
    elif "," in text:
        code, reason = (
            ProblemCode.VALUE_DECIMAL_COMMA,
            "contains a comma: write decimals with '.' and no thousands separator",
        )
    else:
        code, reason = (
            ProblemCode.VALUE_NOT_NUMERIC,
            "is not a number (accepted: 12.4, <1.5, >5000; digits, optional '.' decimals)",
        )
    reader.problem(code, f"{label} {quote(text)} {reason}", field=5, component=component)
    return None
