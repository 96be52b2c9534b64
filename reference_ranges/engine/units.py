"""Unit conversion only where physics defines it, with the conversion spelled out.

Mass concentrations convert among themselves by powers of ten (pg/mL = ng/L, ng/mL = µg/L,
mg/L = mg/dL × 10): exact in Decimal, no rounding. A mass concentration converts to a substance
concentration (pmol/L, nmol/L) only with the analyte's single molecular weight, in kDa:
``pmol/L = (pg/mL) ÷ MW``. That division is done in :data:`CONTEXT` (28 significant digits,
round-half-even); the result is kept at that precision, never rounded to a display precision,
and a conversion that had to round says "≈" instead of "=".

Arbitrary units (U/mL, IU/mL, kU/L...) are assay-defined: soluble IL-2 receptor in U/mL and in
pg/mL are different measurements with no conversion between them, so :func:`convert` returns
``None`` for them (a unit is only ever "converted" to its own spelling). Neither does it convert
with a missing molecular weight; an analyte with no single molecular weight (IL-6, glycosylated,
20–28 kDa) must simply not be given one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from enum import StrEnum

from reference_ranges.engine.decimals import plain

__all__ = [
    "ARBITRARY_UNITS",
    "CONTEXT",
    "Conversion",
    "Quantity",
    "conversion_obstacle",
    "convert",
    "identity_of",
    "quantity_of",
]

#: The arithmetic context of every conversion: 28 significant digits, round half even, and
#: errors (division by zero, overflow, invalid operation) raised, never turned into NaN.
CONTEXT = Context(
    prec=28,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)


class Quantity(StrEnum):
    MASS_CONCENTRATION = "mass concentration"
    SUBSTANCE_CONCENTRATION = "substance concentration"


# unit -> (kind of quantity, power of ten of the unit in g/L or mol/L). "l" is accepted for the
# litre, and "µ" (micro sign), "μ" (Greek mu) or "u" for micro; nothing else is normalised.
_UNITS: dict[str, tuple[Quantity, int]] = {}
for _spelling, _quantity, _exponent in (
    ("pg/mL", Quantity.MASS_CONCENTRATION, -9),
    ("ng/L", Quantity.MASS_CONCENTRATION, -9),
    ("ng/mL", Quantity.MASS_CONCENTRATION, -6),
    ("µg/L", Quantity.MASS_CONCENTRATION, -6),
    ("µg/mL", Quantity.MASS_CONCENTRATION, -3),
    ("mg/L", Quantity.MASS_CONCENTRATION, -3),
    ("mg/dL", Quantity.MASS_CONCENTRATION, -2),
    ("g/L", Quantity.MASS_CONCENTRATION, 0),
    ("pmol/L", Quantity.SUBSTANCE_CONCENTRATION, -12),
    ("nmol/L", Quantity.SUBSTANCE_CONCENTRATION, -9),
    ("µmol/L", Quantity.SUBSTANCE_CONCENTRATION, -6),
    ("mmol/L", Quantity.SUBSTANCE_CONCENTRATION, -3),
):
    for _micro in ("µ", "μ", "u"):
        _unit = _spelling.replace("µ", _micro)
        _UNITS[_unit] = (_quantity, _exponent)
        _UNITS[_unit[:-1] + "l"] = (_quantity, _exponent)

#: Units defined by an assay's calibrator, not by physics: never converted to anything else.
ARBITRARY_UNITS = frozenset(
    {"U/mL", "U/ml", "U/L", "U/l", "kU/L", "kU/l", "IU/mL", "IU/ml", "IU/L", "IU/l", "mIU/mL"}
)

# g/mol per kDa.
_GRAMS_PER_MOLE_PER_KDA_EXPONENT = 3


def quantity_of(unit: str) -> Quantity | None:
    """The physical quantity ``unit`` measures, or ``None`` for an arbitrary or unknown unit."""
    known = _UNITS.get(unit)
    return None if known is None else known[0]


@dataclass(frozen=True, slots=True)
class Conversion:
    """``from_value`` ``from_unit`` is ``value`` ``to_unit``; ``factor_text`` says why.

    ``factor_text`` is the factor as a reader checks it: "1 pg/mL = 1 ng/L",
    "1 ng/mL = 1000 pg/mL", "1 pg/mL = 1/17.5 pmol/L, molecular weight 17.5 kDa". ``exact`` is
    false when the 28-digit context had to round (a division by a molecular weight).
    """

    value: Decimal
    from_unit: str
    to_unit: str
    factor_text: str
    from_value: Decimal
    exact: bool = True

    def describe(self, comparator: str = "") -> str:
        """The conversion as shown to the reader, the comparator kept on both sides.

        "12.4 pg/mL = 12.4 ng/L (1 pg/mL = 1 ng/L)", "<1.5 ng/mL = <1500 pg/mL (...)".
        """
        sign = "=" if self.exact else "≈"
        return (
            f"{comparator}{plain(self.from_value)} {self.from_unit} {sign} "
            f"{comparator}{plain(self.value)} {self.to_unit} ({self.factor_text})"
        )


def _power_of_ten(exponent: int) -> str:
    return plain(Decimal(1).scaleb(exponent))


# The same arithmetic as CONTEXT, but any rounding raises Inexact: a conversion is first tried
# here and only redone in CONTEXT (and shown with "≈") when it cannot be exact. Trapping instead
# of reading flags lets the contexts be shared between threads (flags are never read).
_EXACT_CONTEXT = Context(
    prec=CONTEXT.prec,
    rounding=CONTEXT.rounding,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)

# How to convert from one unit to another: (power of ten to scale by, molecular weight to divide
# by or None, molecular weight factor to multiply by or None, factor text).
_Route = tuple[int, Decimal | None, Decimal | None, str]
_ROUTES: dict[tuple[str, str, Decimal | None], _Route | None] = {}
_ROUTES_LIMIT = 4096


def _route(from_unit: str, to_unit: str, molecular_weight_kda: Decimal | None) -> _Route | None:
    if from_unit == to_unit:
        return (0, None, None, f"1 {from_unit} = 1 {to_unit}")
    source, target = _UNITS.get(from_unit), _UNITS.get(to_unit)
    if source is None or target is None:
        return None
    (from_quantity, from_exponent), (to_quantity, to_exponent) = source, target
    exponent = from_exponent - to_exponent
    if from_quantity is to_quantity:
        return (exponent, None, None, f"1 {from_unit} = {_power_of_ten(exponent)} {to_unit}")
    if molecular_weight_kda is None:
        return None
    weight = plain(molecular_weight_kda)
    if from_quantity is Quantity.MASS_CONCENTRATION:
        # mol/L = (g/L) / (g/mol), and g/mol = kDa × 10^3.
        exponent -= _GRAMS_PER_MOLE_PER_KDA_EXPONENT
        factor = (
            f"1 {from_unit} = {_power_of_ten(exponent)}/{weight} {to_unit}, "
            f"molecular weight {weight} kDa"
        )
        return (exponent, molecular_weight_kda, None, factor)
    multiplier = molecular_weight_kda.scaleb(exponent + _GRAMS_PER_MOLE_PER_KDA_EXPONENT, CONTEXT)
    factor = f"1 {from_unit} = {plain(multiplier)} {to_unit}, molecular weight {weight} kDa"
    return (0, None, multiplier, factor)


def _apply(value: Decimal, route: _Route, context: Context) -> Decimal:
    exponent, divisor, multiplier, _ = route
    converted = value.scaleb(exponent, context) if exponent else value
    if divisor is not None:
        converted = context.divide(converted, divisor)
    if multiplier is not None:
        converted = context.multiply(converted, multiplier)
    return converted


def convert(
    value: Decimal,
    from_unit: str,
    to_unit: str,
    *,
    molecular_weight_kda: Decimal | None = None,
) -> Conversion | None:
    """Convert ``value`` from ``from_unit`` to ``to_unit``, or return ``None`` if physics can't.

    ``None`` when either unit is arbitrary or unknown (U/mL never converts to pg/mL), or when a
    mass ↔ substance conversion has no molecular weight. The same unit converts to itself
    (factor 1). Powers of ten are exact; a division by a molecular weight is correctly rounded
    to 28 significant digits when it is not exact, and the conversion then says "≈". Raises
    ``ValueError`` for a molecular weight that is not positive.
    """
    if molecular_weight_kda is not None and not molecular_weight_kda > 0:
        raise ValueError(f"molecular weight {molecular_weight_kda} kDa is not positive")
    key = (from_unit, to_unit, molecular_weight_kda)
    if key in _ROUTES:
        route = _ROUTES[key]
    else:
        route = _route(from_unit, to_unit, molecular_weight_kda)
        if len(_ROUTES) < _ROUTES_LIMIT:
            _ROUTES[key] = route
    if route is None:
        return None
    try:
        converted, exact = _apply(value, route, _EXACT_CONTEXT), True
    except Inexact:
        converted, exact = _apply(value, route, CONTEXT), False
    return Conversion(converted, from_unit, to_unit, route[3], value, exact)


def identity_of(from_unit: str, to_unit: str) -> str | None:
    """ "1 µg/L = 1 ng/mL" when two differently written units are the same unit by definition
    (same quantity, same power of ten: the number does not change); ``None`` otherwise,
    including for the same spelling and for every conversion that changes the number."""
    if from_unit == to_unit:
        return None
    source = _UNITS.get(from_unit)
    if source is None or source != _UNITS.get(to_unit):
        return None
    return f"1 {from_unit} = 1 {to_unit}"


def conversion_obstacle(
    from_unit: str, to_unit: str, *, analyte: str, has_molecular_weight: bool
) -> str:
    """Why :func:`convert` cannot convert between the two units, in a reader's words."""
    source, target = quantity_of(from_unit), quantity_of(to_unit)
    if source is None or target is None:
        unconvertible = [u for u, kind in ((from_unit, source), (to_unit, target)) if not kind]
        one = len(unconvertible) == 1
        if all(unit in ARBITRARY_UNITS for unit in unconvertible):
            what = "an arbitrary (assay-defined) unit" if one else "arbitrary (assay-defined) units"
        else:
            what = f"not {'a unit' if one else 'units'} of a quantity the engine can convert"
        return (
            f"{' and '.join(unconvertible)} {'is' if one else 'are'} {what}: no physical "
            f"conversion between {from_unit} and {to_unit}"
        )
    if source is not target and not has_molecular_weight:
        return (
            f"{from_unit} converts to {to_unit} only with a single molecular weight of "
            f"{analyte}, and the rule set records none"
        )
    return f"no conversion between {from_unit} and {to_unit}"  # pragma: no cover - convertible
