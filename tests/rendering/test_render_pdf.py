"""render_pdf: semantic PDF assertions (STYLE.md item 36). No database, no Django.

Run with: .venv/bin/python -m pytest -p no:django tests/rendering -q
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pypdf
import pytest
from pypdf.generic import DictionaryObject

from reports.rendering import RenderError, ReportDocument, ResultLine, render_pdf
from reports.rendering import styles as rendering_styles

PATIENT_NAME = "Doe, Jane"
PATIENT_MRN = "MRN00012345"
ACCESSION = "ACC-26-0099871"
REPORT_ID = "RPT-2026-000123"
BANNER = "4 results outside the reference interval"


def _line(
    name: str,
    value: str,
    reference: str,
    flag_code: str,
    flag_text: str,
    *,
    abnormal: bool = False,
    note: str = "",
) -> ResultLine:
    code = "".join(char for char in name.upper() if char.isascii() and char.isalnum())
    return ResultLine(
        analyte_name=name,
        analyte_code=code,
        value_text=value,
        unit="pg/mL",
        reference_text=reference,
        flag_code=flag_code,
        flag_text=flag_text,
        is_abnormal=abnormal,
        note=note,
    )


PANEL: tuple[ResultLine, ...] = (
    _line("IL-1β", "<2.0", "≤2.5 pg/mL", "<", "Below measuring range", note="Below the LLOQ."),
    _line("IL-2", "1.4", "≤2.1 pg/mL", "N", "Normal"),
    _line("IL-4", "0.8", "≤1.2 pg/mL", "N", "Normal"),
    _line("IL-5", "0.9", "≤2.0 pg/mL", "N", "Normal"),
    _line("IL-6", "48.2", "≤5.9 pg/mL", "HH", "Critical high", abnormal=True, note="Source: V1."),
    _line("IL-8", "12.4", "≤16.4 pg/mL", "N", "Normal"),
    _line("IL-10", "3.1", "≤2.8 pg/mL", "H", "High", abnormal=True),
    _line("IL-12p70", "0.5", "≤1.9 pg/mL", "N", "Normal"),
    _line("IL-13", "1.1", "≤2.3 pg/mL", "N", "Normal"),
    _line("IL-17A", "0.6", "", "", "No range", note="No applicable range under 18 years."),
    _line("IFN-γ", ">5000", "≤7.1 pg/mL", ">", "Above measuring range", abnormal=True),
    _line("TNF-α", "8.9", "≤8.1 pg/mL", "H", "High", abnormal=True),
    _line("GM-CSF", "0.3", "No applicable range", "", "No range"),
)


def _document(**overrides: Any) -> ReportDocument:
    values: dict[str, Any] = {
        "report_id": REPORT_ID,
        "status_label": "Final report",
        "lab_name": "Labpanel Reference Laboratory",
        "lab_address": "1200 Research Park Dr, Madison, WI 53711",
        "patient_name": PATIENT_NAME,
        "patient_mrn": PATIENT_MRN,
        "patient_birth_date": "1980-04-02",
        "patient_sex": "Female",
        "patient_age": "46 years",
        "accession": ACCESSION,
        "specimen_type": "Plasma",
        "collected_at": "2026-11-20 08:30 UTC",
        "received_at": "2026-11-20 11:02 UTC",
        "reported_at": "2026-11-21 16:45 UTC",
        "ordering_clinician": "Dr Gregory House (dr.house)",
        "ruleset_label": "Labpanel default cytokine intervals, version 2026.1",
        "results": PANEL,
        "banner": BANNER,
        "footnotes": (
            "IL-6 interval: Labpanel validation study 2025.",
            "GM-CSF interval unverified for plasma.",
        ),
    }
    values.update(overrides)
    return ReportDocument(**values)


def _long_document() -> ReportDocument:
    results = tuple(PANEL[i % len(PANEL)] for i in range(60))
    return _document(results=results)


def _reader(pdf: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(pdf))


def _page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in _reader(pdf).pages]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _all_lines(pdf: bytes) -> list[str]:
    return [line for text in _page_texts(pdf) for line in _lines(text)]


# --- Basic shape ------------------------------------------------------------------------------


def test_output_is_a_pdf() -> None:
    pdf = render_pdf(_document())

    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")


def test_thirteen_analyte_panel_fits_on_one_page() -> None:
    pdf = render_pdf(_document())

    assert len(_reader(pdf).pages) == 1
    assert f"Report {REPORT_ID} · Accession {ACCESSION} · Page 1 of 1" in _lines(
        _page_texts(pdf)[0]
    )


def test_page_is_us_letter() -> None:
    page = _reader(render_pdf(_document())).pages[0]

    assert (float(page.mediabox.width), float(page.mediabox.height)) == (612.0, 792.0)


# --- Content ----------------------------------------------------------------------------------


def test_identification_block_shows_patient_and_specimen() -> None:
    lines = _all_lines(render_pdf(_document()))

    for expected in (
        "Labpanel Reference Laboratory",
        "1200 Research Park Dr, Madison, WI 53711",
        "Cytokine panel report",
        "Final report",
        PATIENT_NAME,
        PATIENT_MRN,
        "1980-04-02",
        "Female",
        "46 years",
        ACCESSION,
        "Plasma",
        "2026-11-20 08:30 UTC",
        "2026-11-20 11:02 UTC",
        "2026-11-21 16:45 UTC",
        "Dr Gregory House (dr.house)",
    ):
        assert expected in lines


def test_every_analyte_name_extracts_exactly_including_greek_letters() -> None:
    lines = _all_lines(render_pdf(_document()))

    for line in PANEL:
        assert line.analyte_name in lines
    assert "IL-1β" in lines
    assert "IFN-γ" in lines
    assert "TNF-α" in lines


def test_values_with_comparators_extract_verbatim() -> None:
    lines = _all_lines(render_pdf(_document()))

    assert "<2.0" in lines
    assert ">5000" in lines
    assert "48.2" in lines
    assert "≤5.9 pg/mL" in lines


def test_flags_are_written_out_as_code_and_words() -> None:
    lines = _all_lines(render_pdf(_document()))

    assert "HH Critical high" in lines
    assert "H High" in lines
    assert "< Below measuring range" in lines
    assert "> Above measuring range" in lines
    assert "Normal" in lines
    assert "N Normal" not in lines


def test_rows_without_a_range_show_a_dash_or_the_given_text() -> None:
    lines = _all_lines(render_pdf(_document()))

    assert "—" in lines  # IL-17A: empty reference_text
    assert "No applicable range" in lines  # GM-CSF: reference_text given
    assert lines.count("No range") == 2


def test_notes_ruleset_and_footnotes_are_printed() -> None:
    text = "\n".join(_page_texts(render_pdf(_document())))

    assert "Note: Source: V1." in text
    assert "Note: No applicable range under 18 years." in text
    assert (
        "Reference intervals and flags: Labpanel default cytokine intervals, version 2026.1" in text
    )
    assert "1. IL-6 interval: Labpanel validation study 2025." in text
    assert "2. GM-CSF interval unverified for plasma." in text
    assert "— End of report —" in text


def test_banner_is_printed_with_a_text_marker_when_present() -> None:
    lines = _all_lines(render_pdf(_document()))

    assert f"⚠ ABNORMAL RESULTS: {BANNER}" in lines


def test_banner_is_absent_when_empty() -> None:
    text = "\n".join(_page_texts(render_pdf(_document(banner=""))))

    assert "ABNORMAL RESULTS" not in text
    assert "⚠" not in text
    assert "outside the reference interval" not in text


def test_markup_characters_in_data_are_printed_literally() -> None:
    odd = _line("IL-6 <b>&amp;</b>", "<1 & >0", "<i>none</i>", "", "No range")
    document = _document(results=(odd,), banner="a < b & c", footnotes=("x<y>z & <br/>",))

    lines = _all_lines(render_pdf(document))

    assert "IL-6 <b>&amp;</b>" in lines
    assert "<1 & >0" in lines
    assert "<i>none</i>" in lines
    assert "⚠ ABNORMAL RESULTS: a < b & c" in lines
    assert "1. x<y>z & <br/>" in lines


def test_results_table_golden_text() -> None:
    document = _document(results=PANEL[:2] + PANEL[4:5], banner="1 result outside")

    lines = _all_lines(render_pdf(document))
    ruleset = "Reference intervals and flags: Labpanel default cytokine intervals, version 2026.1"
    table = lines[lines.index("Results") : lines.index(ruleset) + 1]

    assert table == [
        "Results",
        "Analyte",
        "Result",
        "Units",
        "Reference interval",
        "Range bar",
        "Flag",
        "IL-1β",
        "<2.0",
        "pg/mL",
        "≤2.5 pg/mL",
        "< Below measuring range",
        "Note: Below the LLOQ.",
        "IL-2",
        "1.4",
        "pg/mL",
        "≤2.1 pg/mL",
        "Normal",
        "IL-6",
        "48.2",
        "pg/mL",
        "≤5.9 pg/mL",
        "HH Critical high",
        "Note: Source: V1.",
        ruleset,
    ]


def test_empty_results_and_footnotes_still_render() -> None:
    pdf = render_pdf(_document(results=(), footnotes=(), banner=""))

    text = _page_texts(pdf)[0]
    assert len(_reader(pdf).pages) == 1
    assert "No results are reported in this report." in text
    assert "Notes" not in _lines(text)


# --- Pagination -------------------------------------------------------------------------------


def test_long_report_splits_and_every_page_identifies_the_patient() -> None:
    pdf = render_pdf(_long_document())

    texts = _page_texts(pdf)
    total = len(texts)
    assert total >= 2
    for number, text in enumerate(texts, start=1):
        lines = _lines(text)
        assert f"Patient: {PATIENT_NAME} · MRN {PATIENT_MRN} · DOB 1980-04-02" in lines
        assert f"Report {REPORT_ID} · Accession {ACCESSION} · Page {number} of {total}" in lines


def test_a_very_long_patient_name_never_pushes_the_mrn_off_any_page() -> None:
    name = "Wolfeschlegelsteinhausenbergerdorff, " + "Maria " * 40
    results = tuple(PANEL[i % len(PANEL)] for i in range(60))

    texts = _page_texts(render_pdf(_document(patient_name=name, results=results)))

    assert len(texts) >= 2
    for number, text in enumerate(texts, start=1):
        lines = _lines(text)
        assert any(line.endswith(f" · MRN {PATIENT_MRN}") for line in lines)
        assert f"Report {REPORT_ID} · Accession {ACCESSION} · Page {number} of {len(texts)}" in (
            "\n".join(lines)
        )


def test_long_report_repeats_the_table_header_and_loses_no_row() -> None:
    document = _long_document()
    pdf = render_pdf(document)

    texts = _page_texts(pdf)
    for text in texts:
        assert "Reference interval" in _lines(text)
    lines = [line for text in texts for line in _lines(text)]
    for name in ("IL-1β", "IL-6", "IFN-γ", "TNF-α", "GM-CSF"):
        expected = sum(1 for line in document.results if line.analyte_name == name)
        assert lines.count(name) == expected


# --- Fonts ------------------------------------------------------------------------------------


def _fonts(pdf: bytes) -> list[DictionaryObject]:
    found = []
    for page in _reader(pdf).pages:
        resources = page["/Resources"].get_object()
        assert isinstance(resources, DictionaryObject)
        font_dict = resources["/Font"].get_object()
        assert isinstance(font_dict, DictionaryObject)
        for font in font_dict.values():
            font_object = font.get_object()
            assert isinstance(font_object, DictionaryObject)
            found.append(font_object)
    return found


def test_only_embedded_dejavu_fonts_are_used() -> None:
    fonts = _fonts(render_pdf(_long_document()))

    assert fonts
    base_names = set()
    for font in fonts:
        assert str(font["/Subtype"]) == "/TrueType"
        descriptor = font["/FontDescriptor"].get_object()
        assert isinstance(descriptor, DictionaryObject)
        assert "/FontFile2" in descriptor
        base_names.add(str(font["/BaseFont"]).split("+", 1)[1])
    assert base_names == {"DejaVuSans", "DejaVuSans-Bold"}


def test_no_standard_14_font_is_referenced() -> None:
    pdf = render_pdf(_document())

    assert b"/Helvetica" not in pdf
    assert b"/Times" not in pdf
    assert b"/Courier" not in pdf


def test_missing_font_file_raises_render_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(rendering_styles, "FONT_DIR", tmp_path)

    with pytest.raises(
        RenderError, match=r"^Report font DejaVuSans\.ttf is missing or unreadable\.$"
    ):
        render_pdf(_document())


def test_corrupt_font_file_raises_render_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "DejaVuSans.ttf").write_bytes(b"not a font")
    (tmp_path / "DejaVuSans-Bold.ttf").write_bytes(b"not a font")
    monkeypatch.setattr(rendering_styles, "FONT_DIR", tmp_path)

    with pytest.raises(RenderError, match=r"^Report font DejaVuSans\.ttf is missing"):
        render_pdf(_document())


def test_rendering_recovers_after_a_font_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(rendering_styles, "FONT_DIR", tmp_path)
    with pytest.raises(RenderError):
        render_pdf(_document())
    monkeypatch.undo()

    assert render_pdf(_document()) == render_pdf(_document())


def test_character_the_font_cannot_draw_raises_render_error_without_patient_data() -> None:
    document = _document(patient_name="Doe, \u0ba4")  # TAMIL LETTER TA: no report font has it

    with pytest.raises(RenderError) as excinfo:
        render_pdf(document)

    assert str(excinfo.value) == (
        "Field patient_name contains character U+0BA4, which the report font cannot draw."
    )


def test_unlayoutable_content_raises_render_error() -> None:
    huge = dataclasses.replace(PANEL[0], note="word " * 3000)

    with pytest.raises(RenderError, match=r"^Report content does not fit on a page"):
        render_pdf(_document(results=(huge,)))


# --- Determinism ------------------------------------------------------------------------------


def test_identical_documents_give_identical_bytes() -> None:
    first = render_pdf(_long_document())
    second = render_pdf(_long_document())

    assert first == second


def test_bytes_do_not_depend_on_what_was_rendered_before() -> None:
    first = render_pdf(_document())
    render_pdf(_document(patient_name="Иванова, Анна", results=PANEL[::-1], banner=""))

    assert render_pdf(_document()) == first


def test_bytes_are_identical_in_a_fresh_process_with_another_hash_seed() -> None:
    script = (
        "import sys\n"
        "from reports.rendering import render_pdf\n"
        "from tests.rendering.test_render_pdf import _long_document\n"
        "sys.stdout.buffer.write(render_pdf(_long_document()))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    )

    assert completed.stdout == render_pdf(_long_document())


def test_different_documents_give_different_bytes() -> None:
    base = render_pdf(_document())

    assert render_pdf(_document(accession="ACC-26-0099872")) != base
    changed = (dataclasses.replace(PANEL[0], value_text="<2.1"), *PANEL[1:])
    assert render_pdf(_document(results=changed)) != base
    assert render_pdf(_document(banner="")) != base


def test_metadata_carries_no_patient_data_and_a_fixed_date() -> None:
    metadata = _reader(render_pdf(_document())).metadata

    assert metadata is not None
    assert metadata.title == f"Cytokine panel report {REPORT_ID}"
    assert PATIENT_NAME not in str(dict(metadata))
    assert PATIENT_MRN not in str(dict(metadata))
    assert str(metadata["/CreationDate"]) == "D:20000101000000+00'00'"
