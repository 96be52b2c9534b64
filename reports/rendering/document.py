"""The report as plain data: what the PDF shows, assembled by services, drawn by ``pdf.py``.

No Django here. Every string is final (already formatted by the caller): the layout never
rounds, converts or re-interprets a value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResultLine:
    analyte_name: str  # e.g. "IL-1β" — the analyte's display name, Greek letters included
    analyte_code: str  # e.g. "IL1B"
    value_text: str  # value with comparator exactly as reported, e.g. "<2.0", "12.4"
    unit: str  # e.g. "pg/mL"
    reference_text: str  # e.g. "≤2.5 pg/mL"; "No applicable range" when none applies
    flag_code: str  # "", "N", "H", "L", "HH", "LL", "<", ">"
    flag_text: str  # words for the flag: "High", "Critical high", "Normal", "No range" ...
    is_abnormal: bool
    note: str  # why: rule source, or why no range applies; may be ""


@dataclass(frozen=True, slots=True)
class ReportDocument:
    report_id: str
    status_label: str  # e.g. "Final report"
    lab_name: str
    lab_address: str
    patient_name: str  # "Doe, Jane"
    patient_mrn: str
    patient_birth_date: str  # "1980-04-02" or "Unknown"
    patient_sex: str  # "Female"
    patient_age: str  # "46 years" or "Unknown"
    accession: str
    specimen_type: str  # "Plasma"
    collected_at: str  # "2026-11-20 08:30 UTC"
    received_at: str
    reported_at: str
    ordering_clinician: str  # "Dr Gregory House (dr.house)"
    ruleset_label: str  # "Labpanel default cytokine intervals, version 2026.1"
    results: tuple[ResultLine, ...]
    banner: str  # "" when nothing is flagged, else e.g. "2 results outside the reference interval"
    footnotes: tuple[str, ...]  # sources of the intervals used, unverified marks, method notes
