"""What the web pages show of a report's document beyond its results table, in the PDF's words:
the summary by family and role, and the serial results (notes, the table in collection order with
this report's column marked, and the same trend charts as the PDF, as SVG images)."""

from __future__ import annotations

from typing import Any

from reports.rendering.document import ReportDocument
from reports.rendering.pdf import chart_svg_data_uri
from reports.rendering.trend_chart import legend


def document_sections(document: ReportDocument) -> dict[str, Any]:
    """Template context for ``reports/_summary.html`` and ``reports/_serial.html``."""
    trend = document.trend
    context: dict[str, Any] = {
        "summaries": (("Family", document.family_summary), ("Role", document.role_summary)),
        "trend": trend,
        "trend_notes": (),
        "trend_rows": (),
        "trend_charts": (),
    }
    if trend is None:
        return context
    context["trend_notes"] = tuple(
        note
        for note in (
            trend.omitted_note,
            trend.note,
            trend.fold_note,
            trend.excluded_note,
            trend.method_note,
        )
        if note
    )
    context["trend_rows"] = tuple(
        {
            "analyte_name": row.analyte_name,
            "unit": row.unit,
            "cells": tuple(
                (cell, column.is_current)
                for column, cell in zip(trend.columns, row.cells, strict=True)
            ),
            "fold_text": row.fold_text,
        }
        for row in trend.rows
    )
    context["trend_charts"] = tuple(
        {
            "uri": chart_svg_data_uri(chart),
            "alt": f"Trend chart: {chart.title}; "
            + "; ".join(
                f"{point.label}{' (this report)' if point.is_current else ''}"
                for point in chart.points
            ),
            "legend": legend(chart),
        }
        for chart in trend.charts
    )
    return context
