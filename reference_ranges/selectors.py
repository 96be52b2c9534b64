"""Reads of the analyte catalogue and rule sets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from reference_ranges.models import Analyte, ReferenceRangeSet

_SEPARATORS = re.compile(r"[\s\-_./]+")


def analyte_name_key(name: str) -> str:
    """Normalise an analyte name for matching: case, spaces, hyphens, dots and slashes ignored."""
    return _SEPARATORS.sub("", name.strip().casefold())


@dataclass(frozen=True)
class AnalyteCatalogue:
    """Every way an analyte may be named (code, LOINC, aliases) mapped to its catalogue row."""

    by_key: dict[str, Analyte]

    def resolve(self, name: str) -> Analyte | None:
        return self.by_key.get(analyte_name_key(name))


def analyte_catalogue_get() -> AnalyteCatalogue:
    by_key: dict[str, Analyte] = {}
    for analyte in Analyte.objects.all():
        names = [analyte.code, analyte.short_name, analyte.name, *analyte.aliases]
        if analyte.loinc:
            names.append(analyte.loinc)
        for name in names:
            by_key[analyte_name_key(name)] = analyte
    return AnalyteCatalogue(by_key=by_key)


def ruleset_get_active(*, panel_type: str = "cytokine") -> ReferenceRangeSet | None:
    return ReferenceRangeSet.objects.active().filter(panel_type=panel_type).first()
