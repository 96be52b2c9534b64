"""Reading ER7 segments: the text split into segments, python-hl7's tree read field by field
(Segment > Field > Repetition > Component > str; a level holding no separator is a plain str),
values unescaped, and every problem recorded where it was found.

:class:`SegmentReader` is what the segment readers of one message share (the MSH, patient, order
and observation readers all report through it). Before a value is handed to python-hl7's
unescaping, its escape sequences are checked here: the library silently drops an unterminated
sequence and logs the whole field (a patient's name, perhaps) on an unknown one, so a value with
a sequence it would not decode faithfully is kept as written and reported instead. ``\\Xhh..\\``
decodes each byte to the code point of the same number (ISO 8859-1), as python-hl7 does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from panels.intake.hl7.types import Hl7Problem, ProblemCode, Severity

__all__ = [
    "CONTROL",
    "SegmentReader",
    "Where",
    "components",
    "normalize_segments",
    "quote",
    "raw",
    "repetitions",
    "whole",
]

_DTM = re.compile(
    r"[0-9]{4}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:\.[0-9]{1,4})?)?)?)?)?)?"
    r"(?:[+-][0-9]{4})?\Z"
)
_VALID_ESCAPE = re.compile(
    r"(?:[FSTREHN]|X(?:[0-9A-Fa-f]{2})+|\.(?:br|sp|fi|nf|in|ti|sk|ce)[0-9]{0,3})\Z"
)
# Highlighting on/off carries no data: drop it rather than python-hl7's default "_".
_APP_MAP = {"H": "", "N": ""}
#: Control characters no ER7 value may hold (tab, line feed and carriage return excepted).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_QUOTE_LIMIT = 40


def normalize_segments(text: str) -> list[str]:
    """Split ER7 text into its non-blank segments; ``\\r``, ``\\n`` and ``\\r\\n`` all end one."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    return [segment for segment in text.split("\r") if segment.strip()]


def quote(value: str) -> str:
    """``value`` quoted for a problem message, cut after 40 characters."""
    shown = value if len(value) <= _QUOTE_LIMIT else value[:_QUOTE_LIMIT] + "…"
    return repr(shown)


def _field_node(segment: Any, number: int) -> Any:
    if number < 1 or number >= len(segment):
        return None
    return segment[number]


def repetitions(segment: Any, number: int) -> list[Any]:
    """The repetitions of field ``number`` ([] when it is absent or empty)."""
    node = _field_node(segment, number)
    if node is None:
        return []
    reps = list(node)
    if len(reps) == 1 and str(reps[0]) == "":
        return []
    return reps


def components(repetition: Any) -> list[Any]:
    """The components of one repetition."""
    return [repetition] if isinstance(repetition, str) else list(repetition)


def _subcomponents(component: Any) -> list[str]:
    return [component] if isinstance(component, str) else [str(part) for part in component]


def raw(
    segment: Any, number: int, rep: int = 1, comp: int | None = None, sub: int | None = None
) -> str:
    """The escaped text of a repetition, component or sub-component ("" when absent)."""
    reps = repetitions(segment, number)
    if rep > len(reps):
        return ""
    repetition = reps[rep - 1]
    if comp is None:
        return str(repetition)
    comps = components(repetition)
    if comp > len(comps):
        return ""
    component = comps[comp - 1]
    if sub is None:
        return str(component)
    subs = _subcomponents(component)
    return subs[sub - 1] if sub <= len(subs) else ""


def whole(segment: Any, number: int) -> str:
    """The escaped text of a whole field, every repetition included."""
    node = _field_node(segment, number)
    return "" if node is None else str(node)


@dataclass
class Where:
    """The segment being read: its ID, position in the message and occurrence (OBX^3)."""

    segment: str
    index: int
    occurrence: int


class SegmentReader:
    """One message being read: python-hl7's tree (``parsed``), the segment being read
    (``where``) and the problems found so far."""

    def __init__(self) -> None:
        self.problems: list[Hl7Problem] = []
        self.where = Where("", 0, 0)
        self.parsed: Any = None

    def problem(
        self,
        code: ProblemCode,
        message: str,
        *,
        field: int | None = None,
        component: int | None = None,
        repetition: int | None = None,
        severity: Severity = "error",
        where: Where | None = None,
    ) -> None:
        """Record a problem at ``where`` (default: the segment being read)."""
        at = where or self.where
        self.problems.append(
            Hl7Problem(
                segment=at.segment,
                segment_index=at.index,
                field=field,
                component=component,
                code=code,
                message=message,
                severity=severity,
                repetition=repetition if repetition is not None else (1 if field else None),
                segment_occurrence=at.occurrence or None,
            )
        )

    def unescape(
        self, raw: str, label: str, *, field: int, component: int | None = None, rep: int = 1
    ) -> str:
        """``raw`` unescaped by python-hl7, or kept as written (and reported) if it cannot be."""
        esc = self.parsed.esc
        reason: str | None = None
        if esc in raw:
            position = 0
            while (start := raw.find(esc, position)) != -1:
                end = raw.find(esc, start + 1)
                if end == -1:
                    reason = "an escape sequence is not terminated"
                    break
                if not _VALID_ESCAPE.match(raw[start + 1 : end]):
                    reason = "an escape sequence is empty, unknown or malformed"
                    break
                position = end + 1
            if reason is None:
                value = str(self.parsed.unescape(raw, _APP_MAP))
                if CONTROL.search(value):
                    reason = "an escape sequence decodes to a control character"
                else:
                    return value
        elif CONTROL.search(raw):  # pragma: no cover - refused for the whole message earlier
            reason = "the value contains a control character"
        if reason is None:
            return raw
        if any(
            known.code == ProblemCode.BAD_ESCAPE
            and known.segment_index == self.where.index
            and known.field == field
            for known in self.problems
        ):
            return raw  # already reported for this field
        self.problem(
            ProblemCode.BAD_ESCAPE,
            f"{label}: {reason}; the value is kept as written",
            field=field,
            component=component,
            repetition=rep,
        )
        return raw

    def text(
        self,
        segment: Any,
        number: int,
        comp: int | None = None,
        sub: int | None = None,
        *,
        rep: int = 1,
    ) -> str:
        """The unescaped text of a repetition, component or sub-component ("" when absent)."""
        written = raw(segment, number, rep, comp, sub)
        label = f"{self.where.segment}-{number}" + (f".{comp}" if comp else "")
        return self.unescape(written, label, field=number, component=comp, rep=rep)

    def check_datetime(self, value: str, label: str, number: int) -> None:
        """Report ``value`` unless it is empty or an HL7 date/time."""
        if value and not _DTM.match(value):
            self.problem(
                ProblemCode.BAD_DATETIME,
                f"{label} is not an HL7 date/time (YYYY[MM[DD[HHMM[SS[.SSSS]]]]][+/-ZZZZ])",
                field=number,
            )
