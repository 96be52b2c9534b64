"""Assembles the plain ``ReportDocument`` the PDF layout draws, from stored rows.

Formatting decisions live here (dates, names, flag words); the layout in ``reports.rendering``
only draws what it is given. Values are shown exactly as reported, with their comparator.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from panels.models import Panel
from reference_ranges.engine import age_on
from reference_ranges.models import Sex, SpecimenType
from reports.models import Report, ReportStage
from reports.rendering.document import (
    Amendment,
    CorrectionLine,
    FindingLine,
    ReportDocument,
    TrendRow,
    TrendTable,
)
from reports.results_builder import (
    FLAG_TEXT,
    banner,
    footnotes,
    notices,
    result_line,
    source_marks,
    summary_lines,
    table_rows,
)
from reports.selectors import panel_get_for_rendering

STATUS_TEXT = {
    "met": "Met",
    "not_met": "Not met",
    "indeterminate": "Indeterminate",
    "not_evaluated": "Not evaluated",
}
EVENT_TEXT = {"car_t_infusion": "CAR-T infusion", "bispecific_start": "bispecific antibody start"}


def _when(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return local.strftime("%Y-%m-%d %H:%M %Z")


def _age_text(panel: Panel) -> str:
    birth_date = panel.patient.birth_date
    if birth_date is None:
        return "Unknown"
    age = age_on(birth_date, timezone.localdate(panel.collected_at))
    if age.years >= 2:
        return f"{age.years} years"
    return f"{age.days} days"


def _clinician_text(panel: Panel) -> str:
    user = panel.ordering_clinician
    staff = getattr(user, "staff", None)
    display = (staff.display_name if staff else "") or user.get_full_name()
    username = user.get_username()
    return f"{display} ({username})" if display else username


def _finding_lines(panel: Panel) -> tuple[FindingLine, ...]:
    lines = []
    for finding in panel.findings.all():
        evidence = "; ".join(
            f"{item['criterion']}: {item['value'] if item['value'] is not None else 'not supplied'}"
            + {True: " (met)", False: " (not met)", None: " (undecided)"}[item["satisfied"]]
            for item in finding.evidence
        )
        lines.append(
            FindingLine(
                name=finding.name,
                status_text=STATUS_TEXT[finding.status],
                statement=finding.statement,
                evidence=evidence,
                source=f"{finding.citation} — rule {finding.rule_id} v{finding.rule_version}",
                is_verified=finding.verified,
                is_positive=finding.status == "met",
            )
        )
    return tuple(lines)


def _day_text(day: int | None) -> str:
    if day is None:
        return ""
    return f"Day {day:+d}" if day else "Day 0"


def _trend_table(panel: Panel) -> TrendTable | None:
    serial = panel.serial
    if not serial or not serial.get("analytes"):
        return None
    names = {result.analyte.code: result.analyte.short_name for result in panel.results.all()}
    columns: dict[str, str] = {}
    for analyte in serial["analytes"]:
        for point in analyte["points"]:
            columns.setdefault(
                point["accession"], _day_text(point["day"]) or point["collected_at"][:10]
            )
    keys = list(columns)
    rows = []
    for analyte in serial["analytes"]:
        by_key = {point["accession"]: point for point in analyte["points"]}
        current = by_key.get(panel.accession)
        fold = current["fold_from_baseline"] if current else None
        rows.append(
            TrendRow(
                analyte_name=names.get(analyte["analyte"], analyte["analyte"]),
                unit=analyte["unit"],
                cells=tuple(by_key[key]["value_text"] if key in by_key else "—" for key in keys),
                fold_text=f"×{Decimal(fold):.1f}" if fold is not None else "—",
            )
        )
    anchor = serial.get("anchor")
    note_parts = []
    if anchor:
        when = _when(datetime.fromisoformat(anchor["occurred_at"]))
        note_parts.append(f"Day 0 = {EVENT_TEXT.get(anchor['kind'], anchor['kind'])} {when}")
    if serial.get("baseline"):
        note_parts.append(f"baseline: accession {serial['baseline']}")
    note_parts.append(
        "fold change is computed only between uncensored values in the same unit "
        "(shown to one decimal; stored exactly)"
    )
    column_titles = tuple(
        f"{columns[key]} ({key})" + (" — this report" if key == panel.accession else "")
        for key in keys
    )
    return TrendTable(columns=column_titles, rows=tuple(rows), note="; ".join(note_parts))


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
    issued = _when(original.rendered_at) if original.rendered_at else "not issued (failed)"
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


def report_document_build(*, report: Report, reported_at: datetime) -> ReportDocument:
    panel = panel_get_for_rendering(pk=report.panel_id)
    patient = panel.patient
    results = list(panel.results.all())
    marks = source_marks(results)
    lines = [result_line(result, marks) for result in results]
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
        collected_at=_when(panel.collected_at),
        received_at=_when(panel.received_at),
        reported_at=_when(reported_at),
        ordering_clinician=_clinician_text(panel),
        ruleset_label=f"{ruleset.name}, version {ruleset.version}",
        results=table_rows(lines),
        banner=banner(lines),
        notices=notices(lines),
        footnotes=footnotes(results, marks),
        findings=_finding_lines(panel),
        family_summary=summary_lines(
            panel.summary.get("by_family", []), results, lines, by_role=False
        ),
        role_summary=summary_lines(panel.summary.get("by_role", []), results, lines, by_role=True),
        trend=_trend_table(panel),
        amendment=_amendment(report),
        preliminary_mark=PRELIMINARY_MARK if report.stage == ReportStage.PRELIMINARY else "",
    )
