"""Assembles the plain ``ReportDocument`` the PDF layout draws, from stored rows (a
``reports.selectors.ReportSource``: what the worker reads in one statement, or the ORM's reads).

Formatting decisions live here (dates, names, flag words); the layout in ``reports.rendering``
only draws what it is given. Values are shown exactly as reported, with their comparator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.utils import timezone

from labpanel.accounts import access
from panels.history import (
    HistoryShown,
    findings_shown,
    history_shown_to,
    history_shown_to_audience,
    serial_shown,
)
from panels.interpretation import analyte_notes
from panels.models import Panel, Result, ReviewState, ReviewTransition
from reference_ranges.engine import age_on
from reference_ranges.models import Sex, SpecimenType
from reports.findings_builder import finding_lines, person_text
from reports.formatting import when_text
from reports.models import Report, ReportStage
from reports.rendering.document import (
    Amendment,
    CorrectionLine,
    ReportDocument,
    ResultLine,
    SignOutLine,
)
from reports.results_builder import (
    FLAG_TEXT,
    banner,
    footnotes,
    in_reported_order,
    notices,
    result_line,
    source_marks,
    summary_lines,
    table_rows,
)
from reports.selectors import ReportSource, report_earlier_facts, report_source_for
from reports.trend_builder import trend_table

NOT_STATED = "not stated"


def _received_text(panel: Panel) -> str:
    """The laboratory's own receipt time; never Labpanel's entry time passed off as it."""
    if panel.received_at is None:
        return f"not stated by the laboratory (entered into Labpanel {when_text(panel.created_at)})"
    return when_text(panel.received_at)


def _measured_with(
    results: Sequence[Result], lines: list[ResultLine]
) -> tuple[str, str, list[ResultLine]]:
    """(method, instrument, lines): when every result shares one method and one instrument,
    they are printed once in the identification block ("not stated" when blank); otherwise
    each result's are printed in its row's note line, and the block's are ""."""
    pairs = {(result.method, result.instrument) for result in results}
    if len(pairs) <= 1:
        method, instrument = next(iter(pairs), ("", ""))
        return method or NOT_STATED, instrument or NOT_STATED, lines
    return (
        "",
        "",
        [
            replace(
                line,
                method_text=f"Method: {result.method or NOT_STATED}; "
                f"instrument: {result.instrument or NOT_STATED}",
            )
            for result, line in zip(results, lines, strict=True)
        ],
    )


def _age_text(panel: Panel) -> str:
    birth_date = panel.patient.birth_date
    if birth_date is None:
        return "Unknown"
    age = age_on(birth_date, timezone.localdate(panel.collected_at))
    if age.years >= 2:
        return f"{age.years} years"
    return f"{age.days} days"


def _clinician_text(panel: Panel) -> str:
    return person_text(panel.ordering_clinician)


def _correction_side(value: str, unit: str, code: str | None) -> str:
    flag = FLAG_TEXT.get(code or "", code or "")
    return f"{value} {unit} ({flag})"


STAGE_LABELS = {
    ReportStage.PRELIMINARY: "Preliminary report",
    ReportStage.FINAL: "Final report",
    ReportStage.CORRECTED: "Corrected report",
}
PRELIMINARY_MARK = "PRELIMINARY — not verified/released"


def _amendment(report: Report) -> Amendment | None:
    original = report.amends
    if original is None:
        return None
    issued = when_text(original.rendered_at) if original.rendered_at else "not issued (failed)"
    return Amendment(
        mark="CORRECTED REPORT"
        if report.stage == ReportStage.CORRECTED
        else "AMENDED PRELIMINARY REPORT",
        replaces=f"report {original.pk}, issued {issued}",
        reason=report.amendment_reason,
        corrections=tuple(
            CorrectionLine(
                analyte_name=change["analyte_name"],
                previous=_correction_side(
                    change["previous"], change["previous_unit"], change["previous_interpretation"]
                ),
                corrected=_correction_side(
                    change["corrected"],
                    change["corrected_unit"],
                    change["corrected_interpretation"],
                )
                + (
                    f", re-run diluted 1:{change['dilution_factor']}"
                    if change.get("dilution_factor")
                    else ""
                ),
            )
            for change in report.corrections
        ),
    )


NOT_RECORDED = "not recorded"


def _step_text(step: ReviewTransition | None) -> str:
    """Who made a review step and when: a person as reports name them, or the lab's automatic
    rule (as the lab's panel page says it)."""
    if step is None:
        return NOT_RECORDED
    who = (
        person_text(step.actor)
        if step.actor is not None
        else f"automatically, by the lab's rule {step.rule}"
    )
    return f"{who}, {when_text(step.occurred_at)}"


