"""Parsing a result value written in the lab's notation ("12.4", "<1.5", ">5000", "≤0.8").

Pure Python. A value is never rounded, converted or guessed: anything that is not a plain
non-negative decimal with an optional comparator is refused with a message saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from reference_ranges.engine.types import Comparator

MAX_DECIMAL_PLACES = 6
MAX_INTEGER_DIGITS = 14

_COMPARATORS = {
    "<=": Comparator.LE,
    ">=": Comparator.GE,
    "≤": Comparator.LE,
    "≥": Comparator.GE,
    "<": Comparator.LT,
    ">": Comparator.GT,
}
_NUMBER = re.compile(r"^(?P<integer>\d+)(?:\.(?P<fraction>\d+))?$")


class NotationError(ValueError):
    """The text is not a value this service can store without changing it."""


@dataclass(frozen=True, slots=True)
class ReportedValue:
    comparator: Comparator
    value: Decimal
    scale: int  # decimal places as written: "12.40" -> 2
    text: str  # comparator and number as stored and shown: "<1.50" (leading zeros dropped)


def parse_reported_value(text: str) -> ReportedValue:
    """Parse ``text``; raise ``NotationError`` with a user-facing reason if it cannot be stored."""
    stripped = text.strip()
    if not stripped:
        raise NotationError("value is empty")
    comparator = Comparator.EQ
    for symbol, candidate in _COMPARATORS.items():
        if stripped.startswith(symbol):
            comparator = candidate
            stripped = stripped[len(symbol) :].strip()
            break
    if stripped.startswith("-"):
        raise NotationError(f"{text!r} is negative; a concentration cannot be below zero")
    if "," in stripped:
        raise NotationError(
            f"{text!r} contains a comma; write decimals with '.' and no thousands separator"
        )
    match = _NUMBER.match(stripped)
    if match is None:
        raise NotationError(
            f"{text!r} is not a number in the lab's notation (e.g. 12.4, <1.5, >5000)"
        )
    integer, fraction = match.group("integer"), match.group("fraction") or ""
    if len(fraction) > MAX_DECIMAL_PLACES:
        raise NotationError(
            f"{text!r} has {len(fraction)} decimal places; at most {MAX_DECIMAL_PLACES} are "
            "stored and the value is never rounded"
        )
    if len(integer.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise NotationError(f"{text!r} is too large to be a concentration")
    try:
        value = Decimal(stripped)
    except InvalidOperation as error:  # pragma: no cover - the regex admits only decimals
        raise NotationError(f"{text!r} is not a number") from error
    # the text of ``value`` in fixed-point notation, i.e. format(value, "f"), made directly
    number = (integer.lstrip("0") or "0") + (f".{fraction}" if fraction else "")
    return ReportedValue(
        comparator=comparator,
        value=value,
        scale=len(fraction),
        text=f"{comparator.value}{number}",
    )
