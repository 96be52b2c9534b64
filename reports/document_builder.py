"""Assembles the plain ``ReportDocument`` the PDF layout draws, from stored rows.

Formatting decisions live here (dates, names, flag words); the layout in ``reports.rendering``
only draws what it is given. Values are shown exactly as reported, with their comparator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from panels.models import Panel, Result
from reference_ranges.engine import age_on
from reference_ranges.models import Sex, SpecimenType
from reports.formatting import when_text as _when
from reports.models import Report
from reports.rendering.document import (
    Amendment,
    CorrectionLine,
    FindingLine,
    ReportDocument,
    ResultLine,
    SummaryLine,
)
from reports.selectors import panel_get_for_rendering
from reports.trend_builder import trend_table

FLAG_TEXT = {
    "N": "Normal",
    "H": "High",
    "L": "Low",
    "HH": "Critical high",
    "LL": "Critical low",
    "<": "Below measuring range",
    ">": "Above measuring range",
    "IND": "Indeterminate",
    "": "No range",
}
NOT_FLAGGED = ("", "N", "IND")
STATUS_TEXT = {
    "met": "Met",
    "not_met": "Not met",
    "indeterminate": "Indeterminate",
    "not_evaluated": "Not evaluated",
}


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


def _result_line(result: Result) -> ResultLine:
    code = result.interpretation
    rule = result.rule
    if rule is None:
        note = result.interpretation_reason
    else:
        source = " ".join(part for part in (rule.source, rule.test_code) if part)
        note = f"Interval: {source}" + ("" if rule.verified else " (unverified source)")
    return ResultLine(
        analyte_name=result.analyte.short_name,
        analyte_code=result.analyte.code,
        value_text=result.value_text,
        unit=result.unit,
        reference_text=result.reference_text or "No applicable range",
        flag_code=code,
        flag_text=FLAG_TEXT[code],
        is_abnormal=code not in NOT_FLAGGED,
        note=note,
    )


def _banner(lines: list[ResultLine]) -> str:
    flagged = [line for line in lines if line.is_abnormal]
    if not flagged:
        return ""
    listing = ", ".join(
        f"{line.analyte_name} {line.value_text} ({line.flag_code})" for line in flagged
    )
    noun = "result" if len(flagged) == 1 else "results"
    return f"{len(flagged)} {noun} outside the reference interval: {listing}"


def _footnotes(panel: Panel) -> tuple[str, ...]:
    notes: list[str] = []
    seen: set[str] = set()
    for result in panel.results.all():
        rule = result.rule
        if rule is None or rule.source in seen:
            continue
        seen.add(rule.source)
        mark = "" if rule.verified else " — UNVERIFIED source"
        notes.append(f"{rule.source}: {rule.citation}{mark}")
    notes.append(
        "Values are shown exactly as reported; '<' and '>' mark results outside the "
        "measuring range. Units are never converted. Flags: N normal, H high, L low, "
        "HH/LL critical, '<'/'>' below/above the measuring range."
    )
    return tuple(notes)


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


def _summary_lines(groups: list[dict[str, Any]]) -> tuple[SummaryLine, ...]:
    return tuple(
        SummaryLine(
            label=group["label"],
            measured=group["measured"],
            elevated=", ".join(group["elevated"]) or "none",
        )
        for group in groups
    )


def _correction_side(value: str, unit: str, code: str | None) -> str:
    flag = FLAG_TEXT.get(code or "", code or "")
    return f"{value} {unit} ({flag})"


def _amendment(report: Report) -> Amendment | None:
    original = report.amends
    if original is None:
        return None
    issued = _when(original.rendered_at) if original.rendered_at else "not issued (failed)"
    return Amendment(
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
    lines = [_result_line(result) for result in panel.results.all()]
    ruleset = panel.ruleset
    return ReportDocument(
        report_id=str(report.pk),
        status_label="Amended report" if report.amends_id else "Final report",
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
        results=tuple(lines),
        banner=_banner(lines),
        footnotes=_footnotes(panel),
        findings=_finding_lines(panel),
        family_summary=_summary_lines(panel.summary.get("by_family", [])),
        role_summary=_summary_lines(panel.summary.get("by_role", [])),
        trend=trend_table(panel),
        amendment=_amendment(report),
    )
