"""What the report says about each result (issue 11, items 2, 3 and 6, unverified roles).

Panels go in through the API and are interpreted by the real engine against the seeded default
rule set; the document is built from the stored rows, and the golden texts are read back from the
PDF ``report_render`` stored (real database, real storage, real renderer).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.utils import timezone
from pypdf import PdfReader
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab
from reference_ranges.models import Analyte
from reference_ranges.services import measuring_range_record
from reports.document_builder import report_document_build
from reports.models import Report
from reports.rendering.document import Notice, RangeBar, ReportDocument, SummaryLine
from reports.services import report_render

pytestmark = pytest.mark.django_db

ADULT = "1980-04-02"
CHILD = "2016-05-01"  # 10 years old on the collection day, 2026-11-20
AGE_REASON = (
    "no reference interval for age 10 years; no age partition covers it "
    "(intervals exist for ages ≥18 years)"
)


def _post(
    client: APIClient,
    payload: dict[str, Any],
    results: list[dict[str, str]],
    *,
    birth_date: str = ADULT,
    specimen: str = "plasma",
) -> Report:
    payload["patient"]["birth_date"] = birth_date
    payload["specimen"]["type"] = specimen
    payload["results"] = results
    response = client.post("/api/v1/panels/", payload, format="json")
    assert response.status_code == 201, response.json()
    return Report.objects.get(pk=response.json()["report"]["id"])


def _document(report: Report) -> ReportDocument:
    return report_document_build(report=report, reported_at=timezone.now())


def _pdf_lines(report: Report) -> list[str]:
    report_render(report_id=report.pk)
    report.refresh_from_db()
    assert report.pdf.name
    with default_storage.open(report.pdf.name) as stored:
        reader = PdfReader(io.BytesIO(stored.read()))
    return [
        line.strip()
        for page in reader.pages
        for line in page.extract_text().splitlines()
        if line.strip()
    ]


def _between(lines: list[str], first: str, last: str) -> list[str]:
    start = next(index for index, line in enumerate(lines) if line.startswith(first))
    end = next(index for index, line in enumerate(lines) if line.startswith(last) and index > start)
    return lines[start : end + 1]


def _result(analyte: str, value: str, unit: str = "pg/mL", **extra: str) -> dict[str, str]:
    return {"analyte": analyte, "value": value, "unit": unit, **extra}


# IL-6 above the lab's ULOQ (extrapolated), TNF-α measured on a 1:10 dilution
EXTRAPOLATED_DILUTED = [_result("IL-6", "7000"), _result("TNFA", "6000", dilution_factor="10")]


@pytest.fixture
def il6_measuring_range(lab: Lab) -> None:
    """The lab's IL-6 assay measures 1.5 to 5000 pg/mL (in force before the panels' day)."""
    with time_machine.travel(datetime(2026, 1, 1, 9, tzinfo=UTC), tick=False):
        measuring_range_record(
            lab=lab,
            analyte=Analyte.objects.get(code="IL6"),
            assay="Roche Elecsys IL-6",
            lloq=Decimal("1.5"),
            uloq=Decimal("5000"),
            unit="pg/mL",
            effective_from=date(2026, 1, 1),
            source="package insert",
            created_by=None,
        )


# --- Item 2: results no interval judged ---------------------------------------------------------


def test_a_child_with_il6_5000_is_told_on_the_page_that_nothing_was_interpreted(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: a 10-year-old; the default intervals are adult-only
    report = _post(
        technician_client,
        panel_payload,
        [_result("IL-6", "5000"), _result("IL-8", "120"), _result("IL-4", "0.8")],
        birth_date=CHILD,
    )

    # when
    document = _document(report)

    # then: no row is flagged, every row points to the reason, and the banner names them all
    assert [(line.flag_text, line.needs_review, line.bar) for line in document.results] == [
        ("Not interpreted", True, None)
    ] * 3
    assert {(line.note, line.reference_text) for line in document.results} == {
        ("", "None (see above)")
    }
    assert document.banner == ""
    assert document.notices == (
        Notice(
            "NOT INTERPRETED",
            f"3 results not interpreted — {AGE_REASON}: IL-6 5000 pg/mL, IL-8 120 pg/mL, "
            "IL-4 0.8 pg/mL. No flag is given to these values.",
        ),
    )
    assert document.family_summary == (
        SummaryLine(
            label="Interleukins",
            measured=2,
            elevated="not assessed: no result judged",
            not_judged="2 not interpreted: IL-6, IL-4",
        ),
        SummaryLine(
            label="Chemokines",
            measured=1,
            elevated="not assessed: no result judged",
            not_judged="1 not interpreted: IL-8",
        ),
    )
    assert not any(line.elevated == "none" for line in document.role_summary)


def test_child_banner_and_rows_golden_text(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    report = _post(technician_client, panel_payload, [_result("IL-6", "5000")], birth_date=CHILD)

    lines = _pdf_lines(report)

    assert _between(lines, "⚠", "Results") == [
        "⚠ NOT INTERPRETED: 1 result not interpreted — no reference interval for age 10",
        "years; no age partition covers it (intervals exist for ages ≥18 years): IL-6 5000",
        "pg/mL. No flag is given to this value.",
        "Results",
    ]
    assert _between(lines, "IL-6", "Note:") == [
        "IL-6",
        "5000",
        "pg/mL",
        "None applies",
        "Not interpreted",
        f"Note: {AGE_REASON}",
    ]
    assert _between(lines, "Family", "Interleukins")[-1:] + lines[
        lines.index("Interleukins") + 1 : lines.index("Interleukins") + 4
    ] == ["Interleukins", "1", "not assessed: no result judged", "1 not interpreted: IL-6"]


def test_a_reason_shared_by_several_results_is_stated_once_above_the_table(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: a child's IL-6 and IFN-γ, neither with an interval for age 10
    report = _post(
        technician_client,
        panel_payload,
        [_result("IL-6", "5000"), _result("IFN-γ", "220")],
        birth_date=CHILD,
    )

    lines = _pdf_lines(report)

    # then: the banner names both with the reason; the rows point to it instead of repeating it
    assert _between(lines, "⚠", "Results")[:3] == [
        "⚠ NOT INTERPRETED: 2 results not interpreted — no reference interval for age 10",
        "years; no age partition covers it (intervals exist for ages ≥18 years): IL-6 5000",
        "pg/mL, IFN-γ 220 pg/mL. No flag is given to these values.",
    ]
    assert _between(lines, "IL-6", "Not interpreted") == [
        "IL-6",
        "5000",
        "pg/mL",
        "None (see above)",
        "Not interpreted",
    ]
    assert not any(AGE_REASON[:40] in line for line in lines[lines.index("Results") :])


def test_a_summary_with_unjudged_results_never_says_none_elevated(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: IL-2 judged normal, IL-1Ra has no interval in the default set, IL-10 "<20" against
    # "≤5.3" cannot be placed
    report = _post(
        technician_client,
        panel_payload,
        [_result("IL-2", "1.4"), _result("IL1RA", "300"), _result("IL-10", "<20")],
    )

    document = _document(report)

    assert document.family_summary == (
        SummaryLine(
            label="Interleukins",
            measured=3,
            elevated="none among 1 judged",
            not_judged="1 not interpreted: IL-1Ra; 1 indeterminate: IL-10",
        ),
    )
    assert [notice.heading for notice in document.notices] == [
        "NOT INTERPRETED",
        "INDETERMINATE",
    ]
    assert document.notices[1].text == (
        "1 result cannot be placed within or outside the reference interval (see the note "
        "under it): IL-10 <20 pg/mL."
    )


def test_an_adult_with_every_result_judged_normal_gets_no_banner_and_none_elevated(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    report = _post(
        technician_client, panel_payload, [_result("IL-2", "1.4"), _result("IL-6", "2.0")]
    )

    document = _document(report)

    assert (document.banner, document.notices) == ("", ())
    assert [line.elevated for line in document.family_summary] == ["none"]
    assert [line.note for line in document.results] == ["", ""]  # "x within ≤y" is the row


# --- Item 3: a converted unit -------------------------------------------------------------------


def test_a_converted_value_prints_reported_converted_and_the_conversion(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    report = _post(technician_client, panel_payload, [_result("IL-6", "0.005", "ng/mL")])

    [line] = _document(report).results

    assert (line.value_text, line.unit, line.converted_text) == ("0.005", "ng/mL", "= 5 pg/mL")
    assert line.conversion == (
        "Converted for interpretation: 0.005 ng/mL = 5 pg/mL (1 ng/mL = 1000 pg/mL); "
        "the flag was judged on 5 pg/mL."
    )
    assert line.note == "5 > 2.5 (upper limit, inclusive)"
    assert line.bar == RangeBar(value=Decimal("5"), censoring="", low=None, high=Decimal("2.5"))
    assert _document(report).banner == (
        "1 result outside the reference interval: IL-6 0.005 ng/mL (= 5 pg/mL) (H)"
    )


def test_a_censored_converted_value_keeps_its_comparator_on_both_sides(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    report = _post(technician_client, panel_payload, [_result("IL-6", "<0.0015", "ng/mL")])

    [line] = _document(report).results

    assert (line.value_text, line.converted_text) == ("<0.0015", "= <1.5 pg/mL")
    assert line.bar == RangeBar(value=Decimal("1.5"), censoring="<", low=None, high=Decimal("2.5"))


def test_converted_unit_golden_text_and_the_corrected_footnote(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    report = _post(technician_client, panel_payload, [_result("IL-6", "0.005", "ng/mL")])

    lines = _pdf_lines(report)

    assert _between(lines, "IL-6", "Note:") == [
        "IL-6",
        "0.005",
        "= 5 pg/mL",
        "ng/mL",
        "≤2.5 pg/mL [a]",
        "H High",
        "Converted for interpretation: 0.005 ng/mL = 5 pg/mL (1 ng/mL = 1000 pg/mL); the flag was "
        "judged on 5 pg/mL.",
        "Note: 5 > 2.5 (upper limit, inclusive)",
    ]
    text = " ".join(lines)
    assert "Units are never converted" not in text
    assert "converted only where physics defines the conversion" in text


# --- Item 6: the engine's explanations, and who published the interval --------------------------


def test_extrapolation_dilution_and_indeterminate_reasons_reach_the_rows(
    technician_client: APIClient, panel_payload: dict[str, Any], il6_measuring_range: None
) -> None:
    report = _post(
        technician_client, panel_payload, [*EXTRAPOLATED_DILUTED, _result("IL-10", "<20")]
    )

    document = _document(report)

    assert [line.note for line in document.results] == [
        "7000 > 2.5 (upper limit, inclusive); outside the assay's measuring range "
        "(LLOQ 1.5 / ULOQ 5000 pg/mL): extrapolated",
        "6000 > 14.5 (upper limit, inclusive); dilution factor 10 (already applied by the lab "
        "to the reported value)",
        "<20: below the measuring limit 20 pg/mL, which is above the interval's upper limit 5.3: "
        "cannot be placed (could be within ≤5.3 pg/mL or high)",
    ]
    assert [line.source_mark for line in document.results] == ["a", "a", "a"]
    assert document.footnotes[0] == (
        "[a] Reference interval published by ARUP Laboratories (test 3002601, Cytokine Panel 13, "
        "Plasma), adopted by this laboratory. Citation: ARUP Laboratories test directory, "
        "Cytokine Panel 13, Plasma (3002601), current reference intervals."
    )
    assert not any("Interval:" in line.note for line in document.results)


def test_extrapolated_diluted_and_unverified_role_golden_text(
    technician_client: APIClient, panel_payload: dict[str, Any], il6_measuring_range: None
) -> None:
    report = _post(
        technician_client,
        panel_payload,
        [*EXTRAPOLATED_DILUTED, _result("IL-4", "1.0"), _result("IL-13", ">5000")],
    )

    lines = _pdf_lines(report)

    assert _between(lines, "IL-6", "Note: >5000") == [
        "IL-6",
        "7000",
        "pg/mL",
        "≤2.5 pg/mL [a]",
        "log",  # the range bar's scale: 7000 against ≤2.5 spans decades
        "H High",
        "Note: 7000 > 2.5 (upper limit, inclusive); outside the assay's measuring range "
        "(LLOQ 1.5 / ULOQ 5000 pg/mL): extrapolated",
        "TNF-α",
        "6000",
        "pg/mL",
        "≤14.5 pg/mL [a]",
        "log",
        "H High",
        "Note: 6000 > 14.5 (upper limit, inclusive); dilution factor 10 (already applied by "
        "the lab to the reported value)",
        "IL-4 †",
        "1.0",
        "pg/mL",
        "≤2.5 pg/mL [a]",
        "Normal",
        "IL-13 †",
        ">5000",
        "pg/mL",
        "≤5.3 pg/mL [a]",
        "log",
        "> Above measuring range",
        "Note: >5000: above the measuring range and above the interval's upper limit (≤5.3 pg/mL)",
    ]
    assert _between(lines, "Anti-inflammatory", "IL-13†") == [
        "Anti-inflammatory (includes",
        "IL-4†, IL-13†: role unverified)",
        "2",
        "IL-13†",
    ]
    assert _between(lines, "1. [a]", "results themselves") == [
        "1. [a] Reference interval published by ARUP Laboratories (test 3002601, Cytokine "
        "Panel 13, Plasma), adopted by this laboratory. Citation:",
        "ARUP Laboratories test directory, Cytokine Panel 13, Plasma (3002601), current reference "
        "intervals.",
        "2. † Inflammatory role classification unverified: IL-4 (listed as anti-inflammatory), "
        "IL-13 (listed as anti-inflammatory). The catalogue's",
        "grouping of these analytes is context-dependent and not confirmed by a cited source; read "
        "the summary by role with this in mind. The",
        "results themselves are not affected.",
    ]


# --- Unverified role classifications ------------------------------------------------------------


def test_unverified_role_classifications_are_marked_in_rows_summary_and_notes(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: IL-4, IL-5 and IL-13 are stored with role_verified false; IL-2 and IL-6 are not
    report = _post(
        technician_client,
        panel_payload,
        [
            _result("IL-2", "1.4"),
            _result("IL-4", "1.0"),
            _result("IL-5", "3.0"),
            _result("IL-13", "1.1"),
            _result("IL-6", "2.0"),
        ],
    )

    document = _document(report)

    assert [(line.analyte_name, line.analyte_mark) for line in document.results] == [
        ("IL-2", ""),
        ("IL-4", "†"),
        ("IL-5", "†"),
        ("IL-13", "†"),
        ("IL-6", ""),
    ]
    assert [(line.label, line.elevated) for line in document.role_summary] == [
        ("Pro-inflammatory (includes IL-5†: role unverified)", "IL-5†"),
        ("Anti-inflammatory (includes IL-4†, IL-13†: role unverified)", "none"),
        ("Pro- and anti-inflammatory", "none"),
    ]
    assert document.footnotes[1] == (
        "† Inflammatory role classification unverified: IL-4 (listed as anti-inflammatory), "
        "IL-5 (listed as pro-inflammatory), IL-13 (listed as anti-inflammatory). The catalogue's "
        "grouping of these analytes is context-dependent and not confirmed by a cited source; "
        "read the summary by role with this in mind. The results themselves are not affected."
    )
