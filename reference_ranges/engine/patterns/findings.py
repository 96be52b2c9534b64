"""The pieces every rule kind's finding is built from: what was missing or undecided, the
finding itself (marked when the rule's criteria are unverified) and the not-evaluated finding."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from reference_ranges.engine.patterns.judging import Judgement
from reference_ranges.engine.patterns.types import (
    UNVERIFIED_SUFFIX,
    Evidence,
    Finding,
    FindingStatus,
    PatternRule,
)


def missing_of(judgements: Sequence[Judgement]) -> tuple[str, ...]:
    names: list[str] = []
    for judgement in judgements:
        if not judgement.present and judgement.criterion.input not in names:
            names.append(judgement.criterion.input)
    return tuple(names)


def undecided_reasons(judgements: Sequence[Judgement]) -> str:
    parts = []
    for judgement in judgements:
        if judgement.satisfied is None:
            evidence = judgement.evidence
            shown = f" {evidence.value_text}" if evidence.value_text else ""
            parts.append(f"{evidence.criterion}:{shown} {evidence.note}".strip())
    return "; ".join(parts)


def make_finding(
    rule: PatternRule,
    status: FindingStatus,
    statement: str,
    evidence: Sequence[Evidence] = (),
    *,
    score: Decimal | None = None,
    missing_inputs: Sequence[str] = (),
) -> Finding:
    if not rule.verified:
        statement += UNVERIFIED_SUFFIX
    return Finding(
        rule_id=rule.id,
        rule_version=rule.version,
        name=rule.name,
        status=status,
        statement=statement,
        evidence=tuple(evidence),
        citation=rule.citation,
        verified=rule.verified,
        verification_note=rule.verification_note,
        score=score,
        missing_inputs=tuple(missing_inputs),
    )


def not_evaluated(rule: PatternRule, missing: Sequence[str]) -> Finding:
    statement = f"{rule.name}: not evaluated — not supplied: {', '.join(missing)}"
    return make_finding(rule, FindingStatus.NOT_EVALUATED, statement, missing_inputs=missing)


def labels_met(judgements: Sequence[Judgement]) -> str:
    return "; ".join(j.criterion.label for j in judgements if j.satisfied is True)