def sign_out_lines(report: Report, panel: Panel) -> tuple[SignOutLine, ...]:
    """Who verified and released the results the report carries, from the panel's review
    history (read with it), and for a corrected report who issued the correction.

    A FINAL report names the release that created it and the verification before it; a
    CORRECTED report names, as "first" verified and released, the release it corrects (the
    last one before it), then the person who issued the correction: the corrected results were
    not verified again, and the lines must not say they were. A step the history does not hold
    (a panel released before the history named its report) reads "not recorded", never a
    guess. A preliminary report names no one: it is marked not verified/released."""
    if report.stage == ReportStage.PRELIMINARY:
        return ()
    steps = list(panel.review_transitions.all())
    release = next(
        (
            step
            for step in steps
            if step.to_state == ReviewState.RELEASED and step.report_id == report.pk
        ),
        None,
    )
    if release is None and report.stage == ReportStage.CORRECTED:
        earlier = [
            step
            for step in steps
            if step.to_state == ReviewState.RELEASED and step.occurred_at <= report.created_at
        ]
        release = earlier[-1] if earlier else None
    before = release.occurred_at if release is not None else report.created_at
    verified = [
        step
        for step in steps
        if step.to_state == ReviewState.VERIFIED and step.occurred_at <= before
    ]
    corrected = report.stage == ReportStage.CORRECTED
    # on a corrected report these name the results as first released, not the corrected ones
    # (a correction after release is issued by the person who made it, not verified again)
    lines = [
        SignOutLine(
            "First verified" if corrected else "Verified",
            _step_text(verified[-1] if verified else None),
        ),
        SignOutLine("First released" if corrected else "Released", _step_text(release)),
    ]
    if corrected:
        requested_by = report.requested_by
        who = person_text(requested_by) if requested_by is not None else NOT_RECORDED
        lines.append(SignOutLine("Correction issued", f"{who}, {when_text(report.created_at)}"))
    return tuple(lines)


def panel_document_build(
    *, panel: Panel, report: Report, reported_at: datetime, viewer: Any
) -> ReportDocument:
    """``report``'s document from ``panel`` already read with ``panels.selectors.panel_details``
    (the lab's panel page reads it once, with its review history, and shows the same table),
    with the history ``viewer`` may be shown (the lab's staff: all of it)."""
    return report_document_build(
        report=report,
        reported_at=reported_at,
        source=report_source_for(report=report, panel=panel),
        viewer=viewer,
        for_audience=False,
    )


def _history_shown(source: ReportSource, *, viewer: Any, for_audience: bool) -> HistoryShown | None:
    """The earlier panels the document shows: what its audience, the ordering clinician, may be
    shown (``for_audience``: the PDF, drawn once for it, and the report's page), less what
    ``viewer`` (``None``: the PDF) may not see; or, not ``for_audience``, what ``viewer`` may be
    shown (``None``: all)."""
    panel = source.panel
    if (
        viewer is not None
        and not for_audience
        and access.history_whole(viewer, lab_id=panel.lab_id)
    ):
        return None
    earlier = report_earlier_facts(source)
    reader = history_shown_to(viewer, panel, earlier) if viewer is not None else None
    if not for_audience:
        return reader
    return history_shown_to_audience(panel, earlier, reader=reader)


def report_document_build(
    *,
    report: Report,
    reported_at: datetime,
    source: ReportSource | None = None,
    viewer: Any = None,
    for_audience: bool = True,
) -> ReportDocument:
    """The document of ``report``, from ``source`` (``reports.selectors.report_source_get``) or,
    without it, from the ORM's reads for ``report``. Its history (the serial section and the
    findings measured against an earlier panel) is what ``_history_shown`` allows: by default
    the ordering clinician's, as the PDF prints it; a page passes its ``viewer``."""
    if source is None:
        source = report_source_for(report=report)
    report, panel = source.report, source.panel
    shown = _history_shown(source, viewer=viewer, for_audience=for_audience)
    serial = serial_shown(panel.serial or {}, panel.accession, shown)
    findings = findings_shown(
        list(panel.findings.all()), panel.serial or {}, panel.accession, shown
    )
    patient = panel.patient
    # panel_details prefetches the replaced results as ``superseded``
    results = in_reported_order(list(panel.results.all()), getattr(panel, "superseded", []))
    marks = source_marks(results)
    caveats = analyte_notes(tocilizumab_at=source.tocilizumab_at)
    method, instrument, lines = _measured_with(
        results,
        [result_line(result, marks, caveats.get(result.analyte.code, "")) for result in results],
    )
    ruleset = panel.ruleset
    return ReportDocument(
        report_id=str(report.pk),
        status_label=STAGE_LABELS[ReportStage(report.stage)],
        lab_name=panel.lab.name,
        lab_address=panel.lab.address,
        patient_name=", ".join(part for part in (patient.family_name, patient.given_name) if part),
        patient_mrn=patient.mrn,
        patient_birth_date=patient.birth_date.isoformat() if patient.birth_date else "Unknown",
        patient_sex=Sex(patient.sex).label,
        patient_age=_age_text(panel),
        accession=panel.accession,
        specimen_type=str(SpecimenType(panel.specimen_type).label),
        specimen_condition=panel.specimen_condition or NOT_STATED,
        method=method,
        instrument=instrument,
        collected_at=when_text(panel.collected_at),
        received_at=_received_text(panel),
        reported_at=when_text(reported_at),
        ordering_clinician=_clinician_text(panel),
        ruleset_label=f"{ruleset.name}, version {ruleset.version}",
        results=table_rows(lines),
        banner=banner(lines),
        notices=notices(lines),
        footnotes=footnotes(results, marks),
        findings=finding_lines(panel, analyte_names=source.analyte_names, findings=findings),
        family_summary=summary_lines(
            panel.summary.get("by_family", []), results, lines, by_role=False
        ),
        role_summary=summary_lines(panel.summary.get("by_role", []), results, lines, by_role=True),
        trend=trend_table(panel, serial=serial),
        amendment=_amendment(report),
        preliminary_mark=PRELIMINARY_MARK if report.stage == ReportStage.PRELIMINARY else "",
        sign_out=sign_out_lines(report, panel),
    )
