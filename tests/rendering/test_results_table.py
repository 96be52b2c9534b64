"""The results table, its range bars, the banner's statements and the summary: pure layout tests.

No database, no Django. The golden texts are read back from the rendered PDF with pypdf.
"""

from __future__ import annotations

import io
from decimal import Decimal

import pypdf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.rendering import ReportDocument, ResultLine, render_pdf, styles
from reports.rendering.document import Notice, RangeBar, SummaryLine
from reports.rendering.range_bar import RangeBarFlowable, domain, geometry, is_logarithmic
from reports.rendering.results_table import results_table

WIDTH = 80.0
D = Decimal


def _lines(pdf: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [
        line.strip()
        for page in reader.pages
        for line in page.extract_text().splitlines()
        if line.strip()
    ]


def _document(**values: object) -> ReportDocument:
    base: dict[str, object] = {
        "report_id": "7",
        "status_label": "Final report",
        "lab_name": "Labpanel Reference Laboratory",
        "lab_address": "1200 Research Park Dr, Madison, WI 53711",
        "patient_name": "Doe, Jane",
        "patient_mrn": "MRN-1",
        "patient_birth_date": "1980-04-02",
        "patient_sex": "Female",
        "patient_age": "46 years",
        "accession": "A-1",
        "specimen_type": "Plasma",
        "collected_at": "2026-11-20 08:30 UTC",
        "received_at": "2026-11-20 11:02 UTC",
        "reported_at": "2026-11-21 16:45 UTC",
        "ordering_clinician": "dr.house",
        "ruleset_label": "Labpanel default cytokine intervals, version 2026.1",
        "results": (),
        "banner": "",
        "footnotes": (),
    }
    base.update(values)
    return ReportDocument(**base)  # type: ignore[arg-type]


# --- The range bar's geometry -----------------------------------------------------------------


def test_a_value_within_a_one_sided_interval_is_a_point_in_a_band_open_at_zero() -> None:
    shape = geometry(RangeBar(value=D("1.0"), censoring="", low=None, high=D("2.5")), WIDTH)

    assert shape.marker == "point"
    assert shape.arrow_tip is None
    assert not shape.logarithmic
    assert shape.band[0] == shape.axis[0]  # no lower limit: the band runs from 0
    assert shape.band_edges == (shape.band[1],)  # only the bounded side is closed
    assert shape.band[0] < shape.value_x < shape.band[1]


def test_values_and_limits_spanning_decades_use_a_logarithmic_scale_with_decade_ticks() -> None:
    bar = RangeBar(value=D("5000"), censoring="", low=None, high=D("2.5"))

    shape = geometry(bar, WIDTH)

    assert is_logarithmic(bar)
    assert shape.logarithmic
    assert len(shape.decade_ticks) >= 3  # 1, 10, 100, 1000, 10000 within 0.83 .. 15000
    assert shape.band[1] < shape.value_x <= shape.axis[1]


def test_a_value_within_a_decade_of_its_interval_keeps_a_linear_scale_from_zero() -> None:
    bar = RangeBar(value=D("12.0"), censoring="", low=None, high=D("10.4"))

    assert domain(bar) == (0.0, 15.0, False)
    assert geometry(bar, WIDTH).decade_ticks == ()


@pytest.mark.parametrize(
    ("_case", "censoring", "marker", "tip_side"),
    [
        ("below the measuring limit: arrow to 0", "<", "below", "left"),
        ("above the measuring limit: arrow to the end", ">", "above", "right"),
    ],
)
def test_a_censored_value_is_an_open_ended_arrow_never_a_point(
    _case: str, censoring: str, marker: str, tip_side: str
) -> None:
    shape = geometry(RangeBar(value=D("20"), censoring=censoring, low=None, high=D("5.3")), WIDTH)

    assert shape.marker == marker
    assert shape.arrow_tip is not None
    if tip_side == "left":
        assert shape.arrow_tip < shape.axis[0] < shape.value_x
    else:
        assert shape.value_x <= shape.axis[1] < shape.arrow_tip


def test_a_two_sided_interval_has_both_edges_closed() -> None:
    shape = geometry(RangeBar(value=D("900"), censoring="", low=D("266.5"), high=D("1410.4")), 90)

    assert shape.band_edges == shape.band
    assert shape.axis[0] < shape.band[0] < shape.value_x < shape.band[1]


def test_a_zero_value_on_a_logarithmic_scale_sits_at_the_start() -> None:
    shape = geometry(RangeBar(value=D("0"), censoring="", low=D("5"), high=D("500")), WIDTH)

    assert shape.logarithmic
    assert shape.value_x == shape.axis[0]


@given(
    low=st.decimals(min_value="0.001", max_value="10000", places=3),
    span=st.decimals(min_value="0.001", max_value="100000", places=3),
    fraction=st.decimals(min_value="0", max_value="1", places=3),
)
def test_a_value_inside_its_interval_is_always_drawn_inside_the_band(
    low: Decimal, span: Decimal, fraction: Decimal
) -> None:
    high = low + span
    value = low + span * fraction
    shape = geometry(RangeBar(value=value, censoring="", low=low, high=high), WIDTH)

    assert shape.band[0] - 1e-6 <= shape.value_x <= shape.band[1] + 1e-6


# --- The table -----------------------------------------------------------------------------------

JUDGED = ResultLine(
    analyte_name="IL-6",
    analyte_code="IL6",
    value_text="0.0123",
    unit="ng/mL",
    reference_text="≤2.5 pg/mL",
    flag_code="H",
    flag_text="High",
    is_abnormal=True,
    note="12.3 > 2.5 (upper limit, inclusive)",
    converted_text="= 12.3 pg/mL",
    conversion="Converted for interpretation: 0.0123 ng/mL = 12.3 pg/mL (1 ng/mL = 1000 pg/mL); "
    "the flag was judged on 12.3 pg/mL.",
    source_mark="a",
    bar=RangeBar(value=D("12.3"), censoring="", low=None, high=D("2.5")),
)
UNJUDGED = ResultLine(
    analyte_name="IL-4",
    analyte_code="IL4",
    value_text="0.8",
    unit="pg/mL",
    reference_text="None applies",
    flag_code="",
    flag_text="Not interpreted",
    is_abnormal=False,
    note="no reference interval for age 10 years",
    analyte_mark="†",
    needs_review=True,
)


def test_a_bar_is_drawn_only_where_an_interval_applies() -> None:
    styles.register_fonts()
    table = results_table((JUDGED, UNJUDGED))

    rows = [row for row in table._cellvalues if not isinstance(row[1], str)]  # result rows
    assert isinstance(rows[1][4], RangeBarFlowable)  # row 0 is the header
    assert rows[1][4].bar == JUDGED.bar
    assert rows[2][4] == ""


def test_results_rows_golden_text() -> None:
    document = _document(
        results=(JUDGED, UNJUDGED),
        banner="1 result outside the reference interval: IL-6 0.0123 ng/mL (= 12.3 pg/mL) (H)",
        notices=(
            Notice(
                "NOT INTERPRETED",
                "1 result not interpreted — no reference interval for age 10 years: "
                "IL-4 0.8 pg/mL. No flag is given to this value.",
            ),
        ),
        family_summary=(
            SummaryLine(
                label="Interleukins",
                measured=2,
                elevated="IL-6 (among 1 judged)",
                not_judged="1 not interpreted: IL-4",
                has_elevated=True,
            ),
        ),
    )

    lines = _lines(render_pdf(document))
    first = next(index for index, line in enumerate(lines) if line.startswith("⚠"))

    assert lines[first : lines.index("Results")] == [
        "⚠ ABNORMAL RESULTS: 1 result outside the reference interval: IL-6 0.0123 ng/mL (=",
        "12.3 pg/mL) (H)",
        "⚠ NOT INTERPRETED: 1 result not interpreted — no reference interval for age 10",
        "years: IL-4 0.8 pg/mL. No flag is given to this value.",
    ]
    assert lines[lines.index("IL-6") : lines.index("Interleukins") + 4] == [
        "IL-6",
        "0.0123",
        "= 12.3 pg/mL",
        "ng/mL",
        "≤2.5 pg/mL [a]",
        "H High",
        "Converted for interpretation: 0.0123 ng/mL = 12.3 pg/mL (1 ng/mL = 1000 pg/mL); the flag "
        "was judged on 12.3 pg/mL.",
        "Note: 12.3 > 2.5 (upper limit, inclusive)",
        "IL-4 †",
        "0.8",
        "pg/mL",
        "None applies",
        "Not interpreted",
        "Note: no reference interval for age 10 years",
        "Summary by family and role",
        "Family",
        "Measured",
        "Elevated",
        "Not judged",
        "Interleukins",
        "2",
        "IL-6 (among 1 judged)",
        "1 not interpreted: IL-4",
    ]


def test_no_banner_is_drawn_when_nothing_is_flagged_and_everything_was_judged() -> None:
    lines = _lines(render_pdf(_document(results=(JUDGED,), banner="", notices=())))

    assert not any("⚠" in line for line in lines)


def test_a_notice_alone_draws_the_banner_without_calling_anything_abnormal() -> None:
    notice = Notice("NOT INTERPRETED", "1 result not interpreted — no interval: IL-4 0.8 pg/mL.")

    lines = _lines(render_pdf(_document(results=(UNJUDGED,), notices=(notice,))))

    assert "⚠ NOT INTERPRETED: 1 result not interpreted — no interval: IL-4 0.8 pg/mL." in lines
    assert not any("ABNORMAL" in line for line in lines)
