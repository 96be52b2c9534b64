"""HL7 v2.5.1 ORU^R01 (ER7) in, :class:`OruParse` out. Never raises: whatever is wrong becomes a
:class:`Hl7Problem`.

python-hl7 splits the message (fields, repetitions, components, sub-components, with the
separators MSH-1 and MSH-2 declare) and unescapes values; this module walks the segment groups
(PID, then ORC/OBR, then OBX/SPM) and checks the content. Values stay the strings the sender
wrote: a result is never converted to a number, a timestamp never to a datetime.

Before a value is handed to python-hl7's unescaping, its escape sequences are checked here: the
library silently drops an unterminated sequence and logs the whole field (a patient's name,
perhaps) on an unknown one, so a value with a sequence it would not decode faithfully is kept as
written and reported instead. ``\\Xhh..\\`` decodes each byte to the code point of the same
number (ISO 8859-1), as python-hl7 does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import hl7

from panels.intake.hl7.types import (
    Hl7Problem,
    OruObservation,
    OruOrder,
    OruParse,
    OruPatient,
    ProblemCode,
    Severity,
)

__all__ = ["Hl7Batch", "normalize_segments", "parse_oru", "read_batch", "split_batch"]

SUPPORTED_VERSIONS = frozenset({"2.5.1"})
#: HL7 table 0085 (observation result status).
RESULT_STATUSES = frozenset({"C", "D", "F", "I", "N", "O", "P", "R", "S", "U", "W", "X"})
#: Statuses that legitimately come without an OBX-5 (deleted, pending, not asked, cannot obtain...).
STATUSES_WITHOUT_VALUE = frozenset({"D", "I", "N", "O", "U", "W", "X"})
#: HL7 table 0001 (administrative sex).
SEXES = frozenset({"F", "M", "O", "U", "A", "N"})
#: Segments the ORU^R01 v2.5.1 structure allows (Z-segments are ignored separately).
ORU_R01_SEGMENTS = frozenset(
    {
        "MSH", "SFT", "PID", "PD1", "NTE", "NK1", "PV1", "PV2", "ORC", "OBR", "TQ1", "TQ2",
        "CTD", "OBX", "FT1", "CTI", "SPM", "SAC", "DSC",
    }
)  # fmt: skip
_BATCH_SEGMENTS = frozenset({"FHS", "BHS", "BTS", "FTS"})
_PATIENT_SEGMENTS = frozenset({"PD1", "NK1", "PV1", "PV2"})

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}\Z")
_DTM = re.compile(
    r"[0-9]{4}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:\.[0-9]{1,4})?)?)?)?)?)?"
    r"(?:[+-][0-9]{4})?\Z"
)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?\Z")
_EXPONENT = re.compile(r"[+-]?[0-9]*[.,]?[0-9]+[eE][+-]?[0-9]+\Z")
_VALID_ESCAPE = re.compile(
    r"(?:[FSTREHN]|X(?:[0-9A-Fa-f]{2})+|\.(?:br|sp|fi|nf|in|ti|sk|ce)[0-9]{0,3})\Z"
)
# Highlighting on/off carries no data: drop it rather than python-hl7's default "_".
_APP_MAP = {"H": "", "N": ""}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Comparators the lab notation knows, longest first; SN's "=" means no comparator.
_ST_COMPARATORS = (("<=", "<="), (">=", ">="), ("≤", "<="), ("≥", ">="), ("<", "<"), (">", ">"))
_SN_COMPARATORS = {"": "", "=": "", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_HL7_NULL = '""'
_QUOTE_LIMIT = 40


def normalize_segments(text: str) -> list[str]:
    """Split ER7 text into its non-blank segments; ``\\r``, ``\\n`` and ``\\r\\n`` all end one."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    return [segment for segment in text.split("\r") if segment.strip()]


def _quote(value: str) -> str:
    shown = value if len(value) <= _QUOTE_LIMIT else value[:_QUOTE_LIMIT] + "…"
    return repr(shown)


# --------------------------------------------------------------------------------------------
# Batches


