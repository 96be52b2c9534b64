"""Panels: what every way in shares to store one panel (its patient, events, results, findings).

The row builders (the submission itself and its
builder are ``panels.submission``). The ways in (``panels.intake``: the JSON submission, HL7,
amendments, file imports) orchestrate them; ``panels.intake.submission.panel_submit`` stores
one panel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from django.utils import timezone

from labpanel.accounts.models import Lab
from panels.demographics import patient_demographics_check
from panels.interpretation import PanelConclusions, evidence_json
from panels.models import (
    Finding,
    FindingText,
    Panel,
    Patient,
    PatientEvent,
    Result,
    finding_text,
)
from panels.submission import EventData, PatientData, ResultData
from reference_ranges.engine.types import Interpretation
from reference_ranges.models import ReferenceRangeRule

logger = logging.getLogger(__name__)


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
        method=data.method,
        instrument=data.instrument,
    )


def patient_for(*, lab: Lab, data: PatientData, user_id: int | None = None) -> tuple[Patient, bool]:
    """``lab``'s patient with ``data.mrn`` (locked), or a new one of ``lab``: another lab's
    patient with the same MRN is another patient, never seen here; and whether it is new. A
    registered patient sent with other demographics raises ``DemographicsMismatch``
    (``panels.demographics``; after too many of them, ``TooManyAttempts`` for ``user_id``)."""
    patient = Patient.objects.select_for_update().filter(lab=lab, mrn=data.mrn).first()
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
        patient.full_clean(exclude=["lab"], validate_constraints=False)
        patient.save()
        return patient, True
    # A demographic mismatch on a known MRN may be a wrong-patient error: never merge.
    patient_demographics_check(patient=patient, data=data, user_id=user_id)
    return patient, False


def events_record(*, patient: Patient, events: tuple[EventData, ...]) -> None:
    for event in events:
        PatientEvent.objects.get_or_create(
            patient=patient, kind=event.kind, occurred_at=event.occurred_at
        )


def finding_texts_store(texts: Iterable[FindingText]) -> None:
    """Store each distinct one of ``texts`` that is not stored yet: one statement, whatever
    the number (their keys are digests of their words: nothing is read back)."""
    distinct = {text.pk: text for text in texts}
    if distinct:
        FindingText.objects.bulk_create(list(distinct.values()), ignore_conflicts=True)


def conclusions_store(*, panel: Panel, conclusions: PanelConclusions) -> None:
    """Store the findings of ``panel`` (stored already) and save its trend snapshot, summary
    and anchor event."""
    findings_store(panel=panel, conclusions=conclusions)
    conclusions_apply(panel=panel, conclusions=conclusions)
    panel.save(update_fields=["serial", "summary", "anchor_event", "updated_at"])


def conclusions_apply(*, panel: Panel, conclusions: PanelConclusions) -> None:
    """Put the trend snapshot, summary and anchor event on ``panel`` (not saved: a new panel
    is inserted with them)."""
    panel.serial = conclusions.serial
    panel.summary = conclusions.summary
    panel.anchor_event = conclusions.anchor_event


def findings_store(*, panel: Panel, conclusions: PanelConclusions) -> list[Finding]:
    """Insert the findings of ``panel`` (stored already), in order, in one statement (and
    their words': ``finding_texts_store``). Returns them as inserted, with their ids and
    words (``Finding.text``) in hand."""
    evaluated_at = timezone.now()
    texts = [
        finding_text(
            rule_id=finding.rule_id,
            rule_version=finding.rule_version,
            name=finding.name,
            statement=finding.statement,
            citation=finding.citation,
            verified=finding.verified,
            verification_note=finding.verification_note,
        )
        for finding in conclusions.findings
    ]
    finding_texts_store(texts)
    return Finding.objects.bulk_create(
        [
            Finding(
                panel=panel,
                position=position,
                rule_id=finding.rule_id,
                rule_version=finding.rule_version,
                status=finding.status.value,
                text=text,
                evidence=evidence_json(finding),
                missing_inputs=list(finding.missing_inputs),
                score=finding.score,
                evaluated_at=evaluated_at,
            )
            for position, (finding, text) in enumerate(
                zip(conclusions.findings, texts, strict=True), start=1
            )
        ]
    )
