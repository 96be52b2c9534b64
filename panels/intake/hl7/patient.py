"""The PID segment: the patient a group of orders belongs to (MRN and its assigning authority,
name, birth date, sex), as written, with what is missing or out of table reported."""

from __future__ import annotations

from typing import Any

from panels.intake.hl7.segments import SegmentReader, quote
from panels.intake.hl7.types import OruPatient, ProblemCode

__all__ = ["SEXES", "read_pid"]

#: HL7 table 0001 (administrative sex).
SEXES = frozenset({"F", "M", "O", "U", "A", "N"})


def read_pid(reader: SegmentReader, segment: Any, index: int) -> OruPatient:
    """The patient of the PID at position ``index``; problems go to ``reader``."""
    mrn = reader.text(segment, 3, 1)
    authority = reader.text(segment, 3, 4, 1) or reader.text(segment, 3, 4, 2)
    if not mrn.strip():
        reader.problem(
            ProblemCode.MISSING_PATIENT_ID,
            "PID-3 (patient identifier list) is required: its first ID is the MRN",
            field=3, component=1,
        )  # fmt: skip
    family = reader.text(segment, 5, 1, 1)
    given = reader.text(segment, 5, 2)
    if not family.strip():
        reader.problem(
            ProblemCode.MISSING_PATIENT_NAME,
            "PID-5.1 (family name) is required",
            field=5, component=1,
        )  # fmt: skip
    birth_date = reader.text(segment, 7, 1)
    reader.check_datetime(birth_date, "PID-7 (date of birth)", 7)
    sex = reader.text(segment, 8, 1)
    if sex and sex not in SEXES:
        reader.problem(
            ProblemCode.BAD_SEX,
            f"PID-8 {quote(sex)} is not in HL7 table 0001 (F, M, O, U, A, N)",
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