@dataclass(frozen=True, slots=True)
class Hl7Batch:
    messages: tuple[str, ...]  # each "\r"-separated and "\r"-terminated
    problems: tuple[Hl7Problem, ...]


def read_batch(text: str) -> Hl7Batch:
    """Split an FHS/BHS...BTS/FTS batch (or several bare MSH messages) into messages.

    The envelope segments are dropped. Segments outside any message and a BTS-1 count that
    differs from the messages actually in its batch are reported (severity "error").
    """
    messages: list[list[str]] = []
    problems: list[Hl7Problem] = []
    current: list[str] | None = None
    in_batch = 0
    for index, segment in enumerate(normalize_segments(text), start=1):
        segment_id = segment[:3]
        if segment_id == "MSH":
            current = [segment]
            messages.append(current)
            in_batch += 1
        elif segment_id in _BATCH_SEGMENTS:
            current = None
            if segment_id == "BHS":
                in_batch = 0
            elif segment_id == "BTS":
                declared = segment[4:].split(segment[3], 1)[0] if len(segment) > 4 else ""
                if declared.strip() and declared.strip() != str(in_batch):
                    problems.append(
                        Hl7Problem(
                            "BTS", index, 1, None, ProblemCode.BATCH_STRUCTURE,
                            f"BTS-1 declares {_quote(declared.strip())} messages but the batch "
                            f"holds {in_batch}",
                            "error",
                        )
                    )  # fmt: skip
        elif current is None:
            problems.append(
                Hl7Problem(
                    segment_id, index, None, None, ProblemCode.BATCH_STRUCTURE,
                    "segment outside any message (before an MSH or after a batch trailer)",
                    "error",
                )
            )  # fmt: skip
        else:
            current.append(segment)
    return Hl7Batch(
        messages=tuple("\r".join(message) + "\r" for message in messages),
        problems=tuple(problems),
    )


def split_batch(text: str) -> list[str]:
    """The messages of a batch or file, envelope segments dropped (see :func:`read_batch`)."""
    return list(read_batch(text).messages)


# --------------------------------------------------------------------------------------------
# Reading fields out of python-hl7's tree: Segment > Field > Repetition > Component > str.
# A level holding no separator is a plain str instead of a container.


def _field_node(segment: Any, number: int) -> Any:
    if number < 1 or number >= len(segment):
        return None
    return segment[number]


def _repetitions(segment: Any, number: int) -> list[Any]:
    node = _field_node(segment, number)
    if node is None:
        return []
    reps = list(node)
    if len(reps) == 1 and str(reps[0]) == "":
        return []
    return reps


def _components(repetition: Any) -> list[Any]:
    return [repetition] if isinstance(repetition, str) else list(repetition)


def _subcomponents(component: Any) -> list[str]:
    return [component] if isinstance(component, str) else [str(part) for part in component]


def _raw(
    segment: Any, number: int, rep: int = 1, comp: int | None = None, sub: int | None = None
) -> str:
    """The escaped text of a repetition, component or sub-component ("" when absent)."""
    reps = _repetitions(segment, number)
    if rep > len(reps):
        return ""
    repetition = reps[rep - 1]
    if comp is None:
        return str(repetition)
    comps = _components(repetition)
    if comp > len(comps):
        return ""
    component = comps[comp - 1]
    if sub is None:
        return str(component)
    subs = _subcomponents(component)
    return subs[sub - 1] if sub <= len(subs) else ""


def _whole(segment: Any, number: int) -> str:
    """The escaped text of a whole field, every repetition included."""
    node = _field_node(segment, number)
    return "" if node is None else str(node)


# --------------------------------------------------------------------------------------------
# The parser


@dataclass
class _Where:
    segment: str
    index: int
    occurrence: int


