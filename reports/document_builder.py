"""Assembles the plain ``ReportDocument`` the PDF layout draws, from stored rows.

Formatting decisions live here (dates, names, flag words); the layout in ``reports.rendering``
only draws what it is given. Values are shown exactly as reported, with their comparator.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from panels.models import Panel, Result, SpecimenType
from panels.selectors import panel_get_for_rendering
from reference_ranges.engine import age_on
from reference_ranges.models import Sex
from reports.models import Report
from reports.rendering import ReportDocument, ResultLine

FLAG_TEXT = {
    "N": "Normal",
    "H": "High",
    "L": "Low",
    "HH": "Critical high",
    "LL": "Critical low",
    "<": "Below measuring range",
    ">": "Above measuring range",
    "": "No range",
}


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
        is_abnormal=bool(code) and code != "N",
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


def report_document_build(*, report: Report, reported_at: datetime) -> ReportDocument:
    panel = panel_get_for_rendering(pk=report.panel_id)
    patient = panel.patient
    lines = [_result_line(result) for result in panel.results.all()]
    ruleset = panel.ruleset
    return ReportDocument(
        report_id=str(report.pk),
        status_label="Final report",
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
    )
