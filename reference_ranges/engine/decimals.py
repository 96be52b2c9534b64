"""How Labpanel writes a Decimal: plain notation, never rounded, padding zeros dropped on demand.

Pure Python, shared by the engine, the adapters, the exchange format and the panels app: one
definition of each form, so a number reads the same in a reason, a finding, an export and a
report. None of these functions rounds: a value is shown with every digit it carries.
"""

from __future__ import annotations

from decimal import Decimal

from reference_ranges.engine.types import Comparator

__all__ = ["COMPARATOR_SYMBOLS", "plain", "trimmed", "trimmed_text"]

COMPARATOR_SYMBOLS: dict[Comparator, str] = {
    Comparator.EQ: "",
    Comparator.LT: "<",
    Comparator.LE: "≤",
    Comparator.GT: ">",
    Comparator.GE: "≥",
}
"""The sign a reader sees before a censored value ("<1.5", "≥5000"); nothing before an exact one."""


def plain(value: Decimal) -> str:
    """``value`` as written ("7.40" stays "7.40"), in plain notation, never exponent notation.

    ``str()`` is kept wherever it is already plain, because it is the cheaper call; it only
    differs from fixed-point formatting where it would write an exponent ("1E+3", "1E-7"),
    which a clinician must never read.
    """
    text = str(value)
    return format(value, "f") if "E" in text else text


def trimmed_text(value: Decimal) -> str:
    """``value`` as plain text without padding zeros ("2.500000" -> "2.5"), never rounded."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def trimmed(value: Decimal) -> Decimal:
    """A stored number without its column's padding zeros (2.500000 -> 2.5), never rounded."""
    return Decimal(trimmed_text(value))
