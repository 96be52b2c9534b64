"""The report as plain data: what the PDF shows, assembled by services, drawn by ``pdf.py``.

No Django here. Every string is final (already formatted by the caller): the layout never
rounds, converts or re-interprets a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class RangeBar:
    """Where the judged value sits against its reference interval: drawn, never printed.

    Everything is in the interval's unit, and ``value`` is the value the flag was judged on (the
    engine's converted value where it converted). A censored value is a bound: ``censoring``
    "<" means the true value is at or below ``value``, ">" at or above it. A missing limit is
    unbounded on that side (concentrations start at 0).
    """

    value: Decimal
    censoring: str  # "", "<" or ">"
    low: Decimal | None
    high: Decimal | None


@dataclass(frozen=True, slots=True)
class ResultLine:
    analyte_name: str  # e.g. "IL-1β" — the analyte's display name, Greek letters included
    analyte_code: str  # e.g. "IL1B"
    value_text: str  # value with comparator exactly as reported, e.g. "<2.0", "12.4"
    unit: str  # e.g. "pg/mL"
    reference_text: str  # e.g. "≤2.5 pg/mL"; "None applies" when no interval applies
    flag_code: str  # "", "N", "H", "L", "HH", "LL", "<", ">", "IND"
    flag_text: str  # words for the flag: "High", "Critical high", "Normal", "Not interpreted" ...
    is_abnormal: bool
    note: str  # the engine's explanation (extrapolated, dilution, why indeterminate...); may be ""
    converted_text: str = ""  # the value the flag was judged on, e.g. "= 5 pg/mL"; "" if none
    # the engine's conversion as a sentence: "Converted for interpretation: 0.005 ng/mL = 5 pg/mL
    # (1 ng/mL = 1000 pg/mL); the flag was judged on 5 pg/mL."
    conversion: str = ""
    source_mark: str = ""  # e.g. "a": the footnote naming who published the interval
    analyte_mark: str = ""  # e.g. "†": the analyte's inflammatory role is unverified (footnote)
    needs_review: bool = False  # indeterminate, or not interpreted: the flag is drawn bold
    bar: RangeBar | None = None  # None: no interval applies, and no bar is drawn
    # "Method: ...; instrument: ..." when the panel's results were not all measured alike (then
    # printed in the row's note line); "" when the identification block states them once
    method_text: str = ""


@dataclass(frozen=True, slots=True)
class FindingLine:
    name: str  # e.g. "HLH-2004 diagnostic criteria"
    status_text: str  # "Met", "Not met", "Indeterminate", "Not evaluated"
    statement: str  # the finding's words, e.g. "cytokine pattern consistent with CRS / ..."
    evidence: str  # inputs with values against thresholds, one line
    source: (
        str  # "Herold T et al. J Allergy Clin Immunol 2020 — rule HEROLD_2020 v2026.1"; may be ""
    )
    is_verified: bool  # False prints "UNVERIFIED criterion" next to the finding
    is_positive: bool  # True when the criterion is met (drawn bold)
    # "Calculated from clinical data supplied by … at … — not a laboratory measurement.", or ""
    provenance: str = ""


@dataclass(frozen=True, slots=True)
class SummaryLine:
    label: str  # "Interleukins", "Pro-inflammatory", "Anti-inflammatory (IL-4†: role unverified)"
    measured: int
    elevated: str  # analyte names; "none among 4 judged" when some were not; never a bare "none"
    #                unless every measured result was judged
    not_judged: str = ""  # "9 not interpreted: IL-6, ...; 1 indeterminate: IL-10", or ""
    has_elevated: bool = False  # some analyte is elevated: drawn bold


@dataclass(frozen=True, slots=True)
class Notice:
    """One statement of the banner: ``heading`` in capitals ("ABNORMAL RESULTS"), then text."""

    heading: str
    text: str


@dataclass(frozen=True, slots=True)
class TrendColumn:
    """One panel of the serial table, in collection order."""

    title: str  # "Day -1", or the collection date "2026-11-09" without an anchor event
    accession: str
    is_current: bool  # this report's panel (by accession, never by position): drawn bold
    is_baseline: bool  # the panel fold changes are measured from


@dataclass(frozen=True, slots=True)
class TrendRow:
    analyte_name: str
    unit: str
    cells: tuple[str, ...]  # one per TrendTable column: the value as reported, or "—"
    fold_text: str  # fold change of the current value from baseline, "×48.2", or why none


@dataclass(frozen=True, slots=True)
class ChartPoint:
    x: int  # days from the anchor event (or from the first panel's date without one)
    value: Decimal  # the reported number; for a censored result, its limit ("<2" -> 2)
    is_censored: bool  # drawn as an open marker labelled with ``label``
    label: str  # the value as reported, "<2.0", ">5000", "48.2"
    is_current: bool


@dataclass(frozen=True, slots=True)
class TrendChart:
    """One elevated analyte over the series: values, the reference interval as a band."""

    title: str  # "IL-6, pg/mL (plasma)"
    y_label: str  # "IL-6 (pg/mL)"
    x_label: str  # "Days from CAR-T infusion (day 0 = 2026-11-10)"
    x_ticks: tuple[tuple[int, str], ...]  # (x, label): "-1", "+4"; or "11-09" without an anchor
    points: tuple[ChartPoint, ...]  # in collection order
    band_low: Decimal | None  # the reference interval of this report's result, when drawn
    band_high: Decimal | None
    band_label: str  # "the reference interval applied to this report, ≤5.9 pg/mL"; or ""
    note: str  # what the chart leaves out and why, e.g. the interval in another unit; or ""


@dataclass(frozen=True, slots=True)
class TrendTable:
    columns: tuple[TrendColumn, ...]  # in collection order
    rows: tuple[TrendRow, ...]
    note: str  # anchor and baseline, e.g. "Day 0 = CAR-T infusion 2026-11-10; baseline A-0990"
    fold_note: str = ""  # why no fold change is shown ("" when a baseline is used)
    excluded_note: str = ""  # earlier panels set apart (another specimen type), or ""
    charts: tuple[TrendChart, ...] = ()
    method_note: str = ""  # earlier results set apart (another method), or ""
    omitted_note: str = ""  # earlier panels not shown to this reader, how many and why, or ""


@dataclass(frozen=True, slots=True)
class CorrectionLine:
    analyte_name: str
    previous: str  # "148.2 pg/mL (High)"
    corrected: str  # "14.8 pg/mL (High)"


@dataclass(frozen=True, slots=True)
class Amendment:
    """What an amended report says about the report it replaces (CLIA 493.1291(k))."""

    replaces: str  # "report 12, issued 2026-11-20 09:14 UTC"
    reason: str
    corrections: tuple[CorrectionLine, ...]
    mark: str = "CORRECTED REPORT"  # "AMENDED PRELIMINARY REPORT" before release


@dataclass(frozen=True, slots=True)
class SignOutLine:
    """Who put the results out, in the identification block: "Verified", "Released",
    "Corrected", each with the person (or the lab's automatic rule) and the time."""

    label: str  # "Verified"
    text: str  # "Dr Gregory House (dr.house), 2026-11-20 10:05 UTC"


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
    # the lab's own receipt time, or "not stated by the laboratory (entered into Labpanel ...)"
    received_at: str
    reported_at: str
    ordering_clinician: str  # "Dr Gregory House (dr.house)"
    ruleset_label: str  # "Labpanel default cytokine intervals, version 2026.1"
    results: tuple[ResultLine, ...]
    banner: str  # "" when nothing is flagged, else e.g. "2 results outside the reference interval"
    footnotes: tuple[str, ...]  # sources of the intervals used, unverified marks, method notes
    findings: tuple[FindingLine, ...] = ()
    family_summary: tuple[SummaryLine, ...] = ()
    role_summary: tuple[SummaryLine, ...] = ()
    trend: TrendTable | None = None
    amendment: Amendment | None = None  # set on an amended report
    # Drawn at the top and in the footer of every page when set (a report before release):
    # "PRELIMINARY — not verified/released"
    preliminary_mark: str = ""
    # Statements beside the abnormal-results banner: results not interpreted (no interval
    # applies, grouped by the engine's reason), results that could not be placed (indeterminate)
    notices: tuple[Notice, ...] = ()
    specimen_condition: str = "not stated"  # "Hemolyzed"; "not stated" when the lab gave none
    # The method and instrument every result shares ("not stated" when blank), printed once in
    # the identification block; "" when they differ between results (each row then says its own)
    method: str = ""
    instrument: str = ""
    # Who verified and released the results (and who issued the correction), as the review
    # history records them; empty on a preliminary report, which is marked not verified/released
    sign_out: tuple[SignOutLine, ...] = ()
