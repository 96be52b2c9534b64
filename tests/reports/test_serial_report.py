"""The serial section of a report, end to end: panels posted through the API, the report's
document built from the stored rows, the real PDF rendered and its text read back (issue 11,
items 1 and 7, and the trend chart)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import Panel
from reports.document_builder import report_document_build
from reports.models import Report
from reports.rendering import ReportDocument, render_pdf
from tests.conftest import EXAMPLE_PANEL
from tests.rendering.pdf_text import body_lines
from tests.reports.test_clinician_pages import browser, table_rows

GOLDEN = Path(__file__).resolve().parents[1] / "rendering" / "golden"
REPORTED_AT = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
INFUSION = {"type": "car_t_infusion", "at": "2026-11-10T12:00:00Z"}
# Heparin plasma: the specimen the default intervals state an interval for.
SPECIMEN = "plasma_heparin"


def submit(
    client: APIClient,
    accession: str,
    collected_at: str,
    results: dict[str, str],
    *,
    specimen: str = SPECIMEN,
    events: tuple[dict[str, str], ...] = (),
    is_baseline: bool | None = None,
    mrn: str = "MRN-77",
    method: str = "",
) -> Report:
    payload: dict[str, Any] = copy.deepcopy(EXAMPLE_PANEL)
    payload["accession"] = accession
    payload["patient"]["mrn"] = mrn
    payload["specimen"] = {"type": specimen, "collected_at": collected_at}
    if is_baseline is not None:
        payload["specimen"]["is_baseline"] = is_baseline
    payload["results"] = [
        {"analyte": analyte, "value": value, "unit": "pg/mL"} for analyte, value in results.items()
    ]
    if method:
        for result in payload["results"]:
            result["method"] = method
    if events:
        payload["events"] = list(events)
    response = client.post("/api/v1/panels/", payload, format="json")
    assert response.status_code == 201, response.json()
    # Released, as the panels of a cumulative report are: the report is drawn for the ordering
    # clinician, who is shown released earlier panels only (tests/panels/test_history_*).
    Panel.objects.filter(accession=accession).update(review_state="released")
    return Report.objects.get(pk=response.json()["report"]["id"])


def document_of(report: Report) -> ReportDocument:
    return report_document_build(report=report, reported_at=REPORTED_AT)


def serial_lines(document: ReportDocument, *, charts: bool = False) -> list[str]:
    """The text of the rendered "Serial results" section: its notes and table, up to the
    first chart (``charts``: the charts, up to the rule set line)."""
    lines = body_lines(render_pdf(document), status=document.status_label)
    end = next(i for i, line in enumerate(lines) if line.startswith("Reference intervals and"))
    section = lines[lines.index("Serial results") : end]
    titles = [chart.title for chart in document.trend.charts] if document.trend else []
    first_chart = section.index(titles[0]) if titles else len(section)
    return section[first_chart:] if charts else section[:first_chart]


def golden(name: str) -> list[str]:
    return (GOLDEN / name).read_text(encoding="utf-8").splitlines()


@pytest.fixture
def day_order_report(technician_client: APIClient) -> Report:
    """The issue's case: IL-6 only at day -1, IFN-γ only at day +1, both at day +4 (current)."""
    submit(technician_client, "S-1", "2026-11-09T08:00:00Z", {"IL-6": "2.0"}, events=(INFUSION,))
    submit(technician_client, "S-2", "2026-11-11T08:00:00Z", {"IFN-γ": "50"})
    return submit(technician_client, "S-3", "2026-11-14T08:00:00Z", {"IFN-γ": "400", "IL-6": "480"})


@pytest.mark.django_db
def test_columns_follow_collection_order_and_mark_the_current_panel_by_accession(
    day_order_report: Report,
) -> None:
    # when: each analyte first appears in a different panel
    trend = document_of(day_order_report).trend

    # then
    assert trend is not None
    assert [(c.title, c.accession, c.is_current) for c in trend.columns] == [
        ("Day -1", "S-1", False),
        ("Day +1", "S-2", False),
        ("Day +4", "S-3", True),
    ]
    rows = {row.analyte_name: row for row in trend.rows}
    assert rows["IFN-γ"].cells == ("—", "50", "400")  # a rise reads as a rise
    assert rows["IL-6"].cells == ("2.0", "—", "480")
    assert rows["IL-6"].fold_text == "×240"
    assert rows["IFN-γ"].fold_text == "none: not measured at baseline"


@pytest.mark.django_db
def test_serial_table_golden_text_day_minus_one_plus_one_plus_four(
    day_order_report: Report,
) -> None:
    assert serial_lines(document_of(day_order_report)) == golden("serial_day_order.txt")


