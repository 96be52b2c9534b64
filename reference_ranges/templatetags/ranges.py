"""Template filters of the reference-range pages: a rule's specimen types in words."""

from __future__ import annotations

from typing import Any

from django import template

from reference_ranges.models import SpecimenType

register = template.Library()


@register.filter
def specimen_labels(codes: Any) -> str:
    """``["plasma", "plasma_heparin"]`` → "Plasma, Heparin plasma"; "any" when none."""
    if not codes:
        return "any"
    labels = dict(SpecimenType.choices)
    return ", ".join(str(labels.get(code, code)) for code in codes)