@dataclass
class _OrderBuilder:
    patient: OruPatient
    patient_index: int
    obr_index: int
    accession: str
    placer: str
    filler: str
    service_text: str
    service_code: str
    collected_at: str
    provider: str
    obr_specimen: str
    spm_specimen: str | None = None
    observations: list[OruObservation] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)

    def build(self) -> OruOrder:
        return OruOrder(
            patient=self.patient,
            accession=self.accession,
            placer_order_number=self.placer,
            filler_order_number=self.filler,
            universal_service_id=self.service_text or self.service_code,
            universal_service_code=self.service_code,
            collected_at=self.collected_at,
            ordering_provider_id=self.provider,
            specimen_type=self.spm_specimen if self.spm_specimen is not None else self.obr_specimen,
            observations=tuple(self.observations),
            obr_index=self.obr_index,
            patient_index=self.patient_index,
        )


@dataclass
class _Header:
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


def _fallback_header(first: str) -> _Header:
    """Best effort on an MSH the library cannot be trusted with: plain splits, no unescaping."""
    header = _Header()
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


def _check_encoding(first: str) -> str | None:
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


class _Parser:
    def __init__(self, message: str) -> None:
        self.message = message
        self.problems: list[Hl7Problem] = []
        self.header = _Header()
        self.where = _Where("", 0, 0)
        self.parsed: Any = None

    # -- problems --------------------------------------------------------------------------

    def problem(
        self,
        code: ProblemCode,
        message: str,
        *,
        field: int | None = None,
        component: int | None = None,
        repetition: int | None = None,
        severity: Severity = "error",
        where: _Where | None = None,
    ) -> None:
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

    def result(self, orders: Iterable[OruOrder] = ()) -> OruParse:
        h = self.header
        return OruParse(
            control_id=h.control_id,
            sending_application=h.sending_application,
            sending_facility=h.sending_facility,
            message_datetime=h.message_datetime,
            version=h.version,
            message_type=h.message_type,
            encoding_characters=h.encoding_characters,
            field_separator=h.field_separator,
            orders=tuple(orders),
            problems=tuple(self.problems),
            receiving_application=h.receiving_application,
            receiving_facility=h.receiving_facility,
            processing_id=h.processing_id,
            character_set=h.character_set,
        )

    def reject(self, code: ProblemCode, message: str, *, field: int | None = None) -> OruParse:
        self.problem(code, message, field=field, severity="reject")
        return self.result()

    # -- values ----------------------------------------------------------------------------

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
                if _CONTROL.search(value):
                    reason = "an escape sequence decodes to a control character"
                else:
                    return value
        elif _CONTROL.search(raw):  # pragma: no cover - refused for the whole message earlier
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
        raw = _raw(segment, number, rep, comp, sub)
        label = f"{self.where.segment}-{number}" + (f".{comp}" if comp else "")
        return self.unescape(raw, label, field=number, component=comp, rep=rep)

    def check_datetime(self, value: str, label: str, number: int) -> None:
        if value and not _DTM.match(value):
            self.problem(
                ProblemCode.BAD_DATETIME,
                f"{label} is not an HL7 date/time (YYYY[MM[DD[HHMM[SS[.SSSS]]]]][+/-ZZZZ])",
                field=number,
            )

    # -- the walk --------------------------------------------------------------------------

    def run(self) -> OruParse:
        if not isinstance(self.message, str):
            return self.reject(ProblemCode.NOT_ER7, "the message is not text")
        segments = normalize_segments(self.message)
        if not segments:
            return self.reject(ProblemCode.EMPTY_MESSAGE, "the message is empty")
        first = segments[0]
        self.header = _fallback_header(first)
        if first[:3] in ("FHS", "BHS"):
            self.where = _Where(first[:3], 1, 1)
            return self.reject(
                ProblemCode.BATCH_NOT_SPLIT,
                "a batch or file: send its messages one by one, or split it first",
            )
        if first[:3] != "MSH":
            return self.reject(ProblemCode.NOT_ER7, "the message does not start with an MSH")
        self.where = _Where("MSH", 1, 1)
        for index, segment in enumerate(segments, start=1):
            if (match := _CONTROL.search(segment)) is not None:
                self.where = _Where(segment[:3], index, 0)
                return self.reject(
                    ProblemCode.NOT_ER7,
                    f"segment {index} contains the control character U+{ord(match.group()):04X}",
                )
        if (reason := _check_encoding(first)) is not None:
            return self.reject(ProblemCode.BAD_ENCODING_CHARACTERS, reason, field=2)
        for index, segment in enumerate(segments[1:], start=2):
            if segment[:3] == "MSH":
                self.where = _Where("MSH", index, 2)
                return self.reject(
                    ProblemCode.MULTIPLE_MESSAGES,
                    "a second MSH: one message per transmission (split batches first)",
                )
            if segment[:3] in _BATCH_SEGMENTS:
                self.where = _Where(segment[:3], index, 1)
                return self.reject(
                    ProblemCode.BATCH_NOT_SPLIT, "batch envelope segment inside a message"
                )
        try:
            self.parsed = hl7.parse("\r".join(segments))
        except Exception:
            return self.reject(ProblemCode.NOT_ER7, "the message cannot be split into fields")
        if not self.read_msh():
            return self.result()
        return self.result(self.walk())

    def read_msh(self) -> bool:
        msh = self.parsed[0]
        h = self.header
        h.field_separator = str(_raw(msh, 1))
        h.encoding_characters = str(_raw(msh, 2))
        h.sending_application = self.text(msh, 3, 1, 1)
        h.sending_facility = self.text(msh, 4, 1, 1)
        h.receiving_application = self.text(msh, 5, 1, 1)
        h.receiving_facility = self.text(msh, 6, 1, 1)
        h.message_datetime = self.text(msh, 7, 1)
        h.message_type = self.text(msh, 9, rep=1)
        h.control_id = self.text(msh, 10)
        h.processing_id = self.text(msh, 11, 1)
        h.version = self.text(msh, 12, 1)
        h.character_set = self.text(msh, 18)
        message_code, trigger = self.text(msh, 9, 1), self.text(msh, 9, 2)
        if message_code != "ORU":
            self.problem(
                ProblemCode.UNSUPPORTED_MESSAGE_TYPE,
                f"MSH-9 message type {_quote(message_code)}: only ORU^R01 is accepted",
                field=9, component=1, severity="reject",
            )  # fmt: skip
        elif trigger != "R01":
            self.problem(
                ProblemCode.UNSUPPORTED_EVENT,
                f"MSH-9 trigger event {_quote(trigger)}: only ORU^R01 is accepted",
                field=9, component=2, severity="reject",
            )  # fmt: skip
        if h.version not in SUPPORTED_VERSIONS:
            self.problem(
                ProblemCode.UNSUPPORTED_VERSION,
                f"MSH-12 version {_quote(h.version)}: only "
                f"{', '.join(sorted(SUPPORTED_VERSIONS))} is accepted",
                field=12, severity="reject",
            )  # fmt: skip
        if not h.control_id.strip():
            self.problem(
                ProblemCode.MISSING_CONTROL_ID,
                "MSH-10 (message control ID) is required",
                field=10, severity="reject",
            )  # fmt: skip
        if any(problem.severity == "reject" for problem in self.problems):
            return False
        if not h.message_datetime:
            self.problem(
                ProblemCode.BAD_DATETIME, "MSH-7 (date/time of message) is required", field=7
            )
        self.check_datetime(h.message_datetime, "MSH-7", 7)
        return True

    def walk(self) -> list[OruOrder]:
        orders: list[_OrderBuilder] = []
        occurrences: dict[str, int] = {"MSH": 1}
        patient: OruPatient | None = None
        patient_where: _Where | None = None
        patient_count = 0
        patient_orders = 0
        order: _OrderBuilder | None = None
        orphan = False  # inside an OBR group that could not be built: its OBX are not reported

        def close_patient() -> None:
            if patient_where is not None and patient_orders == 0:
                self.problem(
                    ProblemCode.PATIENT_WITHOUT_ORDERS,
                    "this PID group has no OBR: it reports no result",
                    where=patient_where,
                )

        for index, segment in enumerate(list(self.parsed)[1:], start=2):
            name = str(segment[0])
            occurrences[name] = occurrences.get(name, 0) + 1
            self.where = _Where(name, index, occurrences[name])
            if not _SEGMENT_ID.match(name):
                self.where = _Where("", index, 0)
                self.problem(
                    ProblemCode.INVALID_SEGMENT,
                    f"segment {index} does not start with a segment ID "
                    "(a line break inside a field?)",
                )
                continue
            if name.startswith("Z"):
                continue
            if name not in ORU_R01_SEGMENTS:
                self.problem(
                    ProblemCode.UNEXPECTED_SEGMENT, f"{name} has no place in an ORU^R01 message"
                )
                continue
            if name == "PID":
                close_patient()
                patient_count += 1
                patient_orders = 0
                patient = self.read_pid(segment, index)
                patient_where = self.where
                order, orphan = None, False
            elif name in _PATIENT_SEGMENTS:
                if patient is None:
                    self.problem(ProblemCode.SEGMENT_SEQUENCE, f"{name} before any PID")
            elif name == "ORC":
                order, orphan = None, False
            elif name == "OBR":
                if patient is None:
                    self.problem(
                        ProblemCode.SEGMENT_SEQUENCE, "OBR before any PID: whose result is it?"
                    )
                    order, orphan = None, True
                    continue
                order = self.read_obr(segment, index, patient, patient_count)
                orders.append(order)
                patient_orders += 1
                orphan = False
            elif name == "OBX":
                if order is None:
                    if not orphan:
                        self.problem(ProblemCode.SEGMENT_SEQUENCE, "OBX before any OBR")
                    continue
                self.read_obx(segment, index, order)
            elif name == "SPM":
                if order is None:
                    if not orphan:
                        self.problem(ProblemCode.SEGMENT_SEQUENCE, "SPM before any OBR")
                    continue
                if order.spm_specimen is None:
                    order.spm_specimen = self.text(segment, 4, 1) or self.text(segment, 4, 2)
            # NTE, SFT, TQ1, TQ2, CTD, FT1, CTI, SAC, DSC: allowed, carry nothing we store
        close_patient()
        for built in orders:
            if not built.observations:
                self.problem(
                    ProblemCode.NO_OBSERVATIONS,
                    "this OBR has no OBX: it reports no result",
                    where=_Where("OBR", built.obr_index, 0),
                )
        if not orders and patient_count == 0:
            self.problem(
                ProblemCode.NO_ORDERS,
                "the message has no PID/OBR/OBX groups: it reports no result",
                where=_Where("", 0, 0),
            )
        return [built.build() for built in orders]

    def read_pid(self, segment: Any, index: int) -> OruPatient:
        mrn = self.text(segment, 3, 1)
        authority = self.text(segment, 3, 4, 1) or self.text(segment, 3, 4, 2)
        if not mrn.strip():
            self.problem(
                ProblemCode.MISSING_PATIENT_ID,
                "PID-3 (patient identifier list) is required: its first ID is the MRN",
                field=3, component=1,
            )  # fmt: skip
        family = self.text(segment, 5, 1, 1)
        given = self.text(segment, 5, 2)
        if not family.strip():
            self.problem(
                ProblemCode.MISSING_PATIENT_NAME,
                "PID-5.1 (family name) is required",
                field=5, component=1,
            )  # fmt: skip
        birth_date = self.text(segment, 7, 1)
        self.check_datetime(birth_date, "PID-7 (date of birth)", 7)
        sex = self.text(segment, 8, 1)
        if sex and sex not in SEXES:
            self.problem(
                ProblemCode.BAD_SEX,
                f"PID-8 {_quote(sex)} is not in HL7 table 0001 (F, M, O, U, A, N)",
                field=8,
            )
        return OruPatient(
            mrn=mrn,
            mrn_assigning_authority=authority,
            family_name=family,
            given_name=given,
            birth_date=birth_date,
            sex=sex,
            pid_index=index,
        )

    def read_obr(
        self, segment: Any, index: int, patient: OruPatient, patient_index: int
    ) -> _OrderBuilder:
        placer = self.text(segment, 2, 1)
        filler = self.text(segment, 3, 1)
        accession = (filler.strip() and filler) or placer
        if not accession.strip():
            self.problem(
                ProblemCode.MISSING_ACCESSION,
                "OBR-3 (filler order number) or OBR-2 (placer order number) is required: "
                "it is the accession",
                field=3, component=1,
            )  # fmt: skip
        service_code, service_text = self.text(segment, 4, 1), self.text(segment, 4, 2)
        if not (service_code.strip() or service_text.strip()):
            self.problem(
                ProblemCode.MISSING_SERVICE_ID,
                "OBR-4 (universal service identifier) is required",
                field=4,
            )
        collected_at = self.text(segment, 7, 1)
        if not collected_at:
            self.problem(
                ProblemCode.MISSING_COLLECTION_TIME,
                "OBR-7 (observation/collection date/time) is required",
                field=7,
            )
        self.check_datetime(collected_at, "OBR-7", 7)
        specimen = self.text(segment, 15, 1, 1) or self.text(segment, 15, 1, 2)
        return _OrderBuilder(
            patient=patient,
            patient_index=patient_index,
            obr_index=index,
            accession=accession,
            placer=placer,
            filler=filler,
            service_text=service_text,
            service_code=service_code,
            collected_at=collected_at,
            provider=self.text(segment, 16, 1),
            obr_specimen=specimen,
        )

    def read_obx(self, segment: Any, index: int, order: _OrderBuilder) -> None:
        value_type = self.text(segment, 2, 1)
        code = self.text(segment, 3, 1)
        sub_id = self.text(segment, 4)
        if not code.strip():
            self.problem(
                ProblemCode.MISSING_OBSERVATION_CODE,
                "OBX-3.1 (observation identifier) is required",
                field=3, component=1,
            )  # fmt: skip
        elif (code, sub_id) in order.keys:
            self.problem(
                ProblemCode.DUPLICATE_OBSERVATION,
                f"OBX-3 {_quote(code)} is reported twice in this OBR (same OBX-4 sub-ID)",
                field=3, component=1,
            )  # fmt: skip
        order.keys.add((code, sub_id))
        status = self.text(segment, 11, 1)
        if not status:
            self.problem(
                ProblemCode.MISSING_RESULT_STATUS, "OBX-11 (result status) is required", field=11
            )
        elif status not in RESULT_STATUSES:
            self.problem(
                ProblemCode.BAD_RESULT_STATUS,
                f"OBX-11 {_quote(status)} is not in HL7 table 0085",
                field=11,
            )
        written = _whole(segment, 5)
        value_raw = self.unescape(written, "OBX-5", field=5)
        comparator, value_text = "", None
        if written in ("", _HL7_NULL):
            if status not in STATUSES_WITHOUT_VALUE:
                self.problem(ProblemCode.VALUE_EMPTY, "OBX-5 (the result) is empty", field=5)
        elif not value_type:
            self.problem(
                ProblemCode.MISSING_VALUE_TYPE, "OBX-2 (value type) is required with OBX-5", field=2
            )
        elif value_type not in ("NM", "SN", "ST"):
            self.problem(
                ProblemCode.UNSUPPORTED_VALUE_TYPE,
                f"OBX-2 {_quote(value_type)}: results are accepted as NM, SN or ST",
                field=2,
            )
        elif len(_repetitions(segment, 5)) > 1:
            self.problem(ProblemCode.VALUE_REPEATED, "OBX-5 repeats: one result per OBX", field=5)
        else:
            parsed = self.read_value(segment, value_type)
            if parsed is not None:
                comparator, digits = parsed
                value_text = comparator + digits
        unit = self.text(segment, 6, 1)
        if value_text is not None and not unit.strip():
            self.problem(
                ProblemCode.MISSING_UNIT,
                "OBX-6 (units) is required with a numeric result",
                field=6, component=1,
            )  # fmt: skip
        observed_at = self.text(segment, 14, 1)
        self.check_datetime(observed_at, "OBX-14", 14)
        flags = tuple(
            self.text(segment, 8, rep=number)
            for number in range(1, len(_repetitions(segment, 8)) + 1)
        )
        order.observations.append(
            OruObservation(
                set_id=self.text(segment, 1),
                value_type=value_type,
                code=code,
                text=self.text(segment, 3, 2),
                coding_system=self.text(segment, 3, 3),
                sub_id=sub_id,
                value_raw=value_raw,
                comparator=comparator,
                value_text=value_text,
                unit=unit,
                unit_text=self.text(segment, 6, 2),
                sender_range=self.unescape(_whole(segment, 7), "OBX-7", field=7),
                sender_flags=tuple(flag for flag in flags if flag),
                status=status,
                observed_at=observed_at,
                segment_index=index,
            )
        )

    def read_value(self, segment: Any, value_type: str) -> tuple[str, str] | None:
        """(comparator, digits) for a single number in OBX-5, or None after a problem."""
        components = _components(_repetitions(segment, 5)[0])
        if any(not isinstance(c, str) and len(c) > 1 for c in components):
            self.problem(
                ProblemCode.VALUE_NOT_NUMERIC, "OBX-5 has sub-components: not a number", field=5
            )
            return None
        if value_type == "SN":
            return self.read_structured_numeric(segment, len(components))
        if len(components) > 1:
            self.problem(
                ProblemCode.VALUE_NOT_NUMERIC,
                f"OBX-5 has components but OBX-2 is {value_type}; a structured value is "
                "written as SN",
                field=5,
            )
            return None
        text = self.text(segment, 5, 1).strip()
        comparator = ""
        if value_type == "NM" and text[:1] in ("<", ">", "≤", "≥"):
            self.problem(
                ProblemCode.VALUE_NOT_NUMERIC,
                f"OBX-5 {_quote(text)}: an NM value cannot carry a comparator; send it as SN "
                "(<^1.5) or ST (<1.5)",
                field=5,
            )
            return None
        if value_type == "ST":
            for written, normal in _ST_COMPARATORS:
                if text.startswith(written):
                    comparator, text = normal, text[len(written) :].strip()
                    break
        digits = self.number(text, f"OBX-5 ({value_type})", component=None)
        return None if digits is None else (comparator, digits)

    def read_structured_numeric(self, segment: Any, count: int) -> tuple[str, str] | None:
        if count == 1:
            self.problem(
                ProblemCode.VALUE_NOT_NUMERIC,
                "OBX-5 (SN) is written comparator^number, e.g. ^12.4 or <^1.5",
                field=5,
            )
            return None
        written = self.text(segment, 5, 1).strip()
        first = self.text(segment, 5, 2).strip()
        separator = self.text(segment, 5, 3).strip()
        second = self.text(segment, 5, 4).strip()
        if separator or second or count > 4:
            kinds = {"-": "a range", ":": "a ratio", "/": "a ratio", "+": "a categorical value"}
            # "^1^-^5" is the HL7 form; "1^-^5" (comparator slot left out) is seen too
            kind = kinds.get(separator) or kinds.get(first) or "not a single number"
            self.problem(
                ProblemCode.VALUE_RANGE,
                f"OBX-5 (SN) {_quote(_whole(segment, 5))} is {kind}, not one value",
                field=5, component=3 if separator else 4,
            )  # fmt: skip
            return None
        if written not in _SN_COMPARATORS:
            self.problem(
                ProblemCode.VALUE_NOT_NUMERIC,
                f"OBX-5.1 comparator {_quote(written)}: accepted are <, >, <=, >=, = or none",
                field=5, component=1,
            )  # fmt: skip
            return None
        digits = self.number(first, "OBX-5.2 (SN)", component=2)
        return None if digits is None else (_SN_COMPARATORS[written], digits)

    def number(self, text: str, label: str, component: int | None) -> str | None:
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
        self.problem(code, f"{label} {_quote(text)} {reason}", field=5, component=component)
        return None


def parse_oru(message: str) -> OruParse:
    """Parse one ER7 ORU^R01 message. Never raises; see :class:`OruParse` and ``problems``."""
    parser = _Parser(message)
    try:
        return parser.run()
    except Exception:  # a bug here must still produce an answer (AR), never a dropped socket
        parser.problems = []
        return parser.reject(
            ProblemCode.INTERNAL_ERROR, "the message could not be read (internal parser error)"
        )
