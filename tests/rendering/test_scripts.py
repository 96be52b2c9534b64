"""Patient names in every script a lab sees render in the PDF and extract back from it.

No database, no Django. Each test renders a real report and reads the text back with pypdf.

Right-to-left names are drawn in visual order (shaped by arabic-reshaper, ordered by
python-bidi); pypdf's extraction puts right-to-left runs back in logical order, so a name
drawn in the wrong order would come back reversed. Arabic is drawn as joined presentation
forms, which NFKC maps back to the letters: the tests compare NFKC-normalised text.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pypdf
import pytest
from pypdf.generic import DictionaryObject

from reports.rendering import RenderError, render_pdf
from reports.rendering.scripts import describe, prepare, runs, undrawable_characters
from tests.rendering.test_render_pdf import PANEL, _document

NAMES = [
    pytest.param("Zoe\u0308 Nguyễn", id="latin-combining-accents"),
    pytest.param("Παπαδοπούλου, Ελένη", id="greek"),
    pytest.param("Иванова, Анна", id="cyrillic"),
    pytest.param("王秀英", id="chinese"),
    pytest.param("山田 はなこ", id="japanese"),
    pytest.param("김민준", id="korean"),
    pytest.param("فاطمة", id="arabic"),
    pytest.param("כהן", id="hebrew"),
]


def _pages(pdf: bytes) -> list[pypdf.PageObject]:
    return list(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _lines(page: pypdf.PageObject) -> list[str]:
    return [_nfkc(line.strip()) for line in page.extract_text().splitlines() if line.strip()]


def _fonts(pdf: bytes) -> set[str]:
    names: set[str] = set()
    for page in _pages(pdf):
        resources = page["/Resources"]
        assert isinstance(resources, DictionaryObject)
        fonts = resources["/Font"]
        assert isinstance(fonts, DictionaryObject)
        names |= {str(font.get_object()["/BaseFont"]) for font in fonts.values()}
    return names


@pytest.mark.parametrize("name", NAMES)
def test_name_extracts_back_from_identification_block_and_footer(name: str) -> None:
    pdf = render_pdf(_document(patient_name=name))

    lines = _lines(_pages(pdf)[0])
    expected = _nfkc(name)
    assert expected in lines  # the identification block's cell, exactly
    footer = [line for line in lines if line.startswith("Patient:")]
    assert len(footer) == 1
    assert expected in footer[0]
    assert footer[0].endswith("MRN MRN00012345 · DOB 1980-04-02")


@pytest.mark.parametrize("name", NAMES)
def test_name_extracts_back_from_the_running_header_of_later_pages(name: str) -> None:
    results = tuple(PANEL[i % len(PANEL)] for i in range(60))
    pdf = render_pdf(_document(patient_name=name, results=results))

    pages = _pages(pdf)
    assert len(pages) > 1
    lines = _lines(pages[1])
    assert "Cytokine panel report (continued)" in lines
    patient = [line for line in lines if line.startswith("Patient:")]
    assert len(patient) == 2  # the running header and the footer
    assert all(_nfkc(name) in line for line in patient)


def test_decomposed_accents_are_drawn_as_the_composed_letters() -> None:
    assert prepare("Zoe\u0308") == "Zo\u00eb"


@pytest.mark.parametrize(
    ("name", "font"),
    [
        ("王秀英", "/STSong-Light"),
        ("山田 はなこ", "/HeiseiKakuGo-W5"),  # Han next to kana: Japanese
        ("山田", "/STSong-Light"),  # Han alone: Chinese
        ("김 民俊", "/HYGothic-Medium"),  # Han next to Hangul: Korean
    ],
)
def test_cjk_is_drawn_with_the_cid_font_of_its_language(name: str, font: str) -> None:
    fonts = _fonts(render_pdf(_document(patient_name=name)))

    cid = {"/STSong-Light", "/HeiseiKakuGo-W5", "/HYGothic-Medium"}
    assert fonts & cid == {font}


def test_latin_only_report_uses_no_cid_font() -> None:
    fonts = _fonts(render_pdf(_document()))

    assert all("DejaVuSans" in font for font in fonts)


def test_only_the_characters_dejavu_lacks_go_to_the_cid_font() -> None:
    assert runs("Doe, 王秀英") == [("", "Doe, "), ("STSong-Light", "王秀英")]
    assert runs("山田 はなこ") == [("HeiseiKakuGo-W5", "山田 はなこ")]


def test_arabic_is_drawn_joined_and_in_visual_order() -> None:
    drawn = prepare("فاطمة")

    # feh initial, alef final, tah initial, meem medial, teh marbuta final; right to left
    assert drawn == "\ufe94\ufee4\ufec3\ufe8e\ufed3"
    raw = _pages(render_pdf(_document(patient_name="فاطمة")))[0].extract_text()
    assert "\ufed3\ufe8e\ufec3\ufee4\ufe94" in raw  # joined forms are in the PDF
    assert "فاطمة" not in raw  # ... not the unjoined letters


def test_mixed_cjk_and_rtl_report_is_deterministic_in_a_fresh_process() -> None:
    script = (
        "import sys\n"
        "from reports.rendering import render_pdf\n"
        "from tests.rendering.test_render_pdf import _document\n"
        "sys.stdout.buffer.write(render_pdf(_document(patient_name='山田 はなこ / فاطمة')))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONHASHSEED": "54321"},
        capture_output=True,
        check=True,
        timeout=120,
    )

    first = render_pdf(_document(patient_name="山田 はなこ / فاطمة"))
    assert render_pdf(_document(patient_name="山田 はなこ / فاطمة")) == first
    assert completed.stdout == first


@pytest.mark.parametrize(
    ("text", "undrawable"),
    [
        ("தமிழ்", ("த", "ம", "ி", "ழ", "்")),  # Tamil: no report font has it
        ("Doe 🦠", ("🦠",)),
        ("Doe\u0000", ("\u0000",)),
        ("Doe\tJane", ("\t",)),
        ("\U00020000", ("\U00020000",)),  # CJK extension B: outside the UCS-2 encodings
        ("Zoe\u0308 Nguyễn 王秀英 山田 はなこ 김민준 فاطمة כהן Ελένη Анна", ()),
    ],
)
def test_undrawable_characters(text: str, undrawable: tuple[str, ...]) -> None:
    assert undrawable_characters(text) == undrawable


def test_line_breaks_are_allowed_only_where_asked() -> None:
    assert undrawable_characters("line one\nline two", line_breaks=True) == ()
    assert undrawable_characters("line one\nline two") == ("\n",)


def test_describe_names_code_points() -> None:
    assert describe(("த", "\t")) == "U+0BA4 TAMIL LETTER TA, U+0009 (control character)"
    assert describe("தமிழ்", limit=2) == "U+0BA4 TAMIL LETTER TA, U+0BAE TAMIL LETTER MA and 3 more"


def test_render_still_refuses_an_undrawable_name_as_a_last_defence() -> None:
    with pytest.raises(RenderError, match=r"^Field patient_name contains character U\+1F9A0,"):
        render_pdf(_document(patient_name="Doe 🦠"))
