"""HL7 v2.5.1 ORU^R01 (ER7) in, :class:`OruParse` out. Never raises: whatever is wrong becomes a
:class:`Hl7Problem`.

python-hl7 splits the message (fields, repetitions, components, sub-components, with the
separators MSH-1 and MSH-2 declare) and unescapes values; this module refuses what is not one
ER7 message and walks the segment groups (PID, then ORC/OBR, then OBX/SPM). The segments are
read by ``header`` (MSH), ``patient`` (PID), ``order`` (OBR) and ``observations`` (OBX) through
``segments``. Values stay the strings the sender wrote: a result is never converted to a number,
a timestamp never to a datetime. Batches are split by ``batch``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict

import hl7

from panels.intake.hl7.batch import BATCH_SEGMENTS, read_batch, split_batch
from panels.intake.hl7.header import Header, check_encoding, fallback_header, read_msh
from panels.intake.hl7.observations import read_obx
from panels.intake.hl7.order import OrderBuilder, read_obr, read_spm
from panels.intake.hl7.patient import read_pid
from panels.intake.hl7.segments import CONTROL, SegmentReader, Where, normalize_segments
from panels.intake.hl7.types import OruOrder, OruParse, OruPatient, ProblemCode

# read_batch and split_batch are read from here by their callers, with parse_oru.
__all__ = ["parse_oru", "read_batch", "split_batch"]

#: Segments the ORU^R01 v2.5.1 structure allows (Z-segments are ignored separately).
ORU_R01_SEGMENTS = frozenset(
    {
        "MSH", "SFT", "PID", "PD1", "NTE", "NK1", "PV1", "PV2", "ORC", "OBR", "TQ1", "TQ2",
        "CTD", "OBX", "FT1", "CTI", "SPM", "SAC", "DSC",
    }
)  # fmt: skip
_PATIENT_SEGMENTS = frozenset({"PD1", "NK1", "PV1", "PV2"})
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}\Z")


class _Parser(SegmentReader):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message
        self.header = Header()

    def result(self, orders: Iterable[OruOrder] = ()) -> OruParse:
        return OruParse(**asdict(self.header), orders=tuple(orders), problems=tuple(self.problems))

    def reject(self, code: ProblemCode, message: str, *, field: int | None = None) -> OruParse:
        self.problem(code, message, field=field, severity="reject")
        return self.result()

    def run(self) -> OruParse:
        if not isinstance(self.message, str):
            return self.reject(ProblemCode.NOT_ER7, "the message is not text")
        segments = normalize_segments(self.message)
        if not segments:
            return self.reject(ProblemCode.EMPTY_MESSAGE, "the message is empty")
        first = segments[0]
        self.header = fallback_header(first)
        if first[:3] in ("FHS", "BHS"):
            self.where = Where(first[:3], 1, 1)
            return self.reject(
                ProblemCode.BATCH_NOT_SPLIT,
                "a batch or file: send its messages one by one, or split it first",
            )
        if first[:3] != "MSH":
            return self.reject(ProblemCode.NOT_ER7, "the message does not start with an MSH")
        self.where = Where("MSH", 1, 1)
        for index, segment in enumerate(segments, start=1):
            if (match := CONTROL.search(segment)) is not None:
                self.where = Where(segment[:3], index, 0)
                return self.reject(
                    ProblemCode.NOT_ER7,
                    f"segment {index} contains the control character U+{ord(match.group()):04X}",
                )
        if (reason := check_encoding(first)) is not None:
            return self.reject(ProblemCode.BAD_ENCODING_CHARACTERS, reason, field=2)
        for index, segment in enumerate(segments[1:], start=2):
            if segment[:3] == "MSH":
                self.where = Where("MSH", index, 2)
                return self.reject(
                    ProblemCode.MULTIPLE_MESSAGES,
                    "a second MSH: one message per transmission (split batches first)",
                )
            if segment[:3] in BATCH_SEGMENTS:
                self.where = Where(segment[:3], index, 1)
                return self.reject(
                    ProblemCode.BATCH_NOT_SPLIT, "batch envelope segment inside a message"
                )
        try:
            self.parsed = hl7.parse("\r".join(segments))
        except Exception:
            return self.reject(ProblemCode.NOT_ER7, "the message cannot be split into fields")
        if not read_msh(self, self.header):
            return self.result()
        return self.result(self.walk())

    def walk(self) -> list[OruOrder]:
        orders: list[OrderBuilder] = []
        occurrences: dict[str, int] = {"MSH": 1}
        patient: OruPatient | None = None
        patient_where: Where | None = None
        patient_count = 0
        patient_orders = 0
        order: OrderBuilder | None = None
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
            self.where = Where(name, index, occurrences[name])
            if not _SEGMENT_ID.match(name):
                self.where = Where("", index, 0)
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
                patient = read_pid(self, segment, index)
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
                order = read_obr(self, segment, index, patient, patient_count)
                orders.append(order)
                patient_orders += 1
                orphan = False
            elif name == "OBX":
                if order is None:
                    if not orphan:
                        self.problem(ProblemCode.SEGMENT_SEQUENCE, "OBX before any OBR")
                    continue
                read_obx(self, segment, index, order)
            elif name == "SPM":
                if order is None:
                    if not orphan:
                        self.problem(ProblemCode.SEGMENT_SEQUENCE, "SPM before any OBR")
                    continue
                read_spm(self, segment, index, order)
            # NTE, SFT, TQ1, TQ2, CTD, FT1, CTI, SAC, DSC: allowed, carry nothing we store
        close_patient()
        for built in orders:
            if not built.observations:
                self.problem(
                    ProblemCode.NO_OBSERVATIONS,
                    "this OBR has no OBX: it reports no result",
                    where=Where("OBR", built.obr_index, 0),
                )
        if not orders and patient_count == 0:
            self.problem(
                ProblemCode.NO_ORDERS,
                "the message has no PID/OBR/OBX groups: it reports no result",
                where=Where("", 0, 0),
            )
        return [built.build() for built in orders]


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