@pytest.mark.django_db
def test_a_late_entered_earlier_panel_shows_only_what_preceded_it(
    technician_client: APIClient,
) -> None:
    submit(technician_client, "S-1", "2026-11-09T08:00:00Z", {"IL-6": "2.0"}, events=(INFUSION,))
    submit(technician_client, "S-3", "2026-11-14T08:00:00Z", {"IL-6": "480"})
    late = submit(technician_client, "S-2", "2026-11-11T08:00:00Z", {"IL-6": "50"})

    trend = document_of(late).trend

    assert trend is not None
    assert [(c.title, c.is_current) for c in trend.columns] == [
        ("Day -1", False),
        ("Day +1", True),
    ]


@pytest.mark.django_db
def test_mixed_specimen_history_is_set_apart_and_says_why_no_fold_change(
    technician_client: APIClient,
) -> None:
    # given: the pre-infusion panel was serum, the later ones heparin plasma
    submit(
        technician_client,
        "M-1",
        "2026-11-09T08:00:00Z",
        {"IL-6": "2.0"},
        specimen="serum",
        events=(INFUSION,),
    )
    submit(technician_client, "M-2", "2026-11-11T08:00:00Z", {"IL-6": "60"})
    report = submit(technician_client, "M-3", "2026-11-14T08:00:00Z", {"IL-6": "480"})

    document = document_of(report)

    assert document.trend is not None
    assert [c.accession for c in document.trend.columns] == ["M-2", "M-3"]
    assert [row.fold_text for row in document.trend.rows] == ["—"]
    assert serial_lines(document) == golden("serial_mixed_specimen.txt")


@pytest.mark.django_db
def test_without_an_anchor_event_the_first_panel_is_no_baseline(
    technician_client: APIClient,
) -> None:
    submit(technician_client, "N-1", "2026-11-09T08:00:00Z", {"IL-6": "2.0"})
    report = submit(technician_client, "N-2", "2026-11-14T08:00:00Z", {"IL-6": "480"})

    document = document_of(report)

    panel = Panel.objects.get(accession="N-2")
    assert (panel.serial["baseline"], panel.serial["no_baseline"]) == (None, "no_anchor")
    assert document.trend is not None
    assert [row.fold_text for row in document.trend.rows] == ["—"]
    assert serial_lines(document) == golden("serial_no_baseline.txt")


@pytest.mark.django_db
def test_a_panel_marked_baseline_at_submission_is_the_baseline(
    technician_client: APIClient,
) -> None:
    # given: no anchor event; the lab marks the first panel as the baseline
    first = submit(
        technician_client, "B-1", "2026-11-09T08:00:00Z", {"IL-6": "4.0"}, is_baseline=True
    )
    report = submit(technician_client, "B-2", "2026-11-14T08:00:00Z", {"IL-6": "480"})

    trend = document_of(report).trend
    answer = technician_client.get(f"/api/v1/panels/{first.panel_id}/").json()

    assert answer["specimen"]["is_baseline"] is True
    assert trend is not None
    assert [(c.accession, c.is_baseline) for c in trend.columns] == [
        ("B-1", True),
        ("B-2", False),
    ]
    assert [row.fold_text for row in trend.rows] == ["×120"]
    assert trend.fold_note == ""
    assert "marked as baseline by the laboratory" in trend.note


@pytest.mark.django_db
def test_an_elevated_analyte_with_earlier_panels_gets_a_trend_chart(
    technician_client: APIClient,
) -> None:
    submit(
        technician_client,
        "C-1",
        "2026-11-09T08:00:00Z",
        {"IL-6": "<2.0", "IL-10": "1.0"},
        events=(INFUSION,),
    )
    submit(technician_client, "C-2", "2026-11-11T08:00:00Z", {"IL-6": "60", "IL-10": "1.2"})
    report = submit(
        technician_client, "C-3", "2026-11-14T08:00:00Z", {"IL-6": ">5000", "IL-10": "1.1"}
    )

    document = document_of(report)

    assert document.trend is not None
    [chart] = document.trend.charts  # IL-10 is not elevated: no chart
    assert [(p.x, p.value, p.label, p.is_censored, p.is_current) for p in chart.points] == [
        (-1, Decimal("2.0"), "<2.0", True, False),
        (1, Decimal(60), "60", False, False),
        (4, Decimal(5000), ">5000", True, True),
    ]
    assert (chart.band_low, chart.band_high) == (None, Decimal("2.5"))
    assert chart.x_ticks == ((-1, "-1"), (1, "+1"), (4, "+4"))
    assert serial_lines(document, charts=True) == golden("serial_chart.txt")


@pytest.mark.django_db
def test_the_baseline_mark_is_part_of_what_was_submitted(technician_client: APIClient) -> None:
    submit(technician_client, "B-1", "2026-11-09T08:00:00Z", {"IL-6": "4.0"}, is_baseline=True)
    payload: dict[str, Any] = copy.deepcopy(EXAMPLE_PANEL)
    payload["accession"] = "B-1"
    payload["specimen"] = {"type": SPECIMEN, "collected_at": "2026-11-09T08:00:00Z"}
    payload["results"] = [{"analyte": "IL-6", "value": "4.0", "unit": "pg/mL"}]

    unmarked = technician_client.post("/api/v1/panels/", payload, format="json")
    payload["specimen"]["is_baseline"] = True
    marked = technician_client.post("/api/v1/panels/", payload, format="json")

    assert (unmarked.status_code, marked.status_code) == (409, 200)


