"""Writing prepared panels: patients, panels, results, findings, pending reports — in bulk.

The caller holds the transaction. Per panel the stored rows are exactly those a single
submission (``panels.services.panel_submit``) stores: results with the rule and rule-set version
that interpreted them, pattern findings with their evidence, the trend snapshot (earlier panels
of the patient, stored or earlier in the same file) and the summary by family and role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from panels.imports.bulk import ids_reserve, rows_insert
from panels.imports.prepare import PreparedPanel
from panels.interpretation import (
    ANCHOR_KINDS,
    _baseline,
    _group_json,
    _trend_json,
    result_measurement,
)
from panels.models import (
    Finding,
    ImportedPanel,
    ImportJob,
    Lab,
    Panel,
    Patient,
    PatientEvent,
    Result,
)
from reference_ranges.engine.kinetics import serial_trends
from reference_ranges.engine.patterns import (
    PatternContext,
    PatternRule,
    SerialPoint,
    evaluate_patterns,
)
from reference_ranges.engine.summary import AnalyteFacts, summarize
from reference_ranges.engine.types import Measurement
from reference_ranges.models import Analyte, ReferenceRangeRule, ReferenceRangeSet
from reference_ranges.patterns import pattern_rules_enabled
from reports.models import Report, ReportStatus


@dataclass(frozen=True)
class Stored:
    panel_ids: list[int]
    patients_created: int
    results: int
    findings: int


def prepared_store(
    *,
    job: ImportJob | None,
    lab: Lab,
    submitted_by: User,
    ruleset: ReferenceRangeSet,
    panels: Sequence[PreparedPanel],
) -> Stored:
    """Insert ``panels`` and their pending reports. Runs inside the caller's transaction."""
    now = timezone.now()
    patient_ids = _patients_store(lab=lab, panels=panels, now=now)
    ordered = sorted(
        range(len(panels)),
        key=lambda i: (panels[i].staged.submission.collected_at, panels[i].staged.row),
    )
    panel_ids = ids_reserve(Panel, len(panels))
    rules_by_key = dict(ReferenceRangeRule.objects.filter(ruleset=ruleset).values_list("key", "pk"))
    history = _stored_history(
        patient_ids={pid for mrn, pid in patient_ids.items() if mrn in _matched(panels)}
    )
    anchors = _anchor_events(patient_ids=set(patient_ids.values()))
    facts = _analyte_facts()
    rules = pattern_rules_enabled(lab_id=lab.pk)
    panel_rows: list[tuple[Any, ...]] = []
    finding_rows: list[tuple[Any, ...]] = []
    series: dict[int, list[SerialPoint]] = {}
    for index in ordered:
        prepared = panels[index]
        submission = prepared.staged.submission
        patient_id = patient_ids[submission.patient.mrn]
        current = SerialPoint(
            panel_key=submission.accession,
            collected_at=timezone.localtime(submission.collected_at),
            measurements=tuple(
                Measurement(
                    analyte=r.analyte.code,
                    value=r.reported.value,
                    comparator=r.reported.comparator,
                    unit=r.unit,
                    dilution_factor=r.dilution_factor,
                )
                for r in submission.results
            ),
        )
        earlier = [
            point
            for point in [*history.get(patient_id, ()), *series.get(patient_id, ())]
            if point.collected_at < current.collected_at
        ]
        earlier.sort(key=lambda point: point.collected_at)
        anchor = _anchor_for(anchors.get(patient_id, ()), submission.collected_at)
        serial, summary = _conclusions(
            prepared=prepared,
            current=current,
            history=earlier,
            anchor=anchor,
            facts=facts,
            rules=rules,
            finding_rows=finding_rows,
            panel_id=panel_ids[index],
            now=now,
        )
        series.setdefault(patient_id, []).append(current)
        panel_rows.append(
            (
                panel_ids[index],
                now,
                now,
                submission.accession,
                lab.pk,
                patient_id,
                submission.specimen_type,
                submission.collected_at,
                now,
                submission.ordering_clinician.pk,
                submitted_by.pk,
                ruleset.pk,
                prepared.content_sha256,
                {},
                anchor.pk if anchor else None,
                serial,
                summary,
            )
        )
    rows_insert(Panel, _PANEL_COLUMNS, panel_rows)
    results = rows_insert(
        Result,
        _RESULT_COLUMNS,
        (
            (
                panel_ids[index],
                position,
                result.analyte.pk,
                result.analyte_as_received,
                result.raw_value,
                result.reported.comparator.value,
                result.reported.value,
                result.reported.scale,
                result.unit,
                result.dilution_factor,
                interpretation.code.value if interpretation.code else "",
                interpretation.conversion or "",
                interpretation.reason,
                interpretation.reference_text or "",
                rules_by_key.get(interpretation.rule_key) if interpretation.rule_key else None,
                ruleset.version,
                result.sender_range,
                result.sender_flags,
            )
            for index, prepared in enumerate(panels)
            for position, (result, interpretation) in enumerate(
                zip(prepared.staged.submission.results, prepared.interpretations, strict=True),
                start=1,
            )
        ),
    )
    findings = rows_insert(Finding, _FINDING_COLUMNS, finding_rows)
    rows_insert(Report, _REPORT_COLUMNS, _report_rows(panel_ids, ruleset.version, now))
    if job is not None:
        rows_insert(
            ImportedPanel,
            ("job_id", "panel_id", "sample_id", "row"),
            (
                (
                    job.pk,
                    panel_ids[index],
                    prepared.staged.sample_id.replace("\x00", "\\x00")[:120],
                    prepared.staged.row,
                )
                for index, prepared in enumerate(panels)
            ),
        )
    return Stored(
        panel_ids=panel_ids,
        patients_created=len(patient_ids) - len(_matched(panels)),
        results=results,
        findings=findings,
    )


