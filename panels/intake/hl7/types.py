"""What the HL7 v2 layer hands to the application: frozen dataclasses, plain strings.

Every value is a ``str`` exactly as the sender wrote it (after HL7 unescaping); nothing is
converted to a number or a date here. Positions are 1-based, as in HL7: ``segment_index`` is the
segment's position in the message (MSH is 1), ``field`` the HL7 field number (OBX-5 is 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Severity = Literal["error", "reject"]
AckCode = Literal["AA", "AE", "AR"]


class ProblemCode(StrEnum):
    """Why a message, or part of it, cannot be used. The value is what ``Hl7Problem.code`` holds.

    Codes marked *reject* make the whole message unusable (ACK AR); the others are content
    errors in a well-formed message (ACK AE).
    """

    # reject: the message itself
    EMPTY_MESSAGE = "EMPTY_MESSAGE"
    NOT_ER7 = "NOT_ER7"
    BAD_ENCODING_CHARACTERS = "BAD_ENCODING_CHARACTERS"
    BATCH_NOT_SPLIT = "BATCH_NOT_SPLIT"
    MULTIPLE_MESSAGES = "MULTIPLE_MESSAGES"
    UNSUPPORTED_MESSAGE_TYPE = "UNSUPPORTED_MESSAGE_TYPE"
    UNSUPPORTED_EVENT = "UNSUPPORTED_EVENT"
    UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"
    UNSUPPORTED_PROCESSING_ID = "UNSUPPORTED_PROCESSING_ID"
    MISSING_CONTROL_ID = "MISSING_CONTROL_ID"
    UNSUPPORTED_CHARSET = "UNSUPPORTED_CHARSET"
    UNDECODABLE_CHARSET = "UNDECODABLE_CHARSET"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # error: content of a well-formed message
    INVALID_SEGMENT = "INVALID_SEGMENT"
    UNEXPECTED_SEGMENT = "UNEXPECTED_SEGMENT"
    SEGMENT_SEQUENCE = "SEGMENT_SEQUENCE"
    NO_ORDERS = "NO_ORDERS"
    NO_OBSERVATIONS = "NO_OBSERVATIONS"
    PATIENT_WITHOUT_ORDERS = "PATIENT_WITHOUT_ORDERS"
    MISSING_PATIENT_ID = "MISSING_PATIENT_ID"
    MISSING_PATIENT_NAME = "MISSING_PATIENT_NAME"
    BAD_SEX = "BAD_SEX"
    BAD_DATETIME = "BAD_DATETIME"
    MISSING_ACCESSION = "MISSING_ACCESSION"
    MISSING_SERVICE_ID = "MISSING_SERVICE_ID"
    MISSING_COLLECTION_TIME = "MISSING_COLLECTION_TIME"
    MISSING_OBSERVATION_CODE = "MISSING_OBSERVATION_CODE"
    DUPLICATE_OBSERVATION = "DUPLICATE_OBSERVATION"
    MISSING_VALUE_TYPE = "MISSING_VALUE_TYPE"
    UNSUPPORTED_VALUE_TYPE = "UNSUPPORTED_VALUE_TYPE"
    VALUE_EMPTY = "VALUE_EMPTY"
    VALUE_NOT_NUMERIC = "VALUE_NOT_NUMERIC"
    VALUE_RANGE = "VALUE_RANGE"
    VALUE_EXPONENT = "VALUE_EXPONENT"
    VALUE_DECIMAL_COMMA = "VALUE_DECIMAL_COMMA"
    VALUE_NEGATIVE = "VALUE_NEGATIVE"
    VALUE_REPEATED = "VALUE_REPEATED"
    MISSING_UNIT = "MISSING_UNIT"
    MISSING_RESULT_STATUS = "MISSING_RESULT_STATUS"
    BAD_RESULT_STATUS = "BAD_RESULT_STATUS"
    BAD_ESCAPE = "BAD_ESCAPE"
    BATCH_STRUCTURE = "BATCH_STRUCTURE"


@dataclass(frozen=True, slots=True)
class Hl7Problem:
    """One thing wrong with a message, located the way an ERR-2 (ERL) locates it.

    ``message`` is meant for the sender (it becomes ERR-8) and for logs: it never contains a
    patient's name, identifier or birth date. ``segment_occurrence`` is the ERL-2 segment
    sequence (2 for the second OBX); ``hl7_error_code`` overrides the HL7 table 0357 code the
    ACK would otherwise derive from ``code``.
    """

    segment: str
    segment_index: int
    field: int | None
    component: int | None
    code: str
    message: str
    severity: Severity
    repetition: int | None = None
    segment_occurrence: int | None = None
    hl7_error_code: str | None = None


@dataclass(frozen=True, slots=True)
class OruPatient:
    mrn: str  # PID-3.1 of the first identifier
    mrn_assigning_authority: str  # PID-3.4 (HD namespace ID, else universal ID)
    family_name: str  # PID-5.1 (surname)
    given_name: str  # PID-5.2
    birth_date: str  # PID-7 as written
    sex: str  # PID-8 as written (HL7 table 0001: F M O U A N)
    pid_index: int  # segment position of the PID


@dataclass(frozen=True, slots=True)
class OruObservation:
    set_id: str  # OBX-1
    value_type: str  # OBX-2
    code: str  # OBX-3.1
    text: str  # OBX-3.2
    coding_system: str  # OBX-3.3
    sub_id: str  # OBX-4
    value_raw: str  # OBX-5 as written, unescaped
    comparator: str  # "", "<", "<=", ">", ">="
    value_text: str | None  # Labpanel notation ("<1.5"); None when OBX-5 is not one number
    unit: str  # OBX-6.1
    unit_text: str  # OBX-6.2
    sender_range: str  # OBX-7 as written (the sender's range: stored, never interpreted)
    sender_flags: tuple[str, ...]  # OBX-8 repetitions
    status: str  # OBX-11 (HL7 table 0085)
    observed_at: str  # OBX-14 as written
    segment_index: int
    method: str = ""  # OBX-17 (CWE): its text, else its code; "" when not sent
    instrument: str = ""  # OBX-18.1 (EI entity identifier); "" when not sent


@dataclass(frozen=True, slots=True)
class OruOrder:
    patient: OruPatient
    accession: str  # OBR-3.1 filler order number, else OBR-2.1 placer order number
    placer_order_number: str  # OBR-2.1
    filler_order_number: str  # OBR-3.1
    universal_service_id: str  # OBR-4.2 text (OBR-4.1 when there is no text)
    universal_service_code: str  # OBR-4.1
    collected_at: str  # OBR-7 as written
    ordering_provider_id: str  # OBR-16.1
    specimen_type: str  # SPM-4 (code, else text) when an SPM exists, else OBR-15, else ""
    observations: tuple[OruObservation, ...]
    obr_index: int  # segment position of the OBR
    patient_index: int  # 1 for the message's first PID group, 2 for the second...
    # SPM-18 (specimen received date/time) when an SPM sends it, else OBR-14, else ""; where
    # it was read: (segment ID, segment position, field number)
    received_at: str = ""
    received_at_where: tuple[str, int, int] = ("", 0, 0)
    specimen_condition: str = ""  # SPM-24 as text (table 0493 codes in words), "" if not sent
    spm_index: int = 0  # segment position of the order's SPM, 0 when it has none


@dataclass(frozen=True, slots=True)
class OruParse:
    control_id: str  # MSH-10
    sending_application: str  # MSH-3.1
    sending_facility: str  # MSH-4.1
    message_datetime: str  # MSH-7 as written
    version: str  # MSH-12.1
    message_type: str  # MSH-9 as written, e.g. "ORU^R01^ORU_R01"
    encoding_characters: str  # MSH-2
    field_separator: str  # MSH-1
    orders: tuple[OruOrder, ...]
    problems: tuple[Hl7Problem, ...]
    receiving_application: str = ""  # MSH-5.1
    receiving_facility: str = ""  # MSH-6.1
    processing_id: str = ""  # MSH-11.1 (P, T, D)
    character_set: str = ""  # MSH-18 as written

    @property
    def rejected(self) -> bool:
        """The message itself is unusable: answer AR."""
        return any(problem.severity == "reject" for problem in self.problems)

    @property
    def ack_code(self) -> AckCode:
        """AR if rejected, AE if any content error, else AA (send AA only after the commit)."""
        if self.rejected:
            return "AR"
        return "AE" if self.problems else "AA"

    @property
    def observation_count(self) -> int:
        return sum(len(order.observations) for order in self.orders)
