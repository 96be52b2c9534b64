"""The findings part of a report: one line per evaluated pattern rule, one for those not evaluated.

A finding is printed in the words of its rule, with its evidence (every note the engine gave:
identities such as 1 ng/mL = 1 µg/L, censored values, annotations such as IL-6 after
tocilizumab). A finding calculated from clinical inputs (HLH-2004, the HScore, the ASTCT grade)
says who supplied them and when, and that it is not a laboratory measurement. Rules that could
not be evaluated are collapsed into one line naming them and, in a clinician's words, what
would let them be evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from panels.models import Finding, Panel
from reference_ranges.models import Analyte
from reference_ranges.patterns import clinical_inputs
from reports.formatting import when_text
from reports.rendering.document import FindingLine

STATUS_TEXT = {
    "met": "Met",
    "not_met": "Not met",
    "indeterminate": "Indeterminate",
    "not_evaluated": "Not evaluated",
}
_SATISFIED_TEXT = {True: "met", False: "not met", None: "undecided"}


def person_text(user: Any) -> str:
    """A user as reports name them: "Dr Gregory House (dr.house)", or the username alone."""
    staff = getattr(user, "staff", None)
    display = (staff.display_name if staff else "") or user.get_full_name()
    username = user.get_username()
    return f"{display} ({username})" if display else username


def _evidence_text(evidence: Iterable[Mapping[str, Any]]) -> str:
    parts = []
    for item in evidence:
        if item["value"] is None:
            parts.append(f"{item['criterion']}: {item.get('note') or 'not supplied'}")
            continue
        judged = _SATISFIED_TEXT[item["satisfied"]]
        note = f"; {item['note']}" if item.get("note") else ""
        parts.append(f"{item['criterion']}: {item['value']} ({judged}{note})")
    return "; ".join(parts)


def _provenance(panel: Panel, finding: Finding, clinical_names: frozenset[str]) -> str:
    """Who supplied the clinical data a finding was calculated from, and when; "" for a finding
    that used none."""
    used = any(
        item["input"] in clinical_names and item["value"] is not None for item in finding.evidence
    )
    if not used:
        return ""
    return (
        f"Calculated from clinical data supplied by {person_text(panel.submitted_by)} at "
        f"{when_text(panel.created_at)} — not a laboratory measurement."
    )


def _not_evaluated_line(
    findings: list[Finding], analyte_names: Mapping[str, str] | None
) -> FindingLine:
    """One line for every rule not evaluated: the rules, then what would let them be evaluated
    (results not measured, clinical data not supplied), in a clinician's words."""
    specs = clinical_inputs()
    missing = list(dict.fromkeys(name for f in findings for name in f.missing_inputs))
    clinical = [specs[name].label for name in missing if name in specs]
    codes = [name for name in missing if name not in specs]
    if analyte_names is None:
        analyte_names = dict(
            Analyte.objects.filter(code__in=codes).values_list("code", "short_name")
        )
    needs = []
    if codes:
        needs.append("results of " + ", ".join(analyte_names.get(code, code) for code in codes))
    if clinical:
        needs.append("clinical data: " + ", ".join(clinical))
    names = "; ".join(
        finding.text.name + ("" if finding.text.verified else " (unverified criteria)")
        for finding in findings
    )
    return FindingLine(
        name=names,
        status_text=STATUS_TEXT["not_evaluated"],
        statement=f"Needed to evaluate them, not supplied with this panel: {'; '.join(needs)}.",
        evidence="",
        source="",
        is_verified=True,
        is_positive=False,
    )


def finding_lines(
    panel: Panel,
    *,
    analyte_names: Mapping[str, str] | None = None,
    findings: Sequence[Finding] | None = None,
) -> tuple[FindingLine, ...]:
    """The findings section of ``panel``'s report, in rule order, the rules not evaluated last
    and on one line. ``analyte_names`` (code -> short name) names the analytes the rules not
    evaluated lack; without it they are read when needed. ``findings``: the panel's findings as
    the reader is shown them (``panels.history.findings_shown``), default all of them."""
    clinical_names = frozenset(clinical_inputs())
    lines = []
    not_evaluated = []
    for finding in panel.findings.all() if findings is None else findings:
        if finding.status == "not_evaluated":
            not_evaluated.append(finding)
            continue
        lines.append(
            FindingLine(
                name=finding.text.name,
                status_text=STATUS_TEXT[finding.status],
                statement=finding.text.statement,
                evidence=_evidence_text(finding.evidence),
                source=f"{finding.text.citation} — rule {finding.rule_id} v{finding.rule_version}",
                is_verified=finding.text.verified,
                is_positive=finding.status == "met",
                provenance=_provenance(panel, finding, clinical_names),
            )
        )
    if not_evaluated:
        lines.append(_not_evaluated_line(not_evaluated, analyte_names))
    return tuple(lines)
