"""Writing systems in report text: which font draws each character, and how right-to-left
text is shaped and ordered before it is drawn.

Pure Python + reportlab (and the two shaping libraries), no Django. Three rules:

* **DejaVu first.** Every character the embedded DejaVu Sans (both weights) draws is drawn
  with it: Latin with its accents, Greek, Cyrillic, Hebrew, Arabic and the symbols.
* **CJK from reportlab's built-in CID fonts.** A character DejaVu lacks is drawn with a CID
  font (not embedded; every PDF reader has them or a substitute for their character
  collection): Chinese Han with STSong-Light (UniGB-UCS2-H), Japanese kana and kanji with
  HeiseiKakuGo-W5 (UniJIS-UCS2-H), Korean Hangul and hanja with HYGothic-Medium
  (UniKS-UCS2-H). Han characters follow the rest of the text they stand in: with kana they are
  Japanese, with Hangul Korean, otherwise Chinese. A character the preferred font's encoding
  does not map falls back to the next font that maps it (a rare kanji drawn with the Chinese
  font) rather than being dropped. Which code points each encoding maps is Adobe's own CMap
  data (``fonts/cid_coverage.txt``).
* **Right-to-left text is shaped and ordered here**, because reportlab draws glyphs left to
  right as given: Arabic letters are joined into their contextual presentation forms by
  ``arabic-reshaper`` (lam-alef ligatures only; harakat are kept, never deleted) and every line
  is put in visual order by ``python-bidi`` (the Unicode bidirectional algorithm). The PDF
  therefore holds right-to-left text in *visual* order, Arabic as presentation forms: text
  extraction gives it back reversed, and NFKC maps the forms back to the letters.

A character none of the fonts can draw (Tamil, Devanagari, emoji, a control character) is
undrawable: ``undrawable_characters`` finds them for submission validators, so such a name is
refused when it arrives instead of failing its report later.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import arabic_reshaper
from bidi import get_display

from reports.rendering import styles
from reports.rendering.errors import RenderError

CHINESE, JAPANESE, KOREAN = styles.CID_FACES
# face -> its horizontal UCS-2 encoding (the one reportlab's UnicodeCIDFont uses)
CID_FONTS: dict[str, str] = {
    CHINESE: "UniGB-UCS2-H",
    JAPANESE: "UniJIS-UCS2-H",
    KOREAN: "UniKS-UCS2-H",
}

# Line breaks and tabs are layout, not glyphs: multi-line fields may hold them.
LAYOUT_WHITESPACE = frozenset("\n\r\t")
_NO_LAYOUT_WHITESPACE = {ord(char): None for char in LAYOUT_WHITESPACE}

_lock = threading.Lock()
_coverage: dict[str, frozenset[int]] | None = None


def _parse(ranges: str) -> frozenset[int]:
    points: set[int] = set()
    for token in ranges.split():
        low, _, high = token.partition("-")
        points.update(range(int(low, 16), int(high or low, 16) + 1))
    return frozenset(points)


def _coverage_by_encoding() -> dict[str, str]:
    """fonts/cid_coverage.txt: one encoding a line, ``NAME: ranges``; ``#`` lines are comments."""
    text = (Path(__file__).resolve().parent / "fonts" / "cid_coverage.txt").read_text("ascii")
    entries = (line.partition(":") for line in text.splitlines() if not line.startswith("#"))
    return {name.strip(): ranges.strip() for name, _, ranges in entries if name.strip()}


def cid_coverage(font: str) -> frozenset[int]:
    """Code points the CID font ``font`` draws (its encoding maps them to a glyph)."""
    global _coverage
    if _coverage is None:
        with _lock:
            if _coverage is None:
                coverage = _coverage_by_encoding()
                _coverage = {
                    face: _parse(coverage[encoding]) for face, encoding in CID_FONTS.items()
                }
    return _coverage[font]


def _is_kana(point: int) -> bool:
    return 0x3040 <= point <= 0x30FF or 0x31F0 <= point <= 0x31FF or 0xFF66 <= point <= 0xFF9F


def _is_hangul(point: int) -> bool:
    return (
        0x1100 <= point <= 0x11FF
        or 0x3130 <= point <= 0x318F
        or 0xA960 <= point <= 0xA97F
        or 0xAC00 <= point <= 0xD7FF
        or 0xFFA0 <= point <= 0xFFDC
    )


def _preference(text: str) -> tuple[str, ...]:
    """CID fonts in the order to try for ``text``'s CJK characters (its Han follow its kana
    or Hangul)."""
    points = [ord(char) for char in text]
    if any(_is_kana(point) for point in points):
        return (JAPANESE, CHINESE, KOREAN)
    if any(_is_hangul(point) for point in points):
        return (KOREAN, CHINESE, JAPANESE)
    return (CHINESE, JAPANESE, KOREAN)


def _dejavu() -> frozenset[int]:
    styles.register_fonts()
    return styles.drawable_codepoints()


_plain_from: frozenset[int] | None = None
_plain_chars: frozenset[str] = frozenset()


def _plain() -> frozenset[str]:
    """The characters DejaVu draws (both weights) that are not right-to-left: text made only
    of them needs no CID font, no shaping and no reordering. A quick path for the common case
    (Latin, Greek, Cyrillic, symbols), checked in one set operation; recomputed when the fonts
    are registered again from another folder."""
    global _plain_from, _plain_chars
    dejavu = _dejavu()
    if _plain_from is not dejavu:
        with _lock:
            if _plain_from is not dejavu:
                _plain_chars = frozenset(
                    chr(point)
                    for point in dejavu
                    if unicodedata.bidirectional(chr(point)) not in ("R", "AL")
                )
                _plain_from = dejavu
    return _plain_chars


