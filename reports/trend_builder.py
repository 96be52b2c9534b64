"""The report's serial section: earlier panels of the patient beside this one.

Built from the trend snapshot stored on the panel (``panels.interpretation.serial_json``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from panels.models import Panel
from reports.formatting import when_text as _when
from reports.rendering.document import TrendRow, TrendTable

EVENT_TEXT = {"car_t_infusion": "CAR-T infusion", "bispecific_start": "bispecific antibody start"}


def _day_text(day: int | None) -> str:
    if day is None:
        return ""
    return f"Day {day:+d}" if day else "Day 0"


def trend_table(panel: Panel) -> TrendTable | None:
    """The serial table of ``panel``'s report, from its stored trend snapshot (None without one)."""
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