_PANEL_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "accession",
    "lab_id",
    "patient_id",
    "specimen_type",
    "collected_at",
    "received_at",
    "ordering_clinician_id",
    "submitted_by_id",
    "ruleset_id",
    "content_sha256",
    "clinical",
    "anchor_event_id",
    "serial",
    "summary",
)
_RESULT_COLUMNS = (
    "panel_id",
    "position",
    "analyte_id",
    "analyte_as_received",
    "raw_value",
    "comparator",
    "value",
    "value_scale",
    "unit",
    "dilution_factor",
    "interpretation",
    "conversion",
    "interpretation_reason",
    "reference_text",
    "rule_id",
    "ruleset_version",
    "sender_range",
    "sender_flags",
)
_FINDING_COLUMNS = (
    "panel_id",
    "position",
    "rule_id",
    "rule_version",
    "name",
    "status",
    "statement",
    "evidence",
    "missing_inputs",
    "score",
    "citation",
    "verified",
    "verification_note",
    "evaluated_at",
)
_REPORT_COLUMNS = (
    "created_at",
    "updated_at",
    "uuid",
    "panel_id",
    "status",
    "attempts",
    "error_message",
    "pdf",
    "checksum",
    "ruleset_version",
)


def _matched(panels: Sequence[PreparedPanel]) -> set[str]:
    return {p.staged.submission.patient.mrn for p in panels if p.patient_id is not None}


def _patients_store(*, lab: Lab, panels: Sequence[PreparedPanel], now: datetime) -> dict[str, int]:
    """MRN -> patient id, creating the new patients. Matched ones were checked by ``prepare``
    and are re-checked here under a row lock, so a concurrent change cannot slip in."""
    ids: dict[str, int] = {}
    new: dict[str, Any] = {}
    for prepared in panels:
        data = prepared.staged.submission.patient
        if prepared.patient_id is not None:
            ids[data.mrn] = prepared.patient_id
        else:
            new.setdefault(data.mrn, data)
    if ids:
        locked = Patient.objects.select_for_update().filter(pk__in=set(ids.values()))
        current = {
            p.mrn: (p.pk, p.lab_id, p.family_name, p.given_name, p.birth_date, p.sex)
            for p in locked
        }
        for prepared in panels:
            data = prepared.staged.submission.patient
            expected = (
                prepared.patient_id,
                lab.pk,
                data.family_name,
                data.given_name,
                data.birth_date,
                data.sex,
            )
            if prepared.patient_id is not None and current.get(data.mrn) != expected:
                raise PatientChanged(data.mrn)
    new_ids = ids_reserve(Patient, len(new))
    rows_insert(
        Patient,
        (
            "id",
            "created_at",
            "updated_at",
            "lab_id",
            "mrn",
            "family_name",
            "given_name",
            "birth_date",
            "sex",
        ),
        (
            (
                pid,
                now,
                now,
                lab.pk,
                data.mrn,
                data.family_name,
                data.given_name,
                data.birth_date,
                data.sex,
            )
            for pid, data in zip(new_ids, new.values(), strict=True)
        ),
    )
    ids.update(zip(new.keys(), new_ids, strict=True))
    return ids


