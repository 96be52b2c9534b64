"""Fonts, colours, page geometry and paragraph styles for the PDF report.

Fonts are package data (``fonts/``, DejaVu, see ``fonts/LICENSE-DejaVu.txt``) and are embedded
(subset) in every PDF, so Greek letters and ``≤ ≥ –`` render the same on every machine. The
built-in Helvetica is never used for content. Chinese, Japanese and Korean characters, which
DejaVu lacks, are drawn with reportlab's built-in CID fonts, registered here too (see
``scripts.py`` for which font draws what).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

from reports.rendering.errors import RenderError

# --- Fonts -----------------------------------------------------------------------------------

FONT_DIR = Path(__file__).parent / "fonts"

# Registered under our own names so nothing else in the process that registers "DejaVuSans"
# can swap the files under us.
FONT_REGULAR = "LabpanelSans"
FONT_BOLD = "LabpanelSans-Bold"
FONT_FAMILY = "LabpanelSans"
_FONT_FILES: dict[str, str] = {
    FONT_REGULAR: "DejaVuSans.ttf",
    FONT_BOLD: "DejaVuSans-Bold.ttf",
}
# reportlab's built-in CID faces for CJK (no bold: the same face in both weights)
CID_FACES: tuple[str, ...] = ("STSong-Light", "HeiseiKakuGo-W5", "HYGothic-Medium")

_font_lock = threading.Lock()
_registered_from: Path | None = None
_codepoints: frozenset[int] = frozenset()


def register_fonts(font_dir: Path | None = None) -> None:
    """Register the report fonts with reportlab, once per process (idempotent, thread-safe).

    ``font_dir`` defaults to ``FONT_DIR`` read at call time. Raises ``RenderError`` if a font
    file is missing or unreadable; nothing is registered in that case.
    """
    global _registered_from, _codepoints
    directory = FONT_DIR if font_dir is None else font_dir
    with _font_lock:
        if _registered_from == directory:
            return
        loaded: dict[str, Any] = {}
        for name, filename in _FONT_FILES.items():
            path = directory / filename
            try:
                # explicit, not rl_config: the subset layout feeds the byte-identical output
                loaded[name] = TTFont(name, str(path), asciiReadable=True, shapable=False)
            except Exception as exc:  # reportlab raises OSError, TTFError or others
                raise RenderError(f"Report font {filename} is missing or unreadable.") from exc
        for font in loaded.values():
            pdfmetrics.registerFont(font)
        for face in CID_FACES:
            pdfmetrics.registerFont(UnicodeCIDFont(face))
            # inside <b> a paragraph asks the family for its bold face: the same face
            pdfmetrics.registerFontFamily(
                face, normal=face, bold=face, italic=face, boldItalic=face
            )
        pdfmetrics.registerFontFamily(
            FONT_FAMILY,
            normal=FONT_REGULAR,
            bold=FONT_BOLD,
            italic=FONT_REGULAR,
            boldItalic=FONT_BOLD,
        )
        # Text may be drawn in either weight, so it must be drawable in both.
        maps = [frozenset(font.face.charToGlyph) for font in loaded.values()]
        _codepoints = frozenset.intersection(*maps)
        _registered_from = directory


def drawable_codepoints() -> frozenset[int]:
    """Code points both report fonts can draw (empty before ``register_fonts``)."""
    return _codepoints


# --- Page geometry (US Letter: a US CLIA laboratory) ----------------------------------------

PAGE_SIZE: tuple[float, float] = LETTER
MARGIN_LEFT = 0.6 * inch
MARGIN_RIGHT = 0.6 * inch
MARGIN_TOP = 0.75 * inch  # room for the running header on continuation pages
MARGIN_BOTTOM = 0.85 * inch  # room for the two-line patient/page footer
CONTENT_WIDTH: float = PAGE_SIZE[0] - MARGIN_LEFT - MARGIN_RIGHT

# Results table: Analyte | Result | Units | Reference interval | Range bar | Flag
RESULT_COL_WIDTHS: tuple[float, ...] = (
    CONTENT_WIDTH * 0.20,
    CONTENT_WIDTH * 0.12,
    CONTENT_WIDTH * 0.09,
    CONTENT_WIDTH * 0.19,
    CONTENT_WIDTH * 0.14,
    CONTENT_WIDTH * 0.26,
)
# Patient / specimen block: label | value | label | value
ID_COL_WIDTHS: tuple[float, ...] = (
    CONTENT_WIDTH * 0.15,
    CONTENT_WIDTH * 0.33,
    CONTENT_WIDTH * 0.17,  # room for "Specimen condition" on one line
    CONTENT_WIDTH * 0.35,
)

# --- Colours (decoration only: every meaning is also carried by text and weight) ------------

TEXT = colors.black
MUTED = colors.HexColor("#4A4A4A")
RULE = colors.HexColor("#9A9A9A")
GRID = colors.HexColor("#C8C8C8")
HEADER_FILL = colors.HexColor("#E4E4E4")
ABNORMAL_FILL = colors.HexColor("#FBE3E0")
BANNER_BORDER = colors.HexColor("#A3180F")
BANNER_FILL = colors.HexColor("#FDF0EE")
BAR_FILL = colors.HexColor("#C4C4C4")  # the reference interval's band in the range bar

# --- Paragraph styles -------------------------------------------------------------------------


def _style(name: str, **kwargs: Any) -> ParagraphStyle:
    base: dict[str, Any] = {
        "fontName": FONT_REGULAR,
        "bulletFontName": FONT_REGULAR,
        "fontSize": 9,
        "leading": 11,
        "textColor": TEXT,
        "alignment": TA_LEFT,
        "splitLongWords": 1,
    }
    base.update(kwargs)
    return ParagraphStyle(name, **base)


LAB_NAME = _style("LabName", fontName=FONT_BOLD, fontSize=13, leading=16)
LAB_ADDRESS = _style("LabAddress", fontSize=8.5, leading=10.5, textColor=MUTED)
TITLE = _style("Title", fontName=FONT_BOLD, fontSize=14, leading=17, alignment=TA_RIGHT)
STATUS = _style("Status", fontName=FONT_BOLD, fontSize=10.5, leading=13, alignment=TA_RIGHT)
ID_LABEL = _style("IdLabel", fontSize=7.5, leading=10, textColor=MUTED)
ID_VALUE = _style("IdValue", fontSize=9, leading=11)
ID_VALUE_BOLD = _style("IdValueBold", fontName=FONT_BOLD, fontSize=9, leading=11)
BANNER = _style("Banner", fontName=FONT_BOLD, fontSize=10.5, leading=13.5)
SECTION = _style("Section", fontName=FONT_BOLD, fontSize=10.5, leading=13, spaceAfter=3)
CELL_HEAD = _style("CellHead", fontName=FONT_BOLD, fontSize=8.5, leading=10.5)
CELL_HEAD_RIGHT = _style(
    "CellHeadRight", fontName=FONT_BOLD, fontSize=8.5, leading=10.5, alignment=TA_RIGHT
)
CELL = _style("Cell", fontSize=8.5, leading=10.5)
CELL_BOLD = _style("CellBold", fontName=FONT_BOLD, fontSize=8.5, leading=10.5)
CELL_RIGHT = _style("CellRight", fontSize=8.5, leading=10.5, alignment=TA_RIGHT)
CELL_RIGHT_BOLD = _style(
    "CellRightBold", fontName=FONT_BOLD, fontSize=8.5, leading=10.5, alignment=TA_RIGHT
)
CONVERTED = _style("Converted", fontSize=7.5, leading=9, alignment=TA_RIGHT)
NOTE = _style("Note", fontSize=7.5, leading=9.5, textColor=MUTED, leftIndent=10)
CHART_NOTE = _style("ChartNote", fontSize=6.5, leading=8, textColor=MUTED)
BODY = _style("Body", fontSize=8.5, leading=11)
FOOTNOTE = _style("Footnote", fontSize=7.5, leading=9.5, leftIndent=12, firstLineIndent=-12)
END_MARK = _style("EndMark", fontSize=7.5, leading=10, textColor=MUTED, alignment=TA_CENTER)

# Canvas-drawn running header and footer.
FOOTER_FONT_SIZE = 7.5
FOOTER_MIN_FONT_SIZE = 6.0
