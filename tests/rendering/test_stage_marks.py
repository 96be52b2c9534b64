"""The report's stage on the page: a PRELIMINARY report says so at the top and the foot of
every page; a FINAL one carries no such mark; an amended report names its mark and the report
it replaces. Pure: no database."""

from __future__ import annotations

from dataclasses import replace

from reports.rendering import render_pdf
from reports.rendering.document import Amendment, CorrectionLine
from tests.rendering.test_render_pdf import _document, _lines, _long_document, _page_texts

MARK = "PRELIMINARY — not verified/released"


def test_a_preliminary_report_is_marked_at_the_top_and_foot_of_every_page() -> None:
    document = replace(_long_document(), status_label="Preliminary report", preliminary_mark=MARK)

    pages = _page_texts(render_pdf(document))

    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        lines = _lines(text)
        assert lines.count(MARK) == 2, (number, lines)  # at the top and at the foot
        assert f"Page {number} of {len(pages)}" in text


def test_a_final_report_carries_no_preliminary_mark() -> None:
    pages = _page_texts(render_pdf(replace(_long_document(), status_label="Final report")))

    assert all("PRELIMINARY" not in text for text in pages)
    assert "Final report" in pages[0]


def test_a_corrected_report_names_its_mark_and_the_report_it_replaces() -> None:
    amendment = Amendment(
        mark="CORRECTED REPORT",
        replaces="report 12, issued 2026-11-20 09:14 UTC",
        reason="Transcription error",
        corrections=(CorrectionLine("IL-6", "148.2 pg/mL (High)", "14.82 pg/mL (High)"),),
    )
    document = _document(status_label="Corrected report", amendment=amendment)

    text = "\n".join(_page_texts(render_pdf(document)))

    assert "CORRECTED REPORT — replaces report 12, issued 2026-11-20 09:14 UTC" in text
    assert "Corrected report" in text
    assert "PRELIMINARY" not in text
