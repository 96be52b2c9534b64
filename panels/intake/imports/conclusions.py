"""Findings, trend snapshot and summary for every prepared panel of an import, in bulk.

The same conclusions a single submission gets (``panels.interpretation``), computed for many
panels with a handful of queries: the stored history and anchoring events of the matched
patients are read once, and panels of the same patient within the file form a series in
collection order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from panels.intake.imports.prepare import PreparedPanel
from panels.interpretation import (
    ANCHOR_KINDS,
    analyte_facts,
    evidence_json,
    panel_serial_point,
    result_measurement,
    serial_json,
    summary_json,
)
from panels.models import Panel, PatientEvent, Result
from reference_ranges.engine.kinetics import serial_history
from reference_ranges.engine.patterns import (
    PatternContext,
    PatternRule,
    SerialPoint,
    evaluate_patterns,
)
from reference_ranges.engine.summary import AnalyteFacts
from reference_ranges.models import Analyte


@dataclass(frozen=True)
class Conclusions:
    findings: list[dict[str, Any]]
    serial: dict[str, Any]
    summary: dict[str, Any]
    anchor_event_id: int | None


def history_fingerprint(*, patient_ids: Iterable[int]) -> str:
    """What the trend of matched patients rests on: their stored panels and anchoring events.
    Compared at commit, so a panel stored meanwhile cannot leave a stale trend behind."""
    ids = sorted(set(patient_ids))
    digest = hashlib.sha256()
    if ids:
        for pk in (
            Panel.objects.filter(patient_id__in=ids).order_by("pk").values_list("pk", flat=True)
        ):
            digest.update(f"p{pk};".encode())
        events = PatientEvent.objects.filter(patient_id__in=ids, kind__in=ANCHOR_KINDS)
        for pk in events.order_by("pk").values_list("pk", flat=True):
            digest.update(f"e{pk};".encode())
    return digest.hexdigest()


def conclude(
    panels: Sequence[PreparedPanel],
    *,
    rules: Sequence[PatternRule],
    now: datetime,
    emit: Callable[[int, Conclusions], None],
) -> None:
    """Conclusions for ``panels``, handed to ``emit(index, conclusions)`` one by one (in
    collection order: a patient's earlier panels in the file feed the later ones' trend), so
    that a large file's conclusions need not all be held at once."""
    matched = {p.patient_id for p in panels if p.patient_id is not None}
    zone = timezone.get_current_timezone()  # looked up once: the lookup is costly
    history = _stored_history(patient_ids=matched)
    anchors = _anchor_events(patient_ids=matched)
    facts = _analyte_facts()
    series: dict[str, list[SerialPoint]] = {}
    ordered = sorted(
        range(len(panels)),
        key=lambda i: (panels[i].staged.submission.collected_at, panels[i].staged.row),
    )
    for index in ordered:
        prepared = panels[index]
        submission = prepared.staged.submission
        current = SerialPoint(
            panel_key=submission.accession,
            collected_at=timezone.localtime(submission.collected_at, zone),
            measurements=prepared.measurements,
            specimen_type=submission.specimen_type,
        )
        mrn = submission.patient.mrn
        stored = history.get(prepared.patient_id, []) if prepared.patient_id else []
        earlier = sorted(
            (p for p in [*stored, *series.get(mrn, ())] if p.collected_at < current.collected_at),
            key=lambda point: point.collected_at,
        )
        events = anchors.get(prepared.patient_id, []) if prepared.patient_id else []
        anchor = _anchor_for(events, submission.collected_at)
        emit(
            index,
            _conclusions(
                prepared=prepared,
                current=current,
                history=earlier,
                anchor=anchor,
                facts=facts,
                rules=rules,
                now=now,
                zone=zone,
            ),
        )
        series.setdefault(mrn, []).append(current)


def _stored_history(*, patient_ids: set[int]) -> dict[int, list[SerialPoint]]:
    history: dict[int, list[SerialPoint]] = {}
    if not patient_ids:
        return history
    zone = timezone.get_current_timezone()
    earlier = (
        Panel.objects.filter(patient_id__in=patient_ids)
        .prefetch_related(
            Prefetch("results", queryset=Result.objects.current().select_related("analyte"))
        )
        .order_by("collected_at", "pk")
    )
    for panel in earlier:
        history.setdefault(panel.patient_id, []).append(
            panel_serial_point(
                panel, tuple(result_measurement(result) for result in panel.results.all()), zone
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
    return {analyte.code: analyte_facts(analyte) for analyte in Analyte.objects.all()}


def _conclusions(
    *,
    prepared: PreparedPanel,
    current: SerialPoint,
    history: list[SerialPoint],
    anchor: PatientEvent | None,
    facts: dict[str, AnalyteFacts],
    rules: Sequence[PatternRule],
    now: datetime,
    zone: tzinfo,
) -> Conclusions:
    anchor_at = timezone.localtime(anchor.occurred_at, zone) if anchor else None
    serial = serial_history(history, current, anchor_at)
    context = PatternContext(
        measurements=current.measurements,
        clinical={},
        history=tuple(history),
        baseline=serial.baseline.point,
        age_years=prepared.age.years if prepared.age else None,
    )
    findings = [
        {
            "position": position,
            "rule_id": finding.rule_id,
            "rule_version": finding.rule_version,
            "name": finding.name,
            "status": finding.status.value,
            "statement": finding.statement,
            "evidence": evidence_json(finding),
            "missing_inputs": list(finding.missing_inputs),
            "score": None if finding.score is None else format(finding.score, "f"),
            "citation": finding.citation,
            "verified": finding.verified,
            "verification_note": finding.verification_note,
            "evaluated_at": now.isoformat(),
        }
        for position, finding in enumerate(evaluate_patterns(rules, context), start=1)
    ]
    return Conclusions(
        findings=findings,
        serial=serial_json(serial, anchor=anchor, anchor_at=anchor_at),
        summary=summary_json(
            prepared.interpretations,
            {r.analyte.code: facts[r.analyte.code] for r in prepared.staged.submission.results},
        ),
        anchor_event_id=anchor.pk if anchor else None,
    )