def _font_for(char: str, preference: Iterable[str], dejavu: frozenset[int]) -> str | None:
    """``""`` for DejaVu (the style's own font), a CID font name, or ``None`` if undrawable."""
    point = ord(char)
    if point in dejavu:
        return ""
    for font in preference:
        if point in cid_coverage(font):
            return font
    return None


def _char_drawable(char: str, dejavu: frozenset[int]) -> bool:
    return _font_for(char, CID_FONTS, dejavu) is not None


# --- Shaping and ordering ---------------------------------------------------------------------

_reshaper = arabic_reshaper.ArabicReshaper(
    configuration={
        "delete_harakat": False,  # never drop a character of a name
        "shift_harakat_position": False,
        "support_ligatures": True,
        # only the obligatory lam-alef ligatures (in DejaVu); no word ligatures in names
        "ARABIC LIGATURE ALLAH": False,
    }
)


def _has_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)


def prepare(line: str) -> str:
    """One line of text as it is drawn, left to right.

    Canonical composition (NFC) where the fonts have the composed letters ("Zoe" + U+0308
    becomes "Zoë", one glyph, not a loose accent); Arabic joined into presentation forms;
    the line in visual order when it holds right-to-left characters. Left-to-right text
    without RTL characters is returned unchanged apart from NFC.
    """
    if line.isascii():
        return line
    composed = unicodedata.normalize("NFC", line)
    if _plain().issuperset(composed):
        return composed  # every character drawable, none right-to-left
    dejavu = _dejavu()
    if all(_char_drawable(char, dejavu) for char in composed):
        line = composed
    if not _has_rtl(line):
        return line
    if any(unicodedata.bidirectional(char) == "AL" for char in line):
        line = _reshaper.reshape(line)
    return str(get_display(line))


def runs(drawn: str) -> list[tuple[str, str]]:
    """Split prepared text into ``(font, text)`` runs; font ``""`` is the style's DejaVu.

    Raises ``RenderError`` for a character no font draws (``render_pdf`` checks every field
    with ``undrawable_characters`` first, so this is never reached from it).
    A space between two characters of the same CID font stays in that font's run.
    """
    if drawn.isascii() and drawn.isprintable():
        return [("", drawn)] if drawn else []
    dejavu = _dejavu()
    if dejavu.issuperset(map(ord, drawn)):
        return [("", drawn)]  # all DejaVu: one run
    preference = _preference(drawn)
    fonts: list[str] = []
    for char in drawn:
        font = _font_for(char, preference, dejavu)
        if font is None:
            raise RenderError(f"Character U+{ord(char):04X} cannot be drawn by any report font.")
        fonts.append(font)
    # spaces between runs of one CID font join that run (its space is in every CID encoding)
    for index, char in enumerate(drawn):
        if char == " " and index > 0:
            before = fonts[index - 1]
            after = next((fonts[j] for j in range(index + 1, len(drawn)) if drawn[j] != " "), "")
            if before and before == after:
                fonts[index] = before
    result: list[tuple[str, str]] = []
    for font, char in zip(fonts, drawn, strict=True):
        if result and result[-1][0] == font:
            result[-1] = (font, result[-1][1] + char)
        else:
            result.append((font, char))
    return result


def undrawable_characters(text: str, *, line_breaks: bool = False) -> tuple[str, ...]:
    """The characters of ``text`` the report cannot draw, each once, in order of appearance.

    Empty when every character can be drawn, after shaping too (an Arabic letter whose
    joined form the font lacks counts as undrawable). With ``line_breaks``, ``\\n \\r \\t``
    are allowed (multi-line fields); otherwise they are refused like any control character.
    """
    if text.isascii() and text.isprintable():
        return ()  # the common case, and DejaVu draws all printable ASCII
    plain = _plain()
    if plain.issuperset(text) or (
        line_breaks and plain.issuperset(text.translate(_NO_LAYOUT_WHITESPACE))
    ):
        return ()  # every character drawn by DejaVu as it is: nothing to shape or reorder
    dejavu = _dejavu()
    found: dict[str, None] = {}
    lines = text.splitlines() if line_breaks else [text]
    for line in lines:
        bad = [
            char
            for char in line
            if not (line_breaks and char in LAYOUT_WHITESPACE) and not _char_drawable(char, dejavu)
        ]
        if not bad:
            # shaping may produce a presentation form the font lacks: name the letter
            for char in prepare(line.replace("\t", " ")):
                if not _char_drawable(char, dejavu):
                    bad.extend(unicodedata.normalize("NFKC", char) or char)
        for char in bad:
            found.setdefault(char, None)
    return tuple(found)


def describe(chars: Iterable[str], *, limit: int = 5) -> str:
    """'U+0BA4 TAMIL LETTER TA, U+0009 (control character)': code points and Unicode names,
    the first ``limit`` of them, then how many more."""
    listed = list(chars)
    text = ", ".join(f"U+{ord(char):04X} {_char_name(char)}" for char in listed[:limit])
    if len(listed) > limit:
        text += f" and {len(listed) - limit} more"
    return text


def _char_name(char: str) -> str:
    name = unicodedata.name(char, "")
    if name:
        return name
    if unicodedata.category(char) == "Cc":
        return "(control character)"
    return "(unnamed character)"
