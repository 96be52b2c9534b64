"""Panel submission: validate-then-store one panel, its results and its pending report, atomically.

``panel_submit`` is the one way a panel enters the system. It interprets every result with the
pure engine against the active rule set, stores the results with the rule and version that
produced each interpretation, creates the pending report, and enqueues rendering once the
transaction has committed. Re-sending the same accession with identical content returns the
stored panel; different content is a conflict.
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
from django.db import IntegrityError, transaction
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from labpanel.exceptions import Conflict
from panels.interpretation import PanelConclusions, evidence_json, panel_conclusions
from panels.models import (
    Finding,
    Panel,
    Patient,
    PatientEvent,
    Result,
)
from panels.notation import ReportedValue
from reference_ranges.adapters import ruleset_to_engine
from reference_ranges.engine import age_on, interpret
from reference_ranges.engine.types import Interpretation, Measurement, PatientContext, Sex
from reference_ranges.models import Analyte, ReferenceRangeRule
from reference_ranges.selectors import (
    MeasuringRangeFacts,
    measuring_ranges_active,
    ruleset_get_active,
)
from reports.services import report_request

logger = logging.getLogger(__name__)

# The ways a panel comes in, as its ``panel.stored`` event names them ("import" is the bulk
# path, ``panels.imports``, which writes the same event).
INTAKE_API = "api"
INTAKE_HL7_HTTP = "hl7_http"
INTAKE_HL7_MLLP = "hl7_mllp"


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
            "clinical": {name: _json_value(value) for name, value in self.clinical.items()},
            "events": sorted([event.kind, event.occurred_at.isoformat()] for event in self.events),
            "results": sorted(
                [
                    result.analyte.code,
                    result.reported.text,
                    result.unit,
                    _json_value(result.dilution_factor),
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


def _json_value(value: Decimal | bool | str | None) -> Any:
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


def _existing_panel_outcome(*, accession: str, content_sha256: str) -> Panel | None:
    panel = Panel.objects.filter(accession=accession).first()
    if panel is None:
        return None
    if panel.content_sha256 != content_sha256:
        raise Conflict(
            f"accession {accession} already holds a panel with different content; "
            "corrections go through an amended report, not a re-submission",
            details=[{"field": "accession", "message": "already used with different content"}],
        )
    return panel


def _patient_for(*, lab: Lab, data: PatientData) -> Patient:
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


def _events_record(*, patient: Patient, events: tuple[EventData, ...]) -> None:
    for event in events:
        PatientEvent.objects.get_or_create(
            patient=patient, kind=event.kind, occurred_at=event.occurred_at
        )


def _conclusions_store(*, panel: Panel, conclusions: PanelConclusions) -> None:
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


def panel_submit(
    *, submitted_by: User, submission: PanelSubmission, intake: str = INTAKE_API
) -> tuple[Panel, bool]:
    """Store ``submission`` and request its report. Returns (panel, created).

    Raises ``NotAllowed`` (role may not submit), ``Conflict`` (accession reused with other
    content, patient demographics differ, no active rule set). Nothing is stored on error.
    Side effects: writes a ``panel.stored`` event naming ``intake`` (the way in: ``api``,
    ``hl7_http``, ``hl7_mllp``) in the storing transaction; enqueues
    ``reports.render_report_pdf`` after commit. A re-sent identical panel writes no event.
    """
    lab = access.submitting_lab(submitted_by)
    content_sha256 = submission.content_sha256()
    existing = _existing_panel_outcome(
        accession=submission.accession, content_sha256=content_sha256
    )
    if existing is not None:
        return existing, False
    for attempt in (1, 2):
        try:
            panel = _panel_create(
                lab=lab,
                submitted_by=submitted_by,
                submission=submission,
                content_sha256=content_sha256,
                intake=intake,
            )
        except IntegrityError:
            # A concurrent submission won a race for the accession (or the new patient's MRN):
            # answer as if it had arrived first, or try once more against the committed rows.
            existing = _existing_panel_outcome(
                accession=submission.accession, content_sha256=content_sha256
            )
            if existing is not None:
                return existing, False
            if attempt == 2:
                raise
        else:
            return panel, True
    raise AssertionError("unreachable")  # pragma: no cover


@transaction.atomic
def _panel_create(
    *,
    lab: Lab,
    submitted_by: User,
    submission: PanelSubmission,
    content_sha256: str,
    intake: str,
) -> Panel:
    ruleset = ruleset_get_active(lab=lab)
    if ruleset is None:
        raise Conflict("no reference range set is active; a director must publish one")
    patient = _patient_for(lab=lab, data=submission.patient)
    _events_record(patient=patient, events=submission.events)
    collected_on = timezone.localdate(submission.collected_at)
    age = age_on(patient.birth_date, collected_on) if patient.birth_date else None
    context = PatientContext(sex=Sex(patient.sex), age=age, specimen_type=submission.specimen_type)
    measurements = submission_measurements(
        submission, measuring_ranges=measuring_ranges_active(lab_id=lab.pk, on=collected_on)
    )
    interpretations = interpret(measurements, context, ruleset_to_engine(ruleset))
    rules_by_key = {
        rule.key: rule
        for rule in ReferenceRangeRule.objects.filter(
            ruleset=ruleset, key__in={i.rule_key for i in interpretations if i.rule_key}
        )
    }
    panel = Panel(
        accession=submission.accession,
        lab=lab,
        patient=patient,
        specimen_type=submission.specimen_type,
        collected_at=submission.collected_at,
        received_at=timezone.now(),
        ordering_clinician=submission.ordering_clinician,
        submitted_by=submitted_by,
        ruleset=ruleset,
        content_sha256=content_sha256,
        clinical={name: _json_value(value) for name, value in submission.clinical.items()},
    )
    # Field checks only: every foreign key here is a row just read (lab, patient, clinician,
    # submitter, rule set); re-checking each would cost a query apiece.
    panel.full_clean(
        exclude=["lab", "patient", "ordering_clinician", "submitted_by", "ruleset"],
        validate_unique=False,
    )
    panel.save()
    results = Result.objects.bulk_create(
        result_build(
            panel=panel,
            position=position,
            data=result,
            interpretation=interpretation,
            rules=rules_by_key,
            ruleset_version=ruleset.version,
        )
        for position, (result, interpretation) in enumerate(
            zip(submission.results, interpretations, strict=True), start=1
        )
    )
    conclusions = panel_conclusions(
        panel=panel,
        results=results,
        interpretations=interpretations,
        clinical=submission.clinical,
        age_years=age.years if age else None,
        analytes={result.analyte.code: result.analyte for result in submission.results},
    )
    _conclusions_store(panel=panel, conclusions=conclusions)
    report = report_request(panel=panel)
    event_record(
        kind=EventKind.PANEL_STORED,
        lab_id=lab.pk,
        actor_id=submitted_by.pk,
        panel_id=panel.pk,
        report_id=report.pk,
        payload={
            "accession": panel.accession,
            "intake": intake,
            "patient_id": patient.pk,
            "report_id": report.pk,
            "results": len(results),
        },
        occurred_at=panel.received_at,
    )
    logger.info(
        "panel.submitted panel_id=%s report_id=%s results=%d ruleset_version=%s",
        panel.pk,
        report.pk,
        len(submission.results),
        ruleset.version,
    )
    return panel