class PatientChanged(Exception):
    """A matched patient was changed or removed between preview and commit."""

    def __init__(self, mrn: str) -> None:
        super().__init__(f"patient {mrn} changed since the preview")
        self.mrn = mrn


def _stored_history(*, patient_ids: set[int]) -> dict[int, list[SerialPoint]]:
    history: dict[int, list[SerialPoint]] = {}
    if not patient_ids:
        return history
    earlier = (
        Panel.objects.filter(patient_id__in=patient_ids)
        .prefetch_related("results__analyte")
        .order_by("collected_at", "pk")
    )
    for panel in earlier:
        history.setdefault(panel.patient_id, []).append(
            SerialPoint(
                panel_key=panel.accession,
                collected_at=timezone.localtime(panel.collected_at),
                measurements=tuple(result_measurement(result) for result in panel.results.all()),
            )
        )
    return history


def _anchor_events(*, patient_ids: set[int]) -> dict[int, list[PatientEvent]]:
    anchors: dict[int, list[PatientEvent]] = {}
    if not patient_ids:
        return anchors
    for event in PatientEvent.objects.filter(
        patient_id__in=patient_ids, kind__in=ANCHOR_KINDS
    ).order_by("occurred_at"):
        anchors.setdefault(event.patient_id, []).append(event)
    return anchors


def _anchor_for(events: Sequence[PatientEvent], collected_at: datetime) -> PatientEvent | None:
    before = [event for event in events if event.occurred_at <= collected_at]
    return before[-1] if before else None


def _analyte_facts() -> dict[str, AnalyteFacts]:
    return {
        analyte.code: AnalyteFacts(
            code=analyte.code,
            name=analyte.short_name,
            family=analyte.family,
            role=analyte.inflammatory_role,
        )
        for analyte in Analyte.objects.all()
    }


def _conclusions(
    *,
    prepared: PreparedPanel,
    current: SerialPoint,
    history: list[SerialPoint],
    anchor: PatientEvent | None,
    facts: Mapping[str, AnalyteFacts],
    rules: Sequence[PatternRule],
    finding_rows: list[tuple[Any, ...]],
    panel_id: int,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    anchor_at = timezone.localtime(anchor.occurred_at) if anchor else None
    baseline = _baseline(history=history, current=current, anchor_at=anchor_at)
    context = PatternContext(
        measurements=current.measurements,
        clinical={},
        history=tuple(history),
        baseline=baseline,
        age_years=prepared.age.years if prepared.age else None,
    )
    for position, finding in enumerate(evaluate_patterns(rules, context), start=1):
        finding_rows.append(
            (
                panel_id,
                position,
                finding.rule_id,
                finding.rule_version,
                finding.name,
                finding.status.value,
                finding.statement,
                [
                    {
                        "input": item.input,
                        "value": item.value_text,
                        "criterion": item.criterion,
                        "satisfied": item.satisfied,
                        "note": item.note,
                    }
                    for item in finding.evidence
                ],
                list(finding.missing_inputs),
                finding.score,
                finding.citation,
                finding.verified,
                finding.verification_note,
                now,
            )
        )
    by_family, by_role = summarize(
        prepared.interpretations,
        {r.analyte.code: facts[r.analyte.code] for r in prepared.staged.submission.results},
    )
    serial: dict[str, Any] = {}
    if history:
        trends = serial_trends(
            [*history, current],
            anchor=anchor_at,
            baseline_key=baseline.panel_key if baseline else None,
        )
        if trends:
            serial = {
                "anchor": (
                    {"kind": anchor.kind, "occurred_at": anchor.occurred_at.isoformat()}
                    if anchor
                    else None
                ),
                "baseline": baseline.panel_key if baseline else None,
                "analytes": _trend_json(trends),
            }
    return serial, {"by_family": _group_json(by_family), "by_role": _group_json(by_role)}


def _report_rows(panel_ids: Sequence[int], version: str, now: datetime) -> Any:
    import uuid

    for panel_id in panel_ids:
        yield (now, now, uuid.uuid4(), panel_id, ReportStatus.PENDING.value, 0, "", "", "", version)
