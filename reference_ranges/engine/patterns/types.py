"""Pattern-rule value types: the rule kinds and operators, rules, inputs, evidence and findings.

Frozen dataclasses and the fixed vocabulary the loader validates against and the evaluators
read. Pure Python: no Django, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from reference_ranges.engine.types import Measurement

CYTOKINE_ONLY_STATEMENT = (
    "cytokine pattern consistent with CRS / cytokine storm — clinical grading required"
)
"""The only words a finding from cytokine / acute-phase values alone may use to suggest CRS."""

UNVERIFIED_SUFFIX = " [unverified criteria]"
"""Appended to the statement of every finding of a rule whose criteria are not verified."""

ANY_OF = "any_of"
COUNT_OF = "count_of"
HSCORE = "hscore"
ASTCT_CRS_GRADE = "astct_crs_grade"
FOLD_RISE = "fold_rise"
PATTERN_KINDS = (ANY_OF, COUNT_OF, HSCORE, ASTCT_CRS_GRADE, FOLD_RISE)

NUMERIC_OPS = (">", ">=", "<", "<=")
EQUALS = "=="
IS_TRUE = "is_true"
CRITERION_OPS = (*NUMERIC_OPS, EQUALS, IS_TRUE)

INPUT_TYPES = ("number", "boolean", "choice")

# The clinical inputs the ASTCT grading reads: name -> type. ``oxygen_flow_l_min`` (it refines
# a nasal-cannula device) and ``crs_diagnosed_before_therapy`` (needed only when an afebrile
# patient had antipyretic or anti-cytokine therapy) are optional; the others are the rule's
# required clinical_inputs.
ASTCT_INPUTS: Mapping[str, str] = {
    "temperature_c": "number",
    "fever_attributable_to_other_cause": "boolean",
    "antipyretic_or_anticytokine_given": "boolean",
    "crs_diagnosed_before_therapy": "boolean",
    "hypotension": "boolean",
    "vasopressors_excluding_vasopressin": "number",
    "vasopressin": "boolean",
    "oxygen_device": "choice",
    "oxygen_flow_l_min": "number",
}
ASTCT_OPTIONAL_INPUTS = frozenset({"oxygen_flow_l_min", "crs_diagnosed_before_therapy"})

# oxygen_device choice -> (hypoxia grade, words in a statement). Lee et al. 2019, Table.
ASTCT_OXYGEN_DEVICES: Mapping[str, tuple[int, str]] = {
    "none": (0, "no oxygen requirement"),
    "low_flow_nasal_cannula": (2, "low-flow nasal cannula"),
    "blow_by": (2, "blow-by oxygen"),
    "high_flow_nasal_cannula": (3, "high-flow nasal cannula"),
    "facemask": (3, "facemask oxygen"),
    "non_rebreather": (3, "non-rebreather mask"),
    "venturi": (3, "Venturi mask"),
    "cpap": (4, "positive pressure (CPAP)"),
    "bipap": (4, "positive pressure (BiPAP)"),
    "mechanical_ventilation": (4, "positive pressure (mechanical ventilation)"),
}
NASAL_CANNULAS = frozenset({"low_flow_nasal_cannula", "high_flow_nasal_cannula"})


class FindingStatus(StrEnum):
    """The outcome of one rule for one panel.

    ``INDETERMINATE``: a censored value, a unit mismatch or missing data prevents deciding.
    ``NOT_EVALUATED``: inputs the rule needs before it can say anything were not supplied
    (clinical inputs of a score or grade, a baseline for a fold rise, or none of its inputs).
    A disabled rule yields no finding at all.
    """

    MET = "met"
    NOT_MET = "not_met"
    INDETERMINATE = "indeterminate"
    NOT_EVALUATED = "not_evaluated"


class PatternRuleError(ValueError):
    """A pattern rule document is malformed; the message names the rule id and the field."""

    def __init__(self, rule_id: str | None, field: str, message: str) -> None:
        self.rule_id = rule_id
        self.field = field
        owner = f"pattern rule {rule_id}" if rule_id else "pattern rules document"
        super().__init__(f"{owner}: {field}: {message}")


# --------------------------------------------------------------------------------------------
# Rule and input types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Criterion:
    """One comparison of one input with one published value.

    ``input`` is an analyte catalogue code ("IL6") when ``unit`` is set, and a clinical input
    name ("temperature_c") when ``unit`` is ``None``. ``op`` is one of ``>``, ``>=``, ``<``,
    ``<=`` (``value`` a Decimal), ``==`` (``value`` a bool or a choice string) or ``is_true``
    (``value`` True). An analyte criterion judges only results reported in ``unit``.
    ``points``: in an ``hscore`` rule, the points the criterion scores (each input scores the
    highest points among its satisfied criteria); in a ``count_of`` rule, ``None`` for a criterion
    that counts once, or a number ≥ ``required_count`` for a criterion sufficient on its own
    (HLH-2004's molecular diagnosis).
    """

    input: str
    op: str
    value: Decimal | bool | str
    unit: str | None
    label: str
    points: int | None = None

    @property
    def is_analyte(self) -> bool:
        return self.unit is not None


@dataclass(frozen=True, slots=True)
class PatternRule:
    """A published criterion set, as data. See the header of ``pattern_rules.yaml``."""

    id: str
    version: str
    name: str
    kind: str
    criteria: tuple[Criterion, ...]
    required_count: int | None
    thresholds: tuple[tuple[str, Decimal], ...]
    statement_met: str
    statement_not_met: str
    citation: str
    verified: bool
    verification_note: str
    enabled: bool
    clinical_inputs: tuple[str, ...]
    cytokine_only: bool
    logic: str = ""

    def threshold(self, name: str) -> Decimal:
        for key, value in self.thresholds:
            if key == name:
                return value
        raise PatternRuleError(self.id, "thresholds", f"missing {name!r}")


@dataclass(frozen=True, slots=True)
class ClinicalInputSpec:
    """A clinical input a rule may read: its type, unit, choices and limits (for validation),
    and ``label``, the input in a clinician's words as reports print it."""

    name: str
    type: str
    unit: str | None
    choices: tuple[str, ...]
    integer: bool
    minimum: Decimal | None
    maximum: Decimal | None
    description: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class ClinicalValue:
    """A clinical input supplied with the panel: a Decimal, a bool or a choice string.

    A plain ``int`` is accepted as a number too (counts); a float never is.
    """

    name: str
    value: Decimal | bool | str


@dataclass(frozen=True, slots=True)
class SerialPoint:
    """One panel of a patient's series: its key, collection time, measurements, the specimen
    type they were measured on, and whether the lab marked the panel as a baseline."""

    panel_key: str
    collected_at: datetime
    measurements: tuple[Measurement, ...]
    specimen_type: str
    is_marked_baseline: bool = False


@dataclass(frozen=True, slots=True)
class PatternContext:
    """Everything a rule may read.

    ``clinical`` maps input name to value (empty when no clinical inputs came with the panel);
    ``history`` holds earlier panels of the same patient, oldest first, the current excluded;
    ``baseline`` is the panel fold rises are measured from (e.g. pre-infusion);
    ``analyte_notes`` maps an analyte code to what a reader must know about its value, in
    words (IL-6 measured after tocilizumab, which raises it artefactually): every finding that
    judges that analyte carries the note in its evidence and its statement.
    """

    measurements: tuple[Measurement, ...]
    clinical: Mapping[str, ClinicalValue]
    history: tuple[SerialPoint, ...]
    baseline: SerialPoint | None
    age_years: int | None
    analyte_notes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evidence:
    """How one input fared against one criterion.

    ``value_text`` is the input as reported (">5000 pg/mL", "39.2", "yes"), ``None`` when it was
    not supplied; ``satisfied`` is ``None`` when it cannot be decided; ``note`` says why, or how a
    censored result was judged.
    """

    input: str
    value_text: str | None
    criterion: str
    satisfied: bool | None
    note: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's conclusion for one panel, with the evidence and provenance to audit it.

    ``score`` is the HScore (``None`` when a censored input leaves it a range) or the ASTCT grade
    (1–4; ``None`` when no grade is assigned); ``None`` for other kinds. ``missing_inputs``
    lists the inputs that were not supplied.
    """

    rule_id: str
    rule_version: str
    name: str
    status: FindingStatus
    statement: str
    evidence: tuple[Evidence, ...]
    citation: str
    verified: bool
    verification_note: str
    score: Decimal | None
    missing_inputs: tuple[str, ...]
