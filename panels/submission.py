"""The submission: what one panel says, as every way in hands it over, and its one builder.

``PanelSubmission`` (with ``PatientData``, ``ResultData``, ``EventData``) is built in one place,
``panel_submission_build``, by every intake path (the JSON API, file-import staging, HL7). The
builder runs every check the paths share, so that no path forgets one: a result reported twice
for one analyte, a specimen collected before the patient's birth date, a specimen received by
the laboratory before it was collected. Each path also calls the
same checks (``specimen_problems``, ``results_problems``) where it reports its own problems, to
name them in its own terms (a JSON field, a file row and column, an HL7 segment and field).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

import orjson
from django.contrib.auth.models import User
from django.utils import timezone

from panels.notation import ReportedValue
from reference_ranges.models import Analyte

COLLECTED_BEFORE_BIRTH = "collected_before_birth"
RECEIVED_BEFORE_COLLECTION = "received_before_collection"
DUPLICATE_ANALYTE = "duplicate_analyte"


@dataclass(frozen=True, slots=True)
class PatientData:
    mrn: str
    family_name: str
    given_name: str
    birth_date: date | None
    sex: str


@dataclass(frozen=True, slots=True)
class ResultData:
    analyte: Analyte
    analyte_as_received: str
    raw_value: str
    reported: ReportedValue
    unit: str
    dilution_factor: Decimal | None = None
    sender_range: str = ""  # e.g. HL7 OBX-7: the sender's range, stored as sent, never used
    sender_flags: str = ""  # e.g. HL7 OBX-8
    method: str = ""  # as the sender stated it (HL7 OBX-17, an export's format); "" unstated
    instrument: str = ""  # as the sender stated it (HL7 OBX-18, an export's serial or name)


@dataclass(frozen=True, slots=True)
class EventData:
    kind: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class PanelSubmission:
    accession: str
    patient: PatientData
    specimen_type: str
    collected_at: datetime
    ordering_clinician: User
    results: tuple[ResultData, ...]
    clinical: Mapping[str, Decimal | bool | str] = field(default_factory=dict)
    events: tuple[EventData, ...] = ()
    is_baseline: bool = False  # the lab marks this specimen as the patient's baseline
    # when the laboratory received the specimen, as it states it; None: not stated (never guessed)
    received_at: datetime | None = None
    specimen_condition: str = ""  # as the lab states it ("Hemolyzed"); "" when not stated

    def content_sha256(self) -> str:
        """A hash of what was said, independent of result order and analyte spelling."""
        content = {
            "accession": self.accession,
            "patient": {
                "mrn": self.patient.mrn,
                "family_name": self.patient.family_name,
                "given_name": self.patient.given_name,
                "birth_date": self.patient.birth_date.isoformat()
                if self.patient.birth_date
                else None,
                "sex": self.patient.sex,
            },
            "specimen": {
                "type": self.specimen_type,
                "collected_at": self.collected_at.isoformat(),
                # only when marked, so that hashes of unmarked panels stay as they were
                **({"is_baseline": True} if self.is_baseline else {}),
                # only when stated, so that hashes of panels without them stay as they were
                **({"received_at": self.received_at.isoformat()} if self.received_at else {}),
                **({"condition": self.specimen_condition} if self.specimen_condition else {}),
            },
            "ordering_clinician": self.ordering_clinician.get_username(),
            "clinical": {name: json_value(value) for name, value in self.clinical.items()},
            "events": sorted([event.kind, event.occurred_at.isoformat()] for event in self.events),
            "results": sorted(
                [
                    result.analyte.code,
                    result.reported.text,
                    result.unit,
                    json_value(result.dilution_factor),
                    # only when given, so that hashes of panels without them stay as they were
                    *(
                        [result.sender_range, result.sender_flags]
                        if result.sender_range or result.sender_flags
                        else []
                    ),
                    *(
                        [{"method": result.method, "instrument": result.instrument}]
                        if result.method or result.instrument
                        else []
                    ),
                ]
                for result in self.results
            ),
        }
        return hashlib.sha256(canonical_json(content)).hexdigest()


def canonical_json(content: Any) -> bytes:
    """``json.dumps(content, sort_keys=True, separators=(",", ":"))``, the form content hashes
    were first made with, as bytes: made by orjson (the cheaper encoder) whenever that gives the
    same bytes, i.e. when the text is printable ASCII (json escapes everything else)."""
    fast = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    if fast.isascii() and b"\x7f" not in fast:
        return fast
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def json_value(value: Decimal | bool | str | None) -> Any:
    return format(value, "f") if isinstance(value, Decimal) else value


@dataclass(frozen=True, slots=True)
class SubmissionProblem:
    """One shared check failed. ``field`` names it as the JSON API does
    (``specimen.collected_at``, ``results[2].analyte``); ``position`` is the offending result's
    index and ``first_position`` the index of the result it repeats."""

    field: str
    code: str
    message: str
    position: int | None = None
    first_position: int | None = None


class SubmissionInvalid(ValueError):
    """The builder refused a submission; ``problems`` says why (never empty)."""

    def __init__(self, problems: Sequence[SubmissionProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))


def collected_on(collected_at: datetime, zone: tzinfo | None = None) -> date:
    """The lab's calendar day of collection (``zone``: the lab's clock, default the current)."""
    return timezone.localdate(collected_at, zone)


def specimen_problems(
    *,
    birth_date: date | None,
    collected_at: datetime,
    received_at: datetime | None = None,
    zone: tzinfo | None = None,
) -> list[SubmissionProblem]:
    """A specimen cannot be collected before the patient was born (an age would be negative),
    nor received by the laboratory before it was collected."""
    problems: list[SubmissionProblem] = []
    if birth_date is not None and collected_on(collected_at, zone) < birth_date:
        problems.append(
            SubmissionProblem(
                field="specimen.collected_at",
                code=COLLECTED_BEFORE_BIRTH,
                message="collected before the patient's birth date",
            )
        )
    if received_at is not None and received_at < collected_at:
        problems.append(
            SubmissionProblem(
                field="specimen.received_at",
                code=RECEIVED_BEFORE_COLLECTION,
                message="received before the specimen was collected",
            )
        )
    return problems


def results_problems(analyte_codes: Sequence[str]) -> list[SubmissionProblem]:
    """One result per analyte in a panel: every repeat is named with the first it repeats."""
    problems: list[SubmissionProblem] = []
    seen: dict[str, int] = {}
    for index, code in enumerate(analyte_codes):
        first = seen.setdefault(code, index)
        if first != index:
            problems.append(
                SubmissionProblem(
                    field=f"results[{index}].analyte",
                    code=DUPLICATE_ANALYTE,
                    message=f"{code} is already reported at results[{first}]",
                    position=index,
                    first_position=first,
                )
            )
    return problems


def panel_submission_build(
    *,
    accession: str,
    patient: PatientData,
    specimen_type: str,
    collected_at: datetime,
    ordering_clinician: User,
    results: Sequence[ResultData],
    clinical: Mapping[str, Decimal | bool | str] | None = None,
    events: Sequence[EventData] = (),
    received_at: datetime | None = None,
    specimen_condition: str = "",
    zone: tzinfo | None = None,
    is_baseline: bool = False,
) -> PanelSubmission:
    """The one way to build a ``PanelSubmission``: every shared check first.

    Raises ``SubmissionInvalid`` naming every failed check (``zone``: the lab's clock, for the
    day of collection). The fields themselves (accession, names, dates...) are cleaned by the
    path with ``panels.intake.validation`` before they get here.
    """
    problems = [
        *specimen_problems(
            birth_date=patient.birth_date,
            collected_at=collected_at,
            received_at=received_at,
            zone=zone,
        ),
        *results_problems([result.analyte.code for result in results]),
    ]
    if problems:
        raise SubmissionInvalid(problems)
    return PanelSubmission(
        accession=accession,
        patient=patient,
        specimen_type=specimen_type,
        collected_at=collected_at,
        ordering_clinician=ordering_clinician,
        results=tuple(results),
        clinical=dict(clinical) if clinical is not None else {},
        events=tuple(events),
        is_baseline=is_baseline,
        received_at=received_at,
        specimen_condition=specimen_condition,
    )
