"""Impact preview: what a candidate rule set would change in the interpretations already stored.

It reads the panels' stored results, so it lives in panels, above the rule sets it previews
(``manage.py ruleset_preview`` and ``GET /api/v1/rulesets/{id}/impact/`` serve it).

A dry run, before publishing: every stored result the candidate would judge (its lab's panels,
or for an installation-wide set the panels of labs without a set of their own) is interpreted
again with the candidate through the one interpretation recipe (``panel_interpret``, with no
lab's measuring ranges: the stored measurements are judged as given) and compared with the
stored flag and interval. Nothing is written. Each stored result is given to the engine
as the submission gave it (the reported decimals, the dilution factor), so the preview's new
conclusion, reason included, is what a submission under the candidate would store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from django.db.models import Prefetch, QuerySet

from labpanel.exceptions import InvalidInput
from panels.interpretation import panel_interpret, result_measurement
from panels.models import Panel, Result
from reference_ranges.adapters import ruleset_to_engine
from reference_ranges.engine import AmbiguousRules
from reference_ranges.engine.types import Interpretation, Measurement, RuleSet
from reference_ranges.models import ReferenceRangeSet
from reference_ranges.selectors import ruleset_document_get
from reference_ranges.services.rulesets import problems_error, ruleset_document_check

PANEL_BATCH_SIZE = 200
MAX_EXAMPLES = 200


@dataclass(frozen=True)
class ImpactSide:
    code: str | None
    interval: str | None
    rule_key: str | None
    ruleset_version: str | None
    reason: str


@dataclass(frozen=True)
class ImpactExample:
    accession: str
    analyte: str
    value: str
    unit: str
    old: ImpactSide
    new: ImpactSide
    # For the read audit (labpanel.audit) of the page or answer showing the example; not shown.
    panel_id: int = 0
    patient_id: int = 0


@dataclass(frozen=True)
class ImpactPreview:
    ruleset_id: int
    key: str
    version: str
    lab: str | None
    panels_examined: int
    results_examined: int
    unchanged: int
    changed: int
    transitions: dict[str, int]
    examples: tuple[ImpactExample, ...]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["examples"] = [asdict(example) for example in self.examples]
        return data


def _panels_in_scope(candidate: ReferenceRangeSet) -> QuerySet[Panel]:
    panels = Panel.objects.filter(ruleset__panel_type=candidate.panel_type)
    if candidate.lab_id is not None:
        panels = panels.filter(lab_id=candidate.lab_id)
    else:
        labs_with_own_set = (
            ReferenceRangeSet.objects.active()
            .filter(panel_type=candidate.panel_type, lab__isnull=False)
            .values("lab_id")
        )
        panels = panels.exclude(lab_id__in=labs_with_own_set)
    return (
        panels.select_related("patient")
        .prefetch_related(
            Prefetch(
                "results",
                queryset=Result.objects.current()
                .select_related("analyte", "rule")
                .order_by("position"),
            )
        )
        .order_by("pk")
    )


def _interpretations(
    panel: Panel,
    measurements: list[Measurement],
    ruleset: RuleSet,
    anticoagulants: dict[int, str | None],
) -> tuple[Interpretation, ...]:
    """The candidate's interpretations of a stored panel, through the one recipe.

    No lab's measuring ranges: the stored measurements are judged as given; generic plasma as
    the panel's lab says it is (``anticoagulants`` remembers each lab's statement).
    A panel stored as collected before the patient's birth date (possible only before the
    builder refused it) is judged without an age, never with a guessed one.
    """
    patient = panel.patient

    def judged(birth_date: date | None) -> tuple[Interpretation, ...]:
        return panel_interpret(
            sex=patient.sex,
            birth_date=birth_date,
            specimen_type=panel.specimen_type,
            collected_at=panel.collected_at,
            measurements=measurements,
            ruleset=ruleset,
            lab_id=panel.lab_id,
            with_measuring_ranges=False,
            anticoagulants=anticoagulants,
        ).interpretations

    try:
        return judged(patient.birth_date)
    except InvalidInput:
        return judged(None)


def _old_side(result: Result) -> ImpactSide:
    return ImpactSide(
        code=result.interpretation or None,
        interval=result.reference_text or None,
        rule_key=result.rule.key if result.rule is not None else None,
        ruleset_version=result.ruleset_version or None,
        reason=result.interpretation_reason,
    )


def _new_side(interpretation: Interpretation) -> ImpactSide:
    return ImpactSide(
        code=interpretation.code.value if interpretation.code is not None else None,
        interval=interpretation.reference_text,
        rule_key=interpretation.rule_key,
        ruleset_version=interpretation.ruleset_version,
        reason=interpretation.reason,
    )


def ruleset_impact_preview(
    *, candidate: ReferenceRangeSet, limit_examples: int = 20
) -> ImpactPreview:
    """Re-interpret the stored results ``candidate`` would judge and report what changes.

    A result changes when its flag or its reference interval would differ (a rule renamed
    with the same interval and flag is not a change). ``transitions`` counts changes by
    "old→new" flag ("H→N", "N→None"; "N→N" is an interval change that kept the flag).
    ``examples`` holds up to ``limit_examples`` changed results, in storage order, identified
    by accession (never by patient). Raises ``InvalidInput`` when the candidate fails the
    import validation (an overlapping set cannot be evaluated). Reads in batches; writes
    nothing.
    """
    limit_examples = max(0, min(limit_examples, MAX_EXAMPLES))
    outcome = ruleset_document_check(document=ruleset_document_get(ruleset=candidate))
    if outcome.errors:
        raise problems_error(outcome.errors)
    engine_ruleset = ruleset_to_engine(candidate)
    panels_examined = results_examined = unchanged = 0
    transitions: Counter[str] = Counter()
    examples: list[ImpactExample] = []
    anticoagulants: dict[int, str | None] = {}
    for panel in _panels_in_scope(candidate).iterator(chunk_size=PANEL_BATCH_SIZE):
        results = list(panel.results.all())
        panels_examined += 1
        if not results:
            continue
        measurements = [result_measurement(result) for result in results]
        try:
            interpretations = _interpretations(panel, measurements, engine_ruleset, anticoagulants)
        except AmbiguousRules as error:
            raise InvalidInput(
                str(error),
                details=[
                    {"rule": key, "field": "partition", "message": str(error)}
                    for key in error.rule_keys
                ],
            ) from error
        for result, interpretation in zip(results, interpretations, strict=True):
            results_examined += 1
            old, new = _old_side(result), _new_side(interpretation)
            if (old.code, old.interval) == (new.code, new.interval):
                unchanged += 1
                continue
            transitions[f"{old.code or 'None'}→{new.code or 'None'}"] += 1
            if len(examples) < limit_examples:
                examples.append(
                    ImpactExample(
                        accession=panel.accession,
                        analyte=result.analyte.code,
                        value=result.value_text,
                        unit=result.unit,
                        old=old,
                        new=new,
                        panel_id=panel.pk,
                        patient_id=panel.patient_id,
                    )
                )
    return ImpactPreview(
        ruleset_id=candidate.pk,
        key=candidate.key,
        version=candidate.version,
        lab=candidate.lab.name if candidate.lab is not None else None,
        panels_examined=panels_examined,
        results_examined=results_examined,
        unchanged=unchanged,
        changed=sum(transitions.values()),
        transitions=dict(sorted(transitions.items())),
        examples=tuple(examples),
    )