@pytest.mark.django_db
def test_a_snapshot_stored_before_the_baseline_rule_shows_no_fold(
    technician_client: APIClient,
) -> None:
    # given: a trend snapshot in the earlier shape, its "baseline" the first panel on file
    submit(technician_client, "O-1", "2026-11-09T08:00:00Z", {"IL-6": "2.0"})
    report = submit(technician_client, "O-2", "2026-11-14T08:00:00Z", {"IL-6": "480"})
    panel = Panel.objects.get(accession="O-2")
    [il6] = panel.serial["analytes"]
    for point, fold in zip(il6["points"], ("1", "240"), strict=True):
        point["fold_from_baseline"] = fold
    Panel.objects.filter(pk=panel.pk).update(
        serial={"anchor": None, "baseline": "O-1", "analytes": [il6]}
    )

    trend = document_of(report).trend

    assert trend is not None
    assert [(c.accession, c.is_baseline, c.is_current) for c in trend.columns] == [
        ("O-1", False, False),
        ("O-2", False, True),
    ]
    assert [row.fold_text for row in trend.rows] == ["—"]
    assert trend.fold_note.startswith("No fold change: this trend was recorded before")


ELISA = "ELISA"
XMAP = "Luminex xMAP bead immunoassay"


@pytest.mark.django_db
def test_a_panel_by_another_method_is_named_and_never_compared(
    technician_client: APIClient,
) -> None:
    # given: the pre-infusion panel by ELISA, this one by Luminex xMAP
    submit(
        technician_client,
        "A-0990",
        "2026-11-09T08:00:00Z",
        {"IL-6": "2.0"},
        events=(INFUSION,),
        method=ELISA,
    )
    report = submit(
        technician_client, "A-0995", "2026-11-14T08:00:00Z", {"IL-6": "480"}, method=XMAP
    )

    # when
    document = document_of(report)

    # then: the baseline is the ELISA panel, but no fold change is drawn across methods
    panel = Panel.objects.get(accession="A-0995")
    [il6] = panel.serial["analytes"]
    assert (il6["method"], [p["accession"] for p in il6["points"]]) == (XMAP, ["A-0995"])
    assert [(p["accession"], p["method"]) for p in il6["set_apart"]] == [("A-0990", ELISA)]
    assert il6["points"][0]["fold_from_baseline"] is None
    assert document.trend is not None
    [row] = document.trend.rows
    assert (row.cells, row.fold_text) == (
        ("other method", "480"),
        f"none: baseline by another method ({ELISA})",
    )
    assert serial_lines(document) == golden("serial_other_method.txt")


@pytest.mark.django_db
def test_results_whose_method_is_not_stated_keep_their_trend(
    technician_client: APIClient,
) -> None:
    # given: a lab that states the method of the baseline panel only
    submit(
        technician_client,
        "U-1",
        "2026-11-09T08:00:00Z",
        {"IL-6": "2.0"},
        events=(INFUSION,),
        method=ELISA,
    )
    report = submit(technician_client, "U-2", "2026-11-14T08:00:00Z", {"IL-6": "480"})

    document = document_of(report)

    assert document.trend is not None
    [row] = document.trend.rows
    assert (row.cells, row.fold_text) == (("2.0", "480"), "×240")
    assert document.trend.method_note == ""
    [chart] = document.trend.charts
    assert chart.title == "IL-6, pg/mL (heparin plasma, method: ELISA where stated)"


@pytest.mark.django_db
def test_the_report_page_shows_the_serial_table_in_collection_order_and_the_pdfs_charts(
    day_order_report: Report, director: StaffMember
) -> None:
    # when: lab staff open the report page of the day -1 / +1 / +4 case
    page = browser(director).get(f"/reports/{day_order_report.pk}/").content.decode()

    # then: the serial table as the PDF's, columns in collection order, this report marked
    document = document_of(day_order_report)
    assert document.trend is not None
    assert '<h2 id="serial-heading">Serial results</h2>' in page
    serial = page[page.index('<table class="serial">') :]
    serial = serial[: serial.index("</table>") + 8]
    head = serial[: serial.index("</thead>")]
    assert head.index("Day -1<br>S-1") < head.index("Day +1<br>S-2") < head.index("Day +4<br>S-3")
    assert '<th scope="col" class="current">Day +4<br>S-3<br><strong>this report' in head
    rows = table_rows(serial)
    assert ["IFN-γ", "pg/mL", "—", "50", "400", "none: not measured at baseline"] in rows
    assert ["IL-6", "pg/mL", "2.0", "—", "480", "×240"] in rows
    # one image per chart of the PDF, an SVG drawn by the same code, described in words
    charts = document.trend.charts
    assert charts
    assert page.count('<img src="data:image/svg+xml;base64,') == len(charts)
    for chart in charts:
        assert f'alt="Trend chart: {chart.title}; ' in page
