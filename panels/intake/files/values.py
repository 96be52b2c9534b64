"""What a result cell says: a number in Labpanel notation, an out-of-range marker, or nothing.

A value is never rounded or converted: ``text`` is the cell's comparator and digits as written,
with a decimal comma turned into a point (only where the delimiter makes that unambiguous) and
surrounding blanks dropped. Anything else is refused with a reason, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from panels.intake.files.types import ProblemCode, ValueKind

COMPARATORS = ("<=", ">=", "≤", "≥", "<", ">")
FORMULA_START = frozenset("=+-@")

BELOW = frozenset(
    {
        "oor <",
        "oor<",
        "below detection range",
        "below fit curve range",
        "below range",
        "below lloq",
        "<lloq",
        "< lloq",
        "<lod",
        "< lod",
        "blq",
    }
)
ABOVE = frozenset(
    {
        "oor >",
        "oor>",
        "above detection range",
        "above fit curve range",
        "above range",
        "above uloq",
        ">uloq",
        "> uloq",
        "alq",
    }
)
NOT_CALCULABLE = frozenset(
    {
        "***",
        "nan",
        "-nan",
        "n/a",
        "na",
        "n.a.",
        "-",
        "--",
        "---",
        "—",
        "?",
        "none",
        "null",
        "inf",
        "-inf",
        "#n/a",
        "#value!",
        "#div/0!",
        "#num!",
        "#ref!",
        "#name?",
        "#null!",
        "invalid",
        "error",
    }
)


@dataclass(frozen=True, slots=True)
class Reading:
    """How one cell reads. ``code``/``message`` are set when the cell is not usable as written."""

    kind: ValueKind
    text: str | None = None
    extrapolated: bool = False
    code: str | None = None
    message: str | None = None
    formula: bool = False  # a spreadsheet formula: also a formula_in_cell warning


EMPTY = Reading(ValueKind.EMPTY)
_NOT_CALCULABLE = Reading(ValueKind.NOT_CALCULABLE)
_BELOW = Reading(ValueKind.BELOW_RANGE)
_ABOVE = Reading(ValueKind.ABOVE_RANGE)


def is_formula(cell: str) -> bool:
    """A cell a spreadsheet would evaluate: starts with = + - @ and is not a plain number."""
    stripped = cell.strip()
    if len(stripped) < 2 or stripped[0] not in FORMULA_START:
        return False
    if stripped[0] == "=":
        return True
    rest = stripped[1:].strip()
    return not _is_plain_decimal(rest.replace(",", ".", 1))


def _is_plain_decimal(text: str) -> bool:
    """Digits, optionally one '.' with digits on both sides (ASCII digits only)."""
    if not text.isascii():
        return False
    integer, dot, fraction = text.partition(".")
    if dot:
        return integer.isdigit() and fraction.isdigit()
    return integer.isdigit()


def read_value(raw: str, *, decimal_comma: bool) -> Reading:
    """Read a result cell. ``decimal_comma``: the delimiter is ';' or tab, so '12,4' is 12.4."""
    cell = raw.strip()
    if not cell:
        return EMPTY
    if _is_plain_decimal(cell):  # the common case, kept fast
        return Reading(ValueKind.NUMBER, cell)
    extrapolated = False
    body = cell
    if body[0] == "*" and body != "***":
        extrapolated = True
        body = body.lstrip("*").strip()
    comparator = ""
    for symbol in COMPARATORS:
        if body.startswith(symbol):
            comparator = symbol
            body = body[len(symbol) :].strip()
            break
    if _is_plain_decimal(body):
        return Reading(ValueKind.NUMBER, comparator + body, extrapolated)
    folded = " ".join(cell.split()).casefold()
    if folded in BELOW:
        return _BELOW
    if folded in ABOVE:
        return _ABOVE
    if folded in NOT_CALCULABLE:
        return _NOT_CALCULABLE
    return _refuse(raw, cell, body, comparator, extrapolated, decimal_comma=decimal_comma)


def _refuse(
    raw: str, cell: str, body: str, comparator: str, extrapolated: bool, *, decimal_comma: bool
) -> Reading:
    commas, dots = body.count(","), body.count(".")
    digits_only = body.replace(",", "").replace(".", "")
    numeric = bool(body) and digits_only.isascii() and digits_only.isdigit()
    if numeric and body[0] not in ",." and body[-1] not in ",.":
        if (commas and dots) or commas > 1 or dots > 1:
            return Reading(
                ValueKind.NOT_CALCULABLE,
                code=ProblemCode.THOUSANDS_SEPARATOR.value,
                message=f"{raw!r} has a thousands separator; write the number without one "
                "(e.g. 1234.5): it is never guessed",
            )
        if commas == 1:
            if decimal_comma:
                return Reading(ValueKind.NUMBER, comparator + body.replace(",", "."), extrapolated)
            return Reading(
                ValueKind.NOT_CALCULABLE,
                code=ProblemCode.DECIMAL_COMMA_AMBIGUOUS.value,
                message=f"{raw!r}: decimal comma or thousands separator — ambiguous in a "
                "comma-separated file; write decimals with '.' (e.g. 12.4)",
            )
    if is_formula(cell):
        reason = "is a spreadsheet formula, not a value; it was not evaluated"
    elif body[:1] == "-" and _is_plain_decimal(body[1:].replace(",", ".", 1)):
        reason = "is negative; a concentration cannot be below zero"
    elif "e" in body.casefold() and _is_plain_decimal(
        body.casefold().replace("e+", "").replace("e-", "").replace("e", "").replace(",", ".")
    ):
        reason = "is in scientific notation; write the digits (e.g. 12000)"
    elif "\n" in body or "\r" in body:
        reason = "spans several lines (a quote is probably not closed)"
    else:
        reason = "is not a number in the lab's notation (e.g. 12.4, <1.5, >5000, OOR <)"
    return Reading(
        ValueKind.NOT_CALCULABLE,
        code=ProblemCode.VALUE_NOT_NUMBER.value,
        message=f"{_short(raw)} {reason}",
        formula=is_formula(cell),
    )


def _short(raw: str) -> str:
    return repr(raw if len(raw) <= 60 else raw[:57] + "...")


def decimal_text(raw: str, *, decimal_comma: bool) -> str:
    """A dilution factor or similar as decimal text; a decimal comma becomes '.' if allowed."""
    cell = raw.strip()
    if decimal_comma and cell.count(",") == 1 and "." not in cell:
        candidate = cell.replace(",", ".")
        if _is_plain_decimal(candidate):
            return candidate
    return cell
