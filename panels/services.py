"""Panels: what every way in shares to store one panel (its patient, events, results, findings).

The submission types, the content hash, the engine's inputs for a submission and the row
builders. The ways in (``panels.intake``: the JSON submission, HL7, amendments, file imports)
orchestrate them; ``panels.intake.submission.panel_submit`` stores one panel.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from django.contrib.auth.models import User
from django.utils import timezone

from labpanel.accounts.models import Lab
from labpanel.exceptions import Conflict
from panels.interpretation import PanelConclusions, evidence_json
from panels.models import (
    Finding,
    Panel,
    Patient,
    PatientEvent,
    Result,
)
from panels.notation import ReportedValue
from reference_ranges.engine.types import Interpretation, Measurement
from reference_ranges.models import Analyte, ReferenceRangeRule
from reference_ranges.selectors import (
    MeasuringRangeFacts,
)

logger = logging.getLogger(__name__)


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
            "specimen": {"type": self.specimen_type, "collected_at": self.collected_at.isoformat()},
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


def submission_measurements(
    submission: PanelSubmission, *, measuring_ranges: Mapping[str, MeasuringRangeFacts]
) -> list[Measurement]:
    """The engine's inputs for ``submission``, with the lab's measuring range of each assay
    (LLOQ/ULOQ, in the result's unit when it converts exactly; otherwise left out)."""
    measurements = []
    for result in submission.results:
        facts = measuring_ranges.get(result.analyte.code)
        limits = facts.limits_in(result.unit) if facts is not None else None
        measurements.append(
            Measurement(
                analyte=result.analyte.code,
                value=result.reported.value,
                comparator=result.reported.comparator,
                unit=result.unit,
                dilution_factor=result.dilution_factor,
                lloq=limits[0] if limits else None,
                uloq=limits[1] if limits else None,
            )
        )
    return measurements


def result_build(
    *,
    panel: Panel,
    position: int,
    data: ResultData,
    interpretation: Interpretation,
    rules: Mapping[str, ReferenceRangeRule],
    ruleset_version: str,
    pk: int | None = None,
) -> Result:
    """The row for one reported result and the interpretation the engine gave it."""
    key = interpretation.rule_key
    return Result(
        pk=pk,
        panel=panel,
        position=position,
        analyte=data.analyte,
        analyte_as_received=data.analyte_as_received,
        raw_value=data.raw_value,
        comparator=data.reported.comparator.value,
        value=data.reported.value,
        value_scale=data.reported.scale,
        unit=data.unit,
        dilution_factor=data.dilution_factor,
        interpretation=interpretation.code.value if interpretation.code else "",
        conversion=interpretation.conversion or "",
        interpretation_reason=interpretation.reason,
        reference_text=interpretation.reference_text or "",
        rule=rules.get(key) if key else None,
        ruleset_version=ruleset_version,
        sender_range=data.sender_range,
        sender_flags=data.sender_flags,
    )


def patient_for(*, lab: Lab, data: PatientData) -> Patient:
    patient = Patient.objects.select_for_update().filter(mrn=data.mrn).first()
    if patient is None:
        patient = Patient(
            lab=lab,
            mrn=data.mrn,
            family_name=data.family_name,
            given_name=data.given_name,
            birth_date=data.birth_date,
            sex=data.sex,
        )
        # The lab is the caller's own row: checking that foreign key again costs a query.
        patient.full_clean(exclude=["lab"])
        patient.save()
        return patient
    if patient.lab_id != lab.pk:
        raise Conflict(
            f"MRN {data.mrn} cannot be used by this lab",
            details=[{"field": "patient.mrn", "message": "MRN is registered elsewhere"}],
        )
    differing = [
        field
        for field in ("family_name", "given_name", "birth_date", "sex")
        if getattr(patient, field) != getattr(data, field)
    ]
    if differing:
        # A demographic mismatch on a known MRN may be a wrong-patient error: never merge.
        raise Conflict(
            f"patient {data.mrn} is registered with different demographics",
            details=[
                {"field": f"patient.{field}", "message": "differs from the registered patient"}
                for field in differing
            ],
        )
    return patient


def events_record(*, patient: Patient, events: tuple[EventData, ...]) -> None:
    for event in events:
        PatientEvent.objects.get_or_create(
            patient=patient, kind=event.kind, occurred_at=event.occurred_at
        )


def conclusions_store(*, panel: Panel, conclusions: PanelConclusions) -> None:
    evaluated_at = timezone.now()
    Finding.objects.bulk_create(
        Finding(
            panel=panel,
            position=position,
            rule_id=finding.rule_id,
            rule_version=finding.rule_version,
            name=finding.name,
            status=finding.status.value,
            statement=finding.statement,
            evidence=evidence_json(finding),
            missing_inputs=list(finding.missing_inputs),
            score=finding.score,
            citation=finding.citation,
            verified=finding.verified,
            verification_note=finding.verification_note,
            evaluated_at=evaluated_at,
        )
        for position, finding in enumerate(conclusions.findings, start=1)
    )
    panel.serial = conclusions.serial
    panel.summary = conclusions.summary
    panel.anchor_event = conclusions.anchor_event
    panel.save(update_fields=["serial", "summary", "anchor_event", "updated_at"])
