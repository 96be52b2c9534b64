"""Everything the engine concludes about one panel, assembled from stored rows.

Per result: the interpretation against the active rule set. Per panel: the pattern findings
(CRS / cytokine storm / HLH criteria, with their evidence), the trend against the patient's
earlier panels (day +N from the anchor event, fold change from baseline), and the summary by
family and role. The engine is pure; this module is the only place that feeds it from the
database for a submission. :func:`panel_interpret` is the one interpretation recipe (age on
the collection day → patient context → the lab's measuring ranges → the engine call), used by
every way in: the JSON submission, file imports, HL7 and amendments. :func:`result_measurement`
is the one way a stored result becomes an engine measurement again (history, impact preview),
exactly as it was submitted.

The pattern rules evaluated are the ones switched on for the panel's lab
(:func:`reference_ranges.patterns.pattern_rules_enabled`).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from labpanel.exceptions import InvalidInput
from panels.models import Panel, PatientEvent, PatientEventKind, Result
from panels.submission import ResultData, collected_on
from reference_ranges.engine import Age, age_on, interpret
from reference_ranges.engine.decimals import trimmed
from reference_ranges.engine.kinetics import (
    AnalyteTrend,
    AnalyteTrendPoint,
    SerialHistory,
    anchor_day,
    serial_history,
)
from reference_ranges.engine.patterns import (
    ClinicalValue,
    Finding,
    PatternContext,
    PatternRule,
    SerialPoint,
    evaluate_patterns,
)
from reference_ranges.engine.summary import AnalyteFacts, GroupSummary, summarize
from reference_ranges.engine.types import (
    GENERIC_PLASMA,
    Comparator,
    Interpretation,
    Measurement,
    PatientContext,
    RuleSet,
    Sex,
)
from reference_ranges.models import Analyte
from reference_ranges.patterns import pattern_rules_enabled
from reference_ranges.selectors import (
    MeasuringRangeFacts,
    measuring_ranges_active,
    plasma_anticoagulant_get,
)

MeasuringRanges = Mapping[str, MeasuringRangeFacts]

ANCHOR_KINDS = (PatientEventKind.CAR_T_INFUSION, PatientEventKind.BISPECIFIC_START)


@dataclass(frozen=True)
class PanelConclusions:
    findings: list[Finding]
    serial: dict[str, Any]
    summary: dict[str, Any]
    anchor_event: PatientEvent | None


@dataclass(frozen=True)
class PanelInterpretation:
    """What :func:`panel_interpret` gives: the age it used, the measurements as the engine saw
    them (with the lab's measuring range), and one interpretation per measurement, in order."""

    collected_on: date
    age: Age | None
    measurements: tuple[Measurement, ...]
    interpretations: tuple[Interpretation, ...]


def result_data_measurement(result: ResultData) -> Measurement:
    """The engine measurement of a result as reported (no measuring range yet)."""
    return Measurement(
        analyte=result.analyte.code,
        value=result.reported.value,
        comparator=result.reported.comparator,
        unit=result.unit,
        dilution_factor=result.dilution_factor,
        method=result.method,
    )


def _with_measuring_range(measurement: Measurement, ranges: MeasuringRanges) -> Measurement:
    """``measurement`` with its assay's LLOQ/ULOQ, in its unit when they convert exactly;
    otherwise without (never guessed)."""
    facts = ranges.get(measurement.analyte)
    limits = facts.limits_in(measurement.unit) if facts is not None else None
    lloq, uloq = limits if limits is not None else (None, None)
    if lloq is measurement.lloq and uloq is measurement.uloq:
        return measurement
    return Measurement(
        analyte=measurement.analyte,
        value=measurement.value,
        comparator=measurement.comparator,
        unit=measurement.unit,
        dilution_factor=measurement.dilution_factor,
        method=measurement.method,
        lloq=lloq,
        uloq=uloq,
    )


def panel_interpret(
    *,
    sex: str,
    birth_date: date | None,
    specimen_type: str,
    collected_at: datetime,
    measurements: Sequence[Measurement],
    ruleset: RuleSet,
    lab_id: int | None,
    measuring_ranges_by_day: MutableMapping[date, MeasuringRanges] | None = None,
    zone: tzinfo | None = None,
    with_measuring_ranges: bool = True,
    anticoagulants: MutableMapping[int, str | None] | None = None,
) -> PanelInterpretation:
    """Interpret one panel: the one recipe every way in uses.

    The patient's age on the lab's day of collection (``zone``, default the current clock),
    the patient context (sex, age, specimen, and for generic "plasma" the anticoagulant the lab
    says its plasma is), the measuring ranges of ``lab_id`` in force that
    day (``None``: judge the measurements as given, e.g. stored ones), then the engine against
    ``ruleset`` (the engine form: ``reference_ranges.adapters.ruleset_to_engine``).
    ``measuring_ranges_by_day`` is a cache the caller may keep across many panels (bulk import);
    ``anticoagulants`` likewise for each lab's statement about its plasma.
    ``with_measuring_ranges=False`` judges the measurements as given while still reading the
    lab's plasma statement (the impact preview of stored panels).

    Raises ``InvalidInput`` naming ``specimen.collected_at`` when the specimen was collected
    before the birth date (the builder refuses such a submission first; no age is guessed),
    and the engine's errors (``AmbiguousRules``...) as they are.
    """
    day = collected_on(collected_at, zone)
    if birth_date is not None and day < birth_date:
        raise InvalidInput(
            "the specimen was collected before the patient's birth date",
            details=[
                {
                    "field": "specimen.collected_at",
                    "message": "collected before the patient's birth date",
                }
            ],
        )
    age = age_on(birth_date, day) if birth_date is not None else None
    # Generic "plasma" is judged as the anticoagulant the lab says it is, never guessed.
    anticoagulant = None
    if lab_id is not None and specimen_type == GENERIC_PLASMA:
        if anticoagulants is None:
            anticoagulants = {}
        if lab_id not in anticoagulants:
            anticoagulants[lab_id] = plasma_anticoagulant_get(lab_id=lab_id)
        anticoagulant = anticoagulants[lab_id]
    context = PatientContext(
        sex=Sex(sex), age=age, specimen_type=specimen_type, plasma_anticoagulant=anticoagulant
    )
    if lab_id is not None and with_measuring_ranges:
        if measuring_ranges_by_day is None:
            measuring_ranges_by_day = {}
        ranges = measuring_ranges_by_day.get(day)
        if ranges is None:
            ranges = measuring_ranges_by_day[day] = measuring_ranges_active(lab_id=lab_id, on=day)
        measurements = [_with_measuring_range(m, ranges) for m in measurements]
    return PanelInterpretation(
        collected_on=day,
        age=age,
        measurements=tuple(measurements),
        interpretations=tuple(interpret(measurements, context, ruleset)),
    )


def result_measurement(result: Result) -> Measurement:
    """The engine measurement of a stored result, as the submission gave it to the engine.

    The stored columns pad decimals: the value gets back the decimals it was reported with
    ("2.0", not "2.000000"), and the dilution factor loses the column's padding zeros ("10",
    not "10.0000"; never rounded).
    """
    return Measurement(
        analyte=result.analyte.code,
        value=result.value.quantize(Decimal(1).scaleb(-result.value_scale)),
        comparator=Comparator(result.comparator),
        unit=result.unit,
        dilution_factor=(
            None if result.dilution_factor is None else trimmed(result.dilution_factor)
        ),
        method=result.method,
    )


_measurement = result_measurement


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _point_json(point: AnalyteTrendPoint) -> dict[str, Any]:
    return {
        "accession": point.panel_key,
        "collected_at": point.collected_at.isoformat(),
        "day": point.day,
        "value_text": point.value_text,
        "change_from_previous": _text(point.change_from_previous),
        "fold_from_baseline": _text(point.fold_from_baseline),
        "change_code": point.change_code,
        "method": point.method,
    }


def trends_json(trends: Sequence[AnalyteTrend]) -> list[dict[str, Any]]:
    """The ``analytes`` of a trend snapshot (see :func:`serial_json`)."""
    return [
        {
            "analyte": trend.analyte,
            "unit": trend.unit,
            "specimen_type": trend.specimen_type,
            "method": trend.method,
            "points": [_point_json(point) for point in trend.points],
            "set_apart": [_point_json(point) for point in trend.set_apart],
        }
        for trend in trends
    ]


def _group_json(groups: Sequence[GroupSummary]) -> list[dict[str, Any]]:
    return [
        {
            "group": group.group,
            "label": group.label,
            "measured": group.measured,
            "elevated": list(group.elevated),
            "low": list(group.low),
            "no_range": list(group.no_range),
        }
        for group in groups
    ]


def _events_before(
    *, patient_id: int, collected_at: datetime
) -> tuple[PatientEvent | None, datetime | None]:
    """In one query: the latest anchoring event (e.g. CAR-T infusion), and the time of the
    latest tocilizumab dose (for :func:`analyte_notes`), at or before the collection time."""
    anchor: PatientEvent | None = None
    tocilizumab_at: datetime | None = None
    for event in PatientEvent.objects.filter(
        patient_id=patient_id,
        kind__in=[*ANCHOR_KINDS, PatientEventKind.TOCILIZUMAB],
        occurred_at__lte=collected_at,
    ).order_by("-occurred_at"):
        if event.kind == PatientEventKind.TOCILIZUMAB:
            tocilizumab_at = event.occurred_at if tocilizumab_at is None else tocilizumab_at
        elif anchor is None:
            anchor = event
    return anchor, tocilizumab_at


def analyte_notes(*, tocilizumab_at: datetime | None) -> dict[str, str]:
    """What a reader must know about some analytes of a panel, given the last tocilizumab dose
    recorded at or before its collection (``None``: none): IL-6 measured after tocilizumab is
    raised artefactually (receptor blockade), so it never reads as the patient's own IL-6."""
    if tocilizumab_at is None:
        return {}
    given = timezone.localtime(tocilizumab_at).strftime("%Y-%m-%d %H:%M %Z")
    return {
        "IL6": (
            f"IL-6 measured after tocilizumab (given {given}): tocilizumab raises IL-6 "
            "artefactually, so this IL-6 does not reflect the patient's own IL-6"
        )
    }


def panel_serial_point(
    panel: Panel, measurements: tuple[Measurement, ...], zone: tzinfo | None = None
) -> SerialPoint:
    """``panel`` as one point of its patient's series (collection time in the lab's zone,
    ``zone``, default the current one)."""
    return SerialPoint(
        panel_key=panel.accession,
        collected_at=timezone.localtime(panel.collected_at, zone),
        measurements=measurements,
        specimen_type=panel.specimen_type,
        is_marked_baseline=panel.is_baseline,
    )


def _history(*, panel: Panel) -> list[SerialPoint]:
    earlier = Panel.objects.filter(patient_id=panel.patient_id, collected_at__lt=panel.collected_at)
    if panel.pk is not None:
        earlier = earlier.exclude(pk=panel.pk)
    earlier = earlier.prefetch_related(
        Prefetch("results", queryset=Result.objects.current().select_related("analyte"))
    ).order_by("collected_at", "pk")
    return [
        panel_serial_point(other, tuple(_measurement(result) for result in other.results.all()))
        for other in earlier
    ]


def panel_conclusions(
    *,
    panel: Panel,
    results: Sequence[Result],
    interpretations: Sequence[Interpretation],
    clinical: Mapping[str, Any],
    age_years: int | None,
    analytes: Mapping[str, Analyte],
    pattern_rules: Sequence[PatternRule] | None = None,
    history_is_empty: bool = False,
) -> PanelConclusions:
    """Findings, trend snapshot and summary for ``panel`` (whose results are not yet read back;
    the panel and its results may not be stored yet). ``pattern_rules``: the rules enabled for
    the panel's lab when the caller has them (``reference_ranges.current``), else read here.
    ``history_is_empty``: the caller knows the patient has no other panel and no event (a
    patient registered in this transaction, given none): nothing is read."""
    current = panel_serial_point(panel, tuple(_measurement(result) for result in results))
    history = [] if history_is_empty else _history(panel=panel)
    anchor, tocilizumab_at = (
        (None, None)
        if history_is_empty
        else _events_before(patient_id=panel.patient_id, collected_at=panel.collected_at)
    )
    # Day numbering counts dates on the lab's calendar: both times in the lab's time zone.
    anchor_at = timezone.localtime(anchor.occurred_at) if anchor else None
    serial = serial_history(history, current, anchor_at)
    context = PatternContext(
        measurements=current.measurements,
        clinical={name: ClinicalValue(name=name, value=value) for name, value in clinical.items()},
        history=tuple(history),
        baseline=serial.baseline.point,
        age_years=age_years,
        analyte_notes=analyte_notes(tocilizumab_at=tocilizumab_at),
    )
    if pattern_rules is None:
        pattern_rules = pattern_rules_enabled(lab_id=panel.lab_id)
    findings = evaluate_patterns(pattern_rules, context)
    facts = {code: analyte_facts(analyte) for code, analyte in analytes.items()}
    return PanelConclusions(
        findings=findings,
        serial=serial_json(serial, anchor=anchor, anchor_at=anchor_at),
        summary=summary_json(interpretations, facts),
        anchor_event=anchor,
    )


def _panel_json(point: SerialPoint, anchor_at: datetime | None) -> dict[str, Any]:
    return {
        "accession": point.panel_key,
        "collected_at": point.collected_at.isoformat(),
        "day": anchor_day(point.collected_at, anchor_at),
        "specimen_type": point.specimen_type,
        "is_marked_baseline": point.is_marked_baseline,
    }


def serial_json(
    serial: SerialHistory, *, anchor: PatientEvent | None, anchor_at: datetime | None
) -> dict[str, Any]:
    """The trend snapshot stored on a panel ({} when there is no earlier panel).

    ``panels``: the panels compared, in collection order (the current last); ``excluded``: the
    earlier panels of other specimen types, set apart; ``analytes``: one trend per series, its
    ``method`` ("" none stated), its ``points`` and, in ``set_apart``, the earlier results of
    the analyte by another stated method (never compared); ``baseline`` with ``baseline_basis``, or
    ``no_baseline`` (a :class:`~reference_ranges.engine.kinetics.NoBaseline` value) saying why
    no fold change is shown.
    """
    if len(serial.compared) + len(serial.excluded) < 2:
        return {}
    baseline = serial.baseline
    return {
        "anchor": (
            {"kind": anchor.kind, "occurred_at": anchor.occurred_at.isoformat()} if anchor else None
        ),
        "specimen_type": serial.compared[-1].specimen_type,
        "baseline": baseline.point.panel_key if baseline.point else None,
        "baseline_basis": baseline.basis.value if baseline.basis else None,
        "no_baseline": baseline.missing.value if baseline.missing else None,
        "other_specimen_types": list(baseline.other_specimen_types),
        "panels": [_panel_json(point, anchor_at) for point in serial.compared],
        "excluded": [_panel_json(point, anchor_at) for point in serial.excluded],
        "analytes": trends_json(serial.trends),
    }


def summary_json(
    interpretations: Sequence[Interpretation], facts: Mapping[str, AnalyteFacts]
) -> dict[str, Any]:
    by_family, by_role = summarize(interpretations, facts)
    return {"by_family": _group_json(by_family), "by_role": _group_json(by_role)}


def evidence_json(finding: Finding) -> list[dict[str, Any]]:
    return [
        {
            "input": item.input,
            "value": item.value_text,
            "criterion": item.criterion,
            "satisfied": item.satisfied,
            "note": item.note,
        }
        for item in finding.evidence
    ]


def analyte_facts(analyte: Analyte) -> AnalyteFacts:
    """What the summary groups ``analyte`` by: its name, family and inflammatory role."""
    return AnalyteFacts(
        code=analyte.code,
        name=analyte.short_name,
        family=analyte.family,
        role=analyte.inflammatory_role,
    )
