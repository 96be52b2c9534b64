"""What makes a panel "all normal", and whether its findings are interpretive.

:func:`review_blockers` is one rule, used by the lab's auto-verification (on submission and on
import commit) and by bulk verification: every current result was judged by an interval and is
within it (``N``), is an exact value inside the assay's measuring range, is not critical, and no
finding is met. A result no interval judged is never taken for normal.
:func:`panel_has_interpretive_findings` says whether only a director may release the panel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from panels.interpretation import MeasuringRanges
from panels.models import Finding, FindingStatus, Panel, Result
from panels.submission import collected_on
from reference_ranges.patterns import pattern_rule_get
from reference_ranges.selectors import measuring_ranges_active

CRITICAL_CODES = frozenset({"HH", "LL"})


@dataclass(frozen=True, slots=True)
class Blocker:
    """Why a panel is not "all normal": a code and a sentence naming the result or finding."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def review_blockers(
    *, results: Sequence[Result], met_findings: Iterable[str], ranges: MeasuringRanges
) -> list[Blocker]:
    """Every reason ``results`` (a panel's current results, analytes loaded) are not all
    normal, ``met_findings`` the names of its findings met; empty when they are. ``ranges``:
    the lab's measuring ranges in force on the collection day, by analyte code."""
    blockers: list[Blocker] = []
    if not results:
        blockers.append(Blocker("no_results", "the panel has no results"))
    for result in results:
        name = result.analyte.short_name
        code = result.interpretation
        if not code:
            blockers.append(
                Blocker("no_interval", f"{name}: no reference interval judged this result")
            )
            continue
        if code in CRITICAL_CODES:
            blockers.append(Blocker("critical", f"{name}: critical value ({code})"))
            continue
        outside = _outside_measuring_range(result, ranges)
        if outside:
            blockers.append(Blocker("outside_measuring_range", f"{name}: {outside}"))
        elif code != "N":
            blockers.append(
                Blocker("outside_interval", f"{name}: not within its reference interval ({code})")
            )
    blockers += [Blocker("finding_met", f"finding met: {name}") for name in met_findings]
    return blockers


def _outside_measuring_range(result: Result, ranges: MeasuringRanges) -> str:
    if result.comparator:
        return f"{result.value_text} is censored at a measuring limit"
    facts = ranges.get(result.analyte.code)
    limits = facts.limits_in(result.unit) if facts is not None else None
    if limits is None:
        return ""
    lloq, uloq = limits
    if (lloq is not None and result.value < lloq) or (uloq is not None and result.value > uloq):
        return f"{result.value_text} {result.unit} is outside the assay's measuring range"
    return ""


def panel_review_blockers(*, panel: Panel) -> list[Blocker]:
    """:func:`review_blockers` of a stored panel, from its current results and findings."""
    results = list(
        Result.objects.current().filter(panel=panel).select_related("analyte").order_by("position")
    )
    met = Finding.objects.current().filter(panel=panel, status=FindingStatus.MET)
    ranges = measuring_ranges_active(lab_id=panel.lab_id, on=collected_on(panel.collected_at))
    return review_blockers(
        results=results, met_findings=met.values_list("text__name", flat=True), ranges=ranges
    )


def panel_has_interpretive_findings(*, panel: Panel) -> bool:
    """Whether a finding of ``panel`` was evaluated from clinical data supplied with it: a
    current finding, evaluated, of a rule that reads clinical inputs the panel carries
    (HLH-2004, HScore, the ASTCT grade)."""
    supplied = set(panel.clinical)
    if not supplied:
        return False
    for finding in Finding.objects.current().filter(panel=panel):
        if finding.status == FindingStatus.NOT_EVALUATED:
            continue
        rule = pattern_rule_get(finding.rule_id)
        if rule is None or any(
            not criterion.is_analyte and criterion.input in supplied for criterion in rule.criteria
        ):
            # A rule no longer shipped cannot be shown to be cytokine-only: a director decides.
            return True
    return False
