"""A panel summary by cytokine family and by inflammatory role: which analytes are elevated.

Pure: interpretations and catalogue facts in, two tuples of group summaries out. Counted as
elevated: H, HH and ">" (off scale high: above the measuring range). Counted as low: L, LL and
"<" (off scale low). Any other code (N, or a code this module does not know, e.g. "IND") is
neither; an interpretation without a code (no reference interval applies) is listed under
``no_range``. Analytes absent from ``facts`` are left out of the summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reference_ranges.engine.types import Interpretation, InterpretationCode

__all__ = [
    "FAMILIES",
    "ROLES",
    "AnalyteFacts",
    "GroupSummary",
    "summarize",
]

FAMILIES: Mapping[str, str] = {
    "interleukin": "Interleukins",
    "interferon": "Interferons",
    "tnf": "TNF",
    "chemokine": "Chemokines",
    "colony_stimulating_factor": "Colony-stimulating factors",
    "soluble_receptor": "Soluble receptors",
    "acute_phase": "Acute-phase markers",
}
"""Family code -> label, in display order."""

ROLES: Mapping[str, str] = {
    "pro": "Pro-inflammatory",
    "anti": "Anti-inflammatory",
    "dual": "Pro- and anti-inflammatory",
    "marker": "Markers",
}
"""Inflammatory role code -> label, in display order."""

_ELEVATED = frozenset(
    {
        InterpretationCode.HIGH.value,
        InterpretationCode.CRITICAL_HIGH.value,
        InterpretationCode.OFF_SCALE_HIGH.value,
    }
)
_LOW = frozenset(
    {
        InterpretationCode.LOW.value,
        InterpretationCode.CRITICAL_LOW.value,
        InterpretationCode.OFF_SCALE_LOW.value,
    }
)


@dataclass(frozen=True, slots=True)
class AnalyteFacts:
    """Catalogue facts about one analyte: display name, family and inflammatory role."""

    code: str
    name: str
    family: str
    role: str

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.code}: unknown family {self.family!r}")
        if self.role not in ROLES:
            raise ValueError(f"{self.code}: unknown role {self.role!r}")


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """One family or role: how many of its analytes were measured and which were abnormal.

    ``elevated`` / ``low`` / ``no_range`` hold display names in the order of the interpretations,
    each name once.
    """

    group: str
    label: str
    measured: int
    elevated: tuple[str, ...]
    low: tuple[str, ...]
    no_range: tuple[str, ...]


def _unique(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _groups(
    labels: Mapping[str, str],
    members: Mapping[str, list[tuple[AnalyteFacts, Interpretation]]],
) -> tuple[GroupSummary, ...]:
    summaries = []
    for group, label in labels.items():
        entries = members.get(group)
        if not entries:
            continue
        elevated: list[str] = []
        low: list[str] = []
        no_range: list[str] = []
        for facts, item in entries:
            code = item.code  # a StrEnum: compares and hashes as its text
            if code is None:
                no_range.append(facts.name)
            elif code in _ELEVATED:
                elevated.append(facts.name)
            elif code in _LOW:
                low.append(facts.name)
        summaries.append(
            GroupSummary(
                group=group,
                label=label,
                measured=len(entries),
                elevated=_unique(elevated),
                low=_unique(low),
                no_range=_unique(no_range),
            )
        )
    return tuple(summaries)


def summarize(
    interpretations: Sequence[Interpretation], facts: Mapping[str, AnalyteFacts]
) -> tuple[tuple[GroupSummary, ...], tuple[GroupSummary, ...]]:
    """Return (by family, by role), each in the fixed order of :data:`FAMILIES` / :data:`ROLES`.

    Only groups with at least one measured analyte appear. ``measured`` counts interpretations
    (one per reported result).
    """
    by_family: dict[str, list[tuple[AnalyteFacts, Interpretation]]] = {}
    by_role: dict[str, list[tuple[AnalyteFacts, Interpretation]]] = {}
    for interpretation in interpretations:
        known = facts.get(interpretation.analyte)
        if known is None:
            continue
        by_family.setdefault(known.family, []).append((known, interpretation))
        by_role.setdefault(known.role, []).append((known, interpretation))
    return _groups(FAMILIES, by_family), _groups(ROLES, by_role)
