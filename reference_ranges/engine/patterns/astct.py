"""The ``astct_crs_grade`` kind: the ASTCT consensus CRS grade (Lee et al. 2019), from clinical
inputs only.

The grade is the highest of its components: fever (grade 1), hypotension (2: no vasopressor;
3: one, or vasopressin; 4: several) and hypoxia (by the oxygen support, or by the flow of a
nasal cannula when it is given). Fever counts only when it is not attributed to another cause,
and a fever attributed to another cause is never graded (septic shock is not CRS). Without
fever nothing is graded, except in a patient whose CRS had been diagnosed before antipyretic or
anti-cytokine therapy masked the fever (Lee et al. 2019: fever is then no longer required).
The lab does not diagnose: when nothing is graded the finding says that no grade was assigned
and why, never that there is no CRS. Cytokine values never enter the grade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from reference_ranges.engine.decimals import plain
from reference_ranges.engine.patterns.findings import make_finding
from reference_ranges.engine.patterns.judging import clinical_number, clinical_text
from reference_ranges.engine.patterns.types import (
    ASTCT_OXYGEN_DEVICES,
    NASAL_CANNULAS,
    ClinicalValue,
    Evidence,
    Finding,
    FindingStatus,
    PatternContext,
    PatternRule,
)

_ZERO = Decimal(0)
_PRESSORS = "vasopressors_excluding_vasopressin"
_PRESSORS_LABEL = "vasopressors (excluding vasopressin)"
_COMPONENT_NOTES = ("hypotension component", "hypoxia component")
_DIAGNOSED = "crs_diagnosed_before_therapy"
_DIAGNOSED_LABEL = "CRS diagnosed before the antipyretic or anti-cytokine therapy"


@dataclass(frozen=True, slots=True)
class _Inputs:
    """The clinical inputs of one grading, each of the type the grade table needs."""

    temperature: Decimal
    other_cause: bool
    therapy: bool
    crs_diagnosed: bool | None
    hypotension: bool
    vasopressin: bool
    pressors: int
    device: str
    flow: Decimal | None


class _Reader:
    """Reads supplied clinical inputs, recording the evidence of each one of the wrong type."""

    def __init__(self, clinical: Mapping[str, ClinicalValue]) -> None:
        self.clinical = clinical
        self.problems: list[Evidence] = []

    def raw(self, name: str) -> Decimal | bool | str | None:
        supplied = self.clinical.get(name)
        return None if supplied is None else supplied.value

    def number(self, name: str, label: str) -> Decimal | None:
        value = self.raw(name)
        if value is None:
            return None
        number = clinical_number(value)
        if number is None:
            self.problems.append(
                Evidence(name, clinical_text(value), label, None, "expected a number")
            )
        return number

    def boolean(self, name: str, label: str) -> bool:
        value = self.raw(name)
        if not isinstance(value, bool):
            self._wrong_boolean(name, label, value)
            return False
        return value

    def optional_boolean(self, name: str, label: str) -> bool | None:
        value = self.raw(name)
        if value is None or isinstance(value, bool):
            return value
        self._wrong_boolean(name, label, value)
        return None

    def _wrong_boolean(self, name: str, label: str, value: Decimal | bool | str | None) -> None:
        shown = clinical_text(value) if value is not None else None
        self.problems.append(Evidence(name, shown, label, None, "expected yes/no"))


def _read_inputs(
    clinical: Mapping[str, ClinicalValue], fever_label: str, low_flow_max: Decimal
) -> _Inputs | list[Evidence]:
    """The inputs, or the evidence of every malformed one when any input cannot be used."""
    reader = _Reader(clinical)
    temperature = reader.number("temperature_c", fever_label)
    other_cause = reader.boolean(
        "fever_attributable_to_other_cause", "fever not due to another cause"
    )
    therapy = reader.boolean(
        "antipyretic_or_anticytokine_given", "antipyretic or anti-cytokine therapy given"
    )
    crs_diagnosed = reader.optional_boolean(_DIAGNOSED, _DIAGNOSED_LABEL)
    hypotension = reader.boolean("hypotension", "hypotension")
    vasopressin = reader.boolean("vasopressin", "vasopressin given")
    pressors = reader.number(_PRESSORS, _PRESSORS_LABEL)
    if pressors is not None and (pressors < _ZERO or pressors != pressors.to_integral_value()):
        reader.problems.append(
            Evidence(
                _PRESSORS, plain(pressors), _PRESSORS_LABEL, None, "expected a whole number ≥0"
            )
        )
    device = reader.raw("oxygen_device")
    if not isinstance(device, str) or device not in ASTCT_OXYGEN_DEVICES:
        reader.problems.append(
            Evidence(
                "oxygen_device",
                None if device is None else clinical_text(device),
                "oxygen support",
                None,
                f"expected one of {', '.join(ASTCT_OXYGEN_DEVICES)}",
            )
        )
    flow = reader.number("oxygen_flow_l_min", f"high flow (>{plain(low_flow_max)} L/min)")
    if reader.problems or temperature is None or pressors is None or not isinstance(device, str):
        return reader.problems
    return _Inputs(
        temperature=temperature,
        other_cause=other_cause,
        therapy=therapy,
        crs_diagnosed=crs_diagnosed,
        hypotension=hypotension,
        vasopressin=vasopressin,
        pressors=int(pressors),
        device=device,
        flow=flow,
    )


def _fever_evidence(inputs: _Inputs, fever_c: Decimal, fever_label: str) -> list[Evidence]:
    temperature = inputs.temperature
    return [
        Evidence("temperature_c", plain(temperature), fever_label, temperature >= fever_c, ""),
        Evidence(
            "fever_attributable_to_other_cause",
            "attributed to another cause"
            if inputs.other_cause
            else "not attributed to another cause",
            "fever not attributable to another cause",
            not inputs.other_cause,
            "",
        ),
        Evidence(
            "antipyretic_or_anticytokine_given",
            clinical_text(inputs.therapy),
            "antipyretic or anti-cytokine therapy given",
            inputs.therapy,
            "",
        ),
        *(
            ()
            if inputs.crs_diagnosed is None
            else (
                Evidence(
                    _DIAGNOSED,
                    clinical_text(inputs.crs_diagnosed),
                    f"{_DIAGNOSED_LABEL} (then fever is no longer required)",
                    inputs.crs_diagnosed,
                    "",
                ),
            )
        ),
    ]


def _pressure_component(inputs: _Inputs) -> tuple[int, str]:
    """The hypotension component: its grade and the words that say why."""
    count, vasopressin = inputs.pressors, inputs.vasopressin
    if count >= 2:
        return 4, "hypotension needing multiple vasopressors"
    if count == 1 or vasopressin:
        words = "hypotension needing one vasopressor" + (
            " with vasopressin" if count == 1 and vasopressin else ""
        )
        if count == 0:
            words += " (vasopressin)"
        return 3, words
    if inputs.hypotension:
        return 2, "hypotension not needing vasopressors"
    return 0, "no hypotension"


def _pressure_evidence(inputs: _Inputs, pressure_grade: int) -> list[Evidence]:
    hypotension, vasopressin, count = inputs.hypotension, inputs.vasopressin, inputs.pressors
    return [
        Evidence("hypotension", clinical_text(hypotension), "hypotension", hypotension, ""),
        Evidence(
            _PRESSORS,
            str(count),
            _PRESSORS_LABEL,
            count >= 1,
            f"hypotension component: grade {pressure_grade}",
        ),
        Evidence("vasopressin", clinical_text(vasopressin), "vasopressin given", vasopressin, ""),
    ]


def _oxygen_component(inputs: _Inputs, low_flow_max: Decimal) -> tuple[int, str, str]:
    """The hypoxia component: its grade, the words that say why, and a note when a nasal
    cannula's flow grades it rather than the device's label."""
    device, flow = inputs.device, inputs.flow
    oxygen_grade, oxygen_words = ASTCT_OXYGEN_DEVICES[device]
    relabelled = ""
    if device in NASAL_CANNULAS and flow is not None:
        by_flow = 3 if flow > low_flow_max else 2
        if by_flow != oxygen_grade:
            relabelled = f"; graded by the flow {plain(flow)} L/min, not the device label"
        oxygen_grade = by_flow
        oxygen_words = (
            f"high-flow nasal cannula (>{plain(low_flow_max)} L/min)"
            if by_flow == 3
            else f"low-flow nasal cannula (≤{plain(low_flow_max)} L/min)"
        )
    return oxygen_grade, oxygen_words, relabelled


def _oxygen_evidence(
    inputs: _Inputs, low_flow_max: Decimal, oxygen_grade: int, relabelled: str
) -> list[Evidence]:
    device, flow = inputs.device, inputs.flow
    evidence = [
        Evidence(
            "oxygen_device",
            ASTCT_OXYGEN_DEVICES[device][1],
            "oxygen support",
            oxygen_grade > 0,
            f"hypoxia component: grade {oxygen_grade}{relabelled}",
        )
    ]
    if flow is not None:
        evidence.append(
            Evidence(
                "oxygen_flow_l_min",
                plain(flow),
                f"high flow (>{plain(low_flow_max)} L/min)",
                flow > low_flow_max,
                "" if device in NASAL_CANNULAS else "not used for this device",
            )
        )
    return evidence


def _no_fever_reasons(
    inputs: _Inputs, fever_c: Decimal, pressure_grade: int, oxygen_grade: int
) -> str:
    """Why nothing is graded when there is no fever and no waiver of the fever criterion."""
    reasons = [f"no fever ≥{plain(fever_c)} °C"]
    if inputs.therapy:
        reasons.append(
            "antipyretic or anti-cytokine therapy given, but CRS had not been diagnosed before "
            "it (only then is fever no longer required)"
        )
    else:
        reasons.append("no antipyretic or anti-cytokine therapy after a CRS diagnosis")
    if pressure_grade or oxygen_grade:
        reasons.append("hypotension or hypoxia without fever is not graded as CRS")
    return f"fever criterion not met ({'; '.join(reasons)})"


def _drivers(
    grade: int,
    fever: bool,
    pressure: tuple[int, str],
    oxygen: tuple[int, str],
) -> str:
    """The components that set ``grade`` (≥ 1), in words."""
    if grade == 1:
        drivers = "fever only"
    else:
        drivers = " and ".join(
            words for part_grade, words in (pressure, oxygen) if part_grade == grade
        )
    if not fever:
        drivers += (
            "; fever not required: antipyretic or anti-cytokine therapy after CRS was diagnosed"
        )
    return drivers


def evaluate_astct(rule: PatternRule, context: PatternContext) -> Finding:
    """The ASTCT grade (score 1–4) with the evidence of every component; no score when no grade
    is assigned; indeterminate when a clinical input is of the wrong type, or when whether the
    fever criterion is waived depends on an input that was not supplied."""
    fever_c = rule.threshold("fever_c")
    low_flow_max = rule.threshold("low_flow_max_l_min")
    fever_label = f"fever ≥{plain(fever_c)} °C"
    inputs = _read_inputs(context.clinical, fever_label, low_flow_max)
    if isinstance(inputs, list):
        statement = f"{rule.name}: cannot be graded — invalid clinical input(s): " + ", ".join(
            item.input for item in inputs
        )
        return make_finding(rule, FindingStatus.INDETERMINATE, statement, inputs)

    pressure_grade, pressure_words = _pressure_component(inputs)
    oxygen_grade, oxygen_words, relabelled = _oxygen_component(inputs, low_flow_max)
    evidence = [
        *_fever_evidence(inputs, fever_c, fever_label),
        *_pressure_evidence(inputs, pressure_grade),
        *_oxygen_evidence(inputs, low_flow_max, oxygen_grade, relabelled),
    ]
    if inputs.other_cause:
        drivers = (
            "fever criterion not met (the fever is attributed to another cause; a fever "
            "attributed to another cause is never graded as CRS)"
        )
        return _not_assigned(rule, drivers, evidence)
    fever = inputs.temperature >= fever_c
    if not fever and inputs.therapy and inputs.crs_diagnosed is None:
        statement = (
            f"{rule.name}: cannot be graded — no fever ≥{plain(fever_c)} °C after antipyretic "
            "or anti-cytokine therapy, and whether CRS had been diagnosed before that therapy "
            "was not supplied (only then is fever no longer required)"
        )
        return make_finding(
            rule, FindingStatus.INDETERMINATE, statement, evidence, missing_inputs=(_DIAGNOSED,)
        )
    if not fever and not (inputs.therapy and inputs.crs_diagnosed):
        drivers = _no_fever_reasons(inputs, fever_c, pressure_grade, oxygen_grade)
        return _not_assigned(rule, drivers, evidence)

    grade = max(1 if fever else 0, pressure_grade, oxygen_grade)
    if grade == 0:
        drivers = (
            "afebrile after antipyretic or anti-cytokine therapy for diagnosed CRS, with no "
            "hypotension and no oxygen requirement"
        )
        return _not_assigned(rule, drivers, evidence)
    drivers = _drivers(grade, fever, (pressure_grade, pressure_words), (oxygen_grade, oxygen_words))
    statement = rule.statement_met.format_map({"grade": str(grade), "drivers": drivers})
    return make_finding(rule, FindingStatus.MET, statement, evidence, score=Decimal(grade))


def _not_assigned(rule: PatternRule, drivers: str, evidence: list[Evidence]) -> Finding:
    """No grade: the rule's "not met" statement with why; no score (grade 0 is not a grade),
    and no component grades in the evidence (a reader would take them for the CRS grade)."""
    statement = rule.statement_not_met.format_map({"grade": "", "drivers": drivers})
    ungraded = [
        replace(item, note="") if item.note.startswith(_COMPONENT_NOTES) else item
        for item in evidence
    ]
    return make_finding(rule, FindingStatus.NOT_MET, statement, ungraded)
