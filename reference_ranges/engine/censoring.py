"""What a censored result ("<1.5", ">5000") can stand for: the interval of its possible values.

Concentrations are never negative, so "<1.5" stands for every value from 0 up to 1.5 and "<0"
for none. Shared by the interpretation against reference intervals and by the pattern rules.
"""

from __future__ import annotations

from decimal import Decimal

from reference_ranges.engine.types import Comparator

__all__ = ["Span", "possible_values"]

# An interval of the real line: (low, low_closed, high, high_closed); None is unbounded.
Span = tuple[Decimal | None, bool, Decimal | None, bool]

_ZERO = Decimal(0)


def possible_values(comparator: Comparator, value: Decimal) -> Span | None:
    """The true values a censored result can stand for (concentrations are never negative).

    ``None`` when no non-negative value is possible ("<0").
    """
    if comparator is Comparator.LT:
        return (_ZERO, True, value, False) if value > _ZERO else None
    if comparator is Comparator.LE:
        return (_ZERO, True, value, True) if value >= _ZERO else None
    if value < _ZERO:
        return (_ZERO, True, None, False)
    return (value, comparator is Comparator.GE, None, False)
