"""The serial section's layout: the table marks this report's column by identity, the notes
say why no fold change is shown, the chart draws censored values as such and picks its axis.
No database, no Django."""

from __future__ import annotations

import io
from decimal import Decimal

import pypdf
import pytest

from reports.rendering import render_pdf, trend_chart
from reports.rendering.document import ChartPoint, TrendChart, TrendColumn, TrendRow, TrendTable
from tests.rendering.test_render_pdf import _document


def _lines(pdf: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [
        line.strip()
        for page in reader.pages
        for line in page.extract_text().splitlines()
        if line.strip()
    ]


def _chart(*points: tuple[int, str], band_high: str | None = "5.9", note: str = "") -> TrendChart:
    marks = []
    for index, (day, text) in enumerate(points):
        censored = text[0] in "<>"
        marks.append(
            ChartPoint(
                x=day,
                value=Decimal(text.lstrip("<>")),
                is_censored=censored,
                label=text,
                is_current=index == len(points) - 1,
            )
        )
    return TrendChart(
        title="IL-6, pg/mL (heparin plasma)",
        y_label="IL-6 (pg/mL)",
        x_label="Days from CAR-T infusion (day 0 = 2026-11-10)",
        x_ticks=tuple((day, f"{day:+d}") for day, _ in points),
        points=tuple(marks),
        band_low=None,
        band_high=None if band_high is None else Decimal(band_high),
        band_label="" if band_high is None else f"Reference interval ≤{band_high} pg/mL",
        note=note,
    )


def test_the_bold_column_is_the_current_panel_wherever_it_stands() -> None:
    # given: a table whose current panel is not the last column
    table = TrendTable(
        columns=(
            TrendColumn("Day -1", "A-1", is_current=False, is_baseline=True),
            TrendColumn("Day +1", "A-2", is_current=True, is_baseline=False),
            TrendColumn("Day +4", "A-3", is_current=False, is_baseline=False),
        ),
        rows=(TrendRow("IL-6", "pg/mL", ("2.0", "50", "480"), "×25"),),
        note="Day 0 = CAR-T infusion 2026-11-10 12:00 UTC",
    )

    # when
    pdf = render_pdf(_document(trend=table))

    # then: the marks are words, so a black-and-white copy and text extraction both carry them
    lines = _lines(pdf)
    section = lines[lines.index("Serial results") :]
    head = section[section.index("Units") + 1 : section.index("This report")]
    assert head == ["Day -1", "A-1", "baseline", "Day +1", "A-2", "this report", "Day +4", "A-3"]


def test_a_section_with_only_panels_set_apart_still_says_so() -> None:
    table = TrendTable(
        columns=(),
        rows=(),
        note="",
        fold_note="No fold change: the earlier panels that could serve as baseline "
        "(pre-infusion or marked) are serum, this one is heparin plasma.",
        excluded_note="Not compared: earlier panel A-1 (Day -1) is serum, this one is heparin "
        "plasma.",
    )

    lines = _lines(render_pdf(_document(trend=table)))

    section = lines[lines.index("Serial results") :]
    assert section[1].startswith("No fold change: the earlier panels")
    assert any(
        line.startswith("Not compared: earlier panel A-1 (Day -1) is serum") for line in section
    )


@pytest.mark.parametrize(
    ("values", "band_high", "is_log", "ticks"),
    [
        (["2.0", "60", "5000"], "2.5", True, [1.0, 10.0, 100.0, 1000.0, 10000.0]),
        (["30", "90", "40"], "10.4", False, [0.0, 50.0, 100.0]),
        (["0", "900"], "2.5", False, [0.0, 500.0, 1000.0]),  # zero has no place on a log axis
        (["11", "1100"], None, True, [10.0, 100.0, 1000.0, 10000.0]),
    ],
)
def test_values_spanning_two_decades_get_a_log_axis(
    values: list[str], band_high: str | None, is_log: bool, ticks: list[float]
) -> None:
    limits = [float(band_high)] if band_high else []

    log, _bottom, _top, drawn = trend_chart._value_axis([float(v) for v in values] + limits)

    assert (log, drawn) == (is_log, ticks)


def test_chart_labels_censored_points_and_says_what_it_leaves_out() -> None:
    chart = _chart(
        (-1, "<2.0"),
        (1, "60"),
        (4, ">5000"),
        band_high=None,
        note="Reference interval (≤2.5 pg/mL) not drawn: it is defined in pg/mL, the series is "
        "in ng/mL.",
    )
    table = TrendTable(
        columns=(TrendColumn("Day +4", "A-3", is_current=True, is_baseline=False),),
        rows=(TrendRow("IL-6", "pg/mL", (">5000",), "—"),),
        note="",
        charts=(chart,),
    )

    lines = _lines(render_pdf(_document(trend=table)))

    start = lines.index("IL-6, pg/mL (heparin plasma)")
    assert lines[start : start + 2] == ["IL-6, pg/mL (heparin plasma)", "IL-6 (pg/mL), log scale"]
    assert {"<2.0", ">5000", "Days from CAR-T infusion (day 0 = 2026-11-10)"} <= set(lines)
    legend = " ".join(lines[lines.index(">5000", start) + 1 :])
    assert "○ censored, drawn at its limit and labelled as reported" in legend
    assert "Shaded band" not in legend
    assert "not drawn: it is defined in pg/mL, the series is in ng/mL." in legend


def test_three_charts_draw_two_to_a_row() -> None:
    table = TrendTable(
        columns=(TrendColumn("Day +4", "A-3", is_current=True, is_baseline=False),),
        rows=(TrendRow("IL-6", "pg/mL", ("480",), "—"),),
        note="",
        charts=tuple(_chart((-1, "2.0"), (4, str(value))) for value in (480, 90, 7)),
    )

    grid = trend_chart.flowable(table.charts)

    assert len(grid._cellvalues) == 2
    assert render_pdf(_document(trend=table)).startswith(b"%PDF-")
