"""Pattern rules: published CRS, cytokine-storm and HLH criteria, evaluated from data.

A pattern rule is data (``reference_ranges/seed/pattern_rules.yaml``): its inputs, thresholds,
logic (one of a few *kinds*), citation, whether its criteria were verified in the source, and
whether it ships enabled. :func:`load_pattern_rules` builds and validates rules from the parsed
document; :func:`evaluate_patterns` judges one panel (plus optional clinical inputs, earlier
panels and a baseline) against the enabled rules and returns one :class:`Finding` per rule, with
the evidence a lab needs to audit it.

Principles, enforced here rather than left to review:

* Thresholds are compared exactly as published (``>`` and ``≥`` differ), never rounded, and
  units are never converted: a result in another unit than the criterion's leaves the criterion
  undecided, with a reason naming both units.
* A censored result ("<2", ">5000") is never used as a number. It decides a criterion only when
  every value it can stand for would decide it the same way (">5000" is above 80; "<100" may or
  may not be); otherwise the criterion is undecided.
* Cytokine values alone never yield a CRS grade: only the ``astct_crs_grade`` kind may state a
  grade, and it reads clinical inputs only. A finding from cytokines alone is worded exactly
  :data:`CYTOKINE_ONLY_STATEMENT`.
* Unverified rules are marked in every finding they produce (``verified`` and the statement).
* Nothing here reads a clock or imports a framework: times and values are passed in.

Speed: findings and judgements are immutable, so a rule remembers them (bounded, per rule
object) by exactly what they are computed from: which of its clinical inputs were supplied and
their values with their types ("39.0" is not "39", ``True`` is not ``1``), and the results of
the analytes it names (value as written, comparator, unit, in order). ``fold_rise`` also reads
the baseline and is never remembered. Purely caches: ``tests/engine/test_fast_paths.py``
compares them with the plain evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Context, Decimal, InvalidOperation
from enum import StrEnum

from reference_ranges.engine.types import Comparator, Measurement

__all__ = [
    "ASTCT_INPUTS",
    "ASTCT_OXYGEN_DEVICES",
    "CYTOKINE_ONLY_STATEMENT",
    "PATTERN_KINDS",
    "UNVERIFIED_SUFFIX",
    "ClinicalInputSpec",
    "ClinicalValue",
    "Criterion",
    "Evidence",
    "Finding",
    "FindingStatus",
    "PatternContext",
    "PatternRule",
    "PatternRuleError",
    "SerialPoint",
    "check_clinical_value",
    "evaluate_patterns",
    "load_clinical_inputs",
    "load_pattern_rules",
]

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

# The clinical inputs the ASTCT grading reads: name -> type. ``oxygen_flow_l_min`` is optional
# (it refines a nasal-cannula device); the others are the rule's required clinical_inputs.
ASTCT_INPUTS: Mapping[str, str] = {
    "temperature_c": "number",
    "fever_attributable_to_other_cause": "boolean",
    "antipyretic_or_anticytokine_given": "boolean",
    "hypotension": "boolean",
    "vasopressors_excluding_vasopressin": "number",
    "vasopressin": "boolean",
    "oxygen_device": "choice",
    "oxygen_flow_l_min": "number",
}
_ASTCT_OPTIONAL = frozenset({"oxygen_flow_l_min"})

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
_NASAL_CANNULAS = frozenset({"low_flow_nasal_cannula", "high_flow_nasal_cannula"})

# Placeholders each kind may use in statement_met / statement_not_met ({name}).
_PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    ANY_OF: frozenset({"met_labels"}),
    COUNT_OF: frozenset({"met", "total", "undecided", "met_labels"}),
    HSCORE: frozenset({"score", "cutoff"}),
    ASTCT_CRS_GRADE: frozenset({"grade", "drivers"}),
    FOLD_RISE: frozenset({"met", "total", "undecided", "met_labels"}),
}
# Named thresholds each kind requires / accepts.
_REQUIRED_THRESHOLDS: Mapping[str, frozenset[str]] = {
    ANY_OF: frozenset(),
    COUNT_OF: frozenset(),
    HSCORE: frozenset({"cutoff"}),
    ASTCT_CRS_GRADE: frozenset({"fever_c", "low_flow_max_l_min"}),
    FOLD_RISE: frozenset({"fold_change_one_cytokine"}),
}
_OPTIONAL_THRESHOLDS: Mapping[str, frozenset[str]] = {
    ANY_OF: frozenset(),
    COUNT_OF: frozenset(),
    HSCORE: frozenset({"max_score"}),
    ASTCT_CRS_GRADE: frozenset(),
    FOLD_RISE: frozenset(),
}

_RULE_KEYS = frozenset(
    {
        "id",
        "version",
        "name",
        "kind",
        "enabled",
        "verified",
        "verification_note",
        "citation",
        "cytokine_only",
        "clinical_inputs",
        "required_count",
        "thresholds",
        "logic",
        "criteria",
        "statement_met",
        "statement_not_met",
    }
)
_CRITERION_KEYS = frozenset({"input", "op", "value", "unit", "label", "points"})
_INPUT_KEYS = frozenset({"name", "type", "unit", "choices", "integer", "min", "max", "description"})
_DOCUMENT_KEYS = frozenset({"format_version", "clinical_inputs", "rules"})
_FORMAT_VERSION = 1

_ZERO = Decimal(0)
# Products of two reported values are computed exactly (a product has at most the sum of both
# operands' digits); 100 digits is far beyond any reported value.
_EXACT = Context(prec=100)
# Fold changes shown in evidence: 6 significant digits. Decisions never use this rounded value.
_FOLD_DISPLAY = Context(prec=6)


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
    """A clinical input a rule may read: its type, unit, choices and limits (for validation)."""

    name: str
    type: str
    unit: str | None
    choices: tuple[str, ...]
    integer: bool
    minimum: Decimal | None
    maximum: Decimal | None
    description: str


@dataclass(frozen=True, slots=True)
class ClinicalValue:
    """A clinical input supplied with the panel: a Decimal, a bool or a choice string.

    A plain ``int`` is accepted as a number too (counts); a float never is.
    """

    name: str
    value: Decimal | bool | str


@dataclass(frozen=True, slots=True)
class SerialPoint:
    """One panel of a patient's series: its key, collection time and measurements."""

    panel_key: str
    collected_at: datetime
    measurements: tuple[Measurement, ...]


@dataclass(frozen=True, slots=True)
class PatternContext:
    """Everything a rule may read.

    ``clinical`` maps input name to value (empty when no clinical inputs came with the panel);
    ``history`` holds earlier panels of the same patient, oldest first, the current excluded;
    ``baseline`` is the panel fold rises are measured from (e.g. pre-infusion).
    """

    measurements: tuple[Measurement, ...]
    clinical: Mapping[str, ClinicalValue]
    history: tuple[SerialPoint, ...]
    baseline: SerialPoint | None
    age_years: int | None


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
    (0–4); ``None`` for other kinds. ``missing_inputs`` lists the inputs that were not supplied.
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


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _mapping(value: object, rule_id: str | None, field: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise PatternRuleError(rule_id, field, "must be a mapping with text keys")
    return value


def _sequence(value: object, rule_id: str | None, field: str) -> Sequence[object]:
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise PatternRuleError(rule_id, field, "must be a list")
    return value


def _text(
    raw: Mapping[str, object], key: str, rule_id: str | None, field: str, *, required: bool = True
) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise PatternRuleError(rule_id, field, "must be non-empty text")
    return value.strip()


def _item_text(value: object, rule_id: str | None, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PatternRuleError(rule_id, field, "must be non-empty text")
    return value.strip()


def _flag(raw: Mapping[str, object], key: str, rule_id: str | None, field: str) -> bool:
    value = raw.get(key)
    if not isinstance(value, bool):
        raise PatternRuleError(rule_id, field, "must be true or false")
    return value


def _decimal(value: object, rule_id: str | None, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise PatternRuleError(rule_id, field, "must be a number")
    if isinstance(value, float):
        raise PatternRuleError(
            rule_id, field, f"write {value!r} as quoted text (e.g. '{value!r}') so it is exact"
        )
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise PatternRuleError(rule_id, field, f"{value!r} is not a number") from None
    else:
        raise PatternRuleError(rule_id, field, "must be a number")
    if not number.is_finite():
        raise PatternRuleError(rule_id, field, "must be a finite number")
    return number


def _integer(value: object, rule_id: str | None, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PatternRuleError(rule_id, field, "must be a whole number")
    return value


def _check_keys(
    raw: Mapping[str, object], allowed: frozenset[str], rule_id: str | None, field: str
) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise PatternRuleError(rule_id, field, f"unknown key(s) {', '.join(unknown)}")


def _is_identifier(name: str) -> bool:
    return bool(name) and name[0].isalpha() and all(c.isalnum() or c == "_" for c in name)


def _is_analyte_code(name: str) -> bool:
    return _is_identifier(name) and name == name.upper()


def _words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() else " " for c in text).split()


def _parse_input(raw_value: object, index: int) -> ClinicalInputSpec:
    field = f"clinical_inputs[{index}]"
    raw = _mapping(raw_value, None, field)
    _check_keys(raw, _INPUT_KEYS, None, field)
    name = _text(raw, "name", None, f"{field}.name")
    if not _is_identifier(name) or name != name.lower():
        raise PatternRuleError(None, f"{field}.name", f"{name!r} must be lower_snake_case")
    kind = _text(raw, "type", None, f"clinical input {name}.type")
    if kind not in INPUT_TYPES:
        raise PatternRuleError(
            None, f"clinical input {name}.type", f"must be one of {', '.join(INPUT_TYPES)}"
        )
    choices = tuple(
        _item_text(c, None, f"clinical input {name}.choices")
        for c in _sequence(raw.get("choices"), None, f"clinical input {name}.choices")
    )
    if (kind == "choice") != bool(choices) or len(set(choices)) != len(choices):
        raise PatternRuleError(
            None,
            f"clinical input {name}.choices",
            "a choice input needs distinct choices; other types take none",
        )
    integer = raw.get("integer", False)
    if not isinstance(integer, bool) or (integer and kind != "number"):
        raise PatternRuleError(None, f"clinical input {name}.integer", "true only for a number")
    limits: list[Decimal | None] = []
    for key in ("min", "max"):
        value = raw.get(key)
        if value is not None and kind != "number":
            raise PatternRuleError(None, f"clinical input {name}.{key}", "only for a number")
        limits.append(
            None if value is None else _decimal(value, None, f"clinical input {name}.{key}")
        )
    unit = _text(raw, "unit", None, f"clinical input {name}.unit", required=False) or None
    return ClinicalInputSpec(
        name=name,
        type=kind,
        unit=unit,
        choices=choices,
        integer=integer,
        minimum=limits[0],
        maximum=limits[1],
        description=_text(raw, "description", None, f"clinical input {name}.description"),
    )


def _document(document: Mapping[str, object]) -> Mapping[str, object]:
    raw = _mapping(document, None, "document")
    _check_keys(raw, _DOCUMENT_KEYS, None, "document")
    if raw.get("format_version", _FORMAT_VERSION) != _FORMAT_VERSION:
        raise PatternRuleError(None, "format_version", f"must be {_FORMAT_VERSION}")
    return raw


def load_clinical_inputs(document: Mapping[str, object]) -> tuple[ClinicalInputSpec, ...]:
    """The ``clinical_inputs`` vocabulary of a pattern rules document, validated, in order."""
    raw = _document(document)
    specs = tuple(
        _parse_input(item, index)
        for index, item in enumerate(_sequence(raw.get("clinical_inputs"), None, "clinical_inputs"))
    )
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PatternRuleError(
            None, "clinical_inputs", f"duplicate name(s) {', '.join(duplicates)}"
        )
    return specs


def check_clinical_value(spec: ClinicalInputSpec, value: Decimal | bool | str) -> str | None:
    """Return why ``value`` is not acceptable for ``spec``, or ``None`` when it is."""
    if spec.type == "boolean":
        return None if isinstance(value, bool) else f"{spec.name} must be true or false"
    if spec.type == "choice":
        if isinstance(value, str) and value in spec.choices:
            return None
        return f"{spec.name} must be one of {', '.join(spec.choices)}"
    number = _clinical_number(value)
    if number is None:
        return f"{spec.name} must be a number"
    if spec.integer and number != number.to_integral_value():
        return f"{spec.name} must be a whole number"
    if spec.minimum is not None and number < spec.minimum:
        return f"{spec.name} must be at least {_number(spec.minimum)}"
    if spec.maximum is not None and number > spec.maximum:
        return f"{spec.name} must be at most {_number(spec.maximum)}"
    return None


def _parse_criterion(
    raw_value: object,
    index: int,
    rule_id: str,
    kind: str,
    inputs: Mapping[str, ClinicalInputSpec],
) -> Criterion:
    field = f"criteria[{index}]"
    raw = _mapping(raw_value, rule_id, field)
    _check_keys(raw, _CRITERION_KEYS, rule_id, field)
    name = _text(raw, "input", rule_id, f"{field}.input")
    op = _text(raw, "op", rule_id, f"{field}.op")
    if op not in CRITERION_OPS:
        raise PatternRuleError(rule_id, f"{field}.op", f"must be one of {', '.join(CRITERION_OPS)}")
    label = _text(raw, "label", rule_id, f"{field}.label")
    unit = _text(raw, "unit", rule_id, f"{field}.unit", required=False) or None
    raw_points = raw.get("points")
    points = None if raw_points is None else _integer(raw_points, rule_id, f"{field}.points")
    spec = inputs.get(name)
    value: Decimal | bool | str
    if spec is None:
        # An analyte result.
        if not _is_analyte_code(name):
            raise PatternRuleError(
                rule_id,
                f"{field}.input",
                f"{name!r} is neither a declared clinical input nor an analyte code (UPPERCASE)",
            )
        if unit is None:
            raise PatternRuleError(
                rule_id, f"{field}.unit", f"analyte criterion on {name} needs the unit it is in"
            )
        if op not in NUMERIC_OPS:
            raise PatternRuleError(rule_id, f"{field}.op", "an analyte criterion compares numbers")
        value = _decimal(raw.get("value"), rule_id, f"{field}.value")
    else:
        if unit is not None:
            raise PatternRuleError(
                rule_id,
                f"{field}.unit",
                f"{name} is a clinical input: its unit is declared in clinical_inputs",
            )
        if kind == FOLD_RISE:
            raise PatternRuleError(rule_id, f"{field}.input", "fold_rise criteria are analytes")
        if spec.type == "number":
            if op not in NUMERIC_OPS:
                raise PatternRuleError(rule_id, f"{field}.op", f"{name} is a number")
            value = _decimal(raw.get("value"), rule_id, f"{field}.value")
        elif spec.type == "boolean":
            if op not in (IS_TRUE, EQUALS):
                raise PatternRuleError(rule_id, f"{field}.op", f"{name} is true/false")
            flag = raw.get("value", True)
            if not isinstance(flag, bool) or (op == IS_TRUE and flag is not True):
                raise PatternRuleError(
                    rule_id, f"{field}.value", "is_true takes no value; == takes true or false"
                )
            value = flag
        else:
            choice = raw.get("value")
            if op != EQUALS or not isinstance(choice, str) or choice not in spec.choices:
                raise PatternRuleError(
                    rule_id,
                    f"{field}.value",
                    f"{name} is compared with == and one of {', '.join(spec.choices)}",
                )
            value = choice
    if kind == HSCORE:
        if points is None or points <= 0:
            raise PatternRuleError(rule_id, f"{field}.points", "an hscore criterion scores points")
    elif kind != COUNT_OF and points is not None:
        raise PatternRuleError(rule_id, f"{field}.points", f"not used by {kind}")
    return Criterion(input=name, op=op, value=value, unit=unit, label=label, points=points)


def _check_statement(rule_id: str, kind: str, field: str, text: str) -> None:
    allowed = _PLACEHOLDERS[kind]
    try:
        text.format_map(dict.fromkeys(allowed, "x"))
    except (KeyError, IndexError, ValueError, AttributeError) as error:
        raise PatternRuleError(
            rule_id,
            field,
            f"bad placeholder {error}; {kind} allows "
            f"{', '.join('{' + name + '}' for name in sorted(allowed)) or 'none'} "
            "(write literal braces as {{ }})",
        ) from None
    if kind != ASTCT_CRS_GRADE and "grade" in _words(text):
        raise PatternRuleError(
            rule_id, field, "only an astct_crs_grade rule may state a grade (cytokines never do)"
        )


def _parse_rule(
    raw_value: object, index: int, inputs: Mapping[str, ClinicalInputSpec]
) -> PatternRule:
    raw = _mapping(raw_value, None, f"rules[{index}]")
    rule_id = _text(raw, "id", None, f"rules[{index}].id")
    if not _is_analyte_code(rule_id):
        raise PatternRuleError(rule_id, "id", "must be UPPER_SNAKE_CASE")
    _check_keys(raw, _RULE_KEYS, rule_id, "rule")
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        raise PatternRuleError(rule_id, "version", 'must be quoted text, e.g. "2026.1"')
    kind = _text(raw, "kind", rule_id, "kind")
    if kind not in PATTERN_KINDS:
        raise PatternRuleError(rule_id, "kind", f"must be one of {', '.join(PATTERN_KINDS)}")

    clinical_inputs = tuple(
        _item_text(item, rule_id, "clinical_inputs")
        for item in _sequence(raw.get("clinical_inputs"), rule_id, "clinical_inputs")
    )
    for name in clinical_inputs:
        if name not in inputs:
            raise PatternRuleError(rule_id, "clinical_inputs", f"{name} is not declared")
    if len(set(clinical_inputs)) != len(clinical_inputs):
        raise PatternRuleError(rule_id, "clinical_inputs", "lists an input twice")

    criteria = tuple(
        _parse_criterion(item, position, rule_id, kind, inputs)
        for position, item in enumerate(_sequence(raw.get("criteria"), rule_id, "criteria"))
    )

    thresholds_raw = _mapping(raw.get("thresholds") or {}, rule_id, "thresholds")
    required_names = _REQUIRED_THRESHOLDS[kind]
    allowed_names = required_names | _OPTIONAL_THRESHOLDS[kind]
    unknown = sorted(set(thresholds_raw) - allowed_names)
    missing = sorted(required_names - set(thresholds_raw))
    if unknown or missing:
        raise PatternRuleError(
            rule_id,
            "thresholds",
            f"{kind} needs {', '.join(sorted(required_names)) or 'none'}"
            f" and accepts {', '.join(sorted(allowed_names)) or 'none'}",
        )
    thresholds = tuple(
        (name, _decimal(value, rule_id, f"thresholds.{name}"))
        for name, value in thresholds_raw.items()
    )

    raw_required = raw.get("required_count")
    required_count = (
        None if raw_required is None else _integer(raw_required, rule_id, "required_count")
    )
    _check_kind_shape(rule_id, kind, criteria, required_count, dict(thresholds), clinical_inputs)

    has_clinical = bool(clinical_inputs) or any(not c.is_analyte for c in criteria)
    expected_cytokine_only = kind in (ANY_OF, COUNT_OF, FOLD_RISE) and not has_clinical
    cytokine_only = _flag(raw, "cytokine_only", rule_id, "cytokine_only")
    if cytokine_only != expected_cytokine_only:
        raise PatternRuleError(
            rule_id,
            "cytokine_only",
            f"must be {str(expected_cytokine_only).lower()}: it is true exactly when every "
            "input is an analyte result",
        )

    statement_met = _text(raw, "statement_met", rule_id, "statement_met")
    statement_not_met = _text(raw, "statement_not_met", rule_id, "statement_not_met")
    _check_statement(rule_id, kind, "statement_met", statement_met)
    _check_statement(rule_id, kind, "statement_not_met", statement_not_met)
    if cytokine_only:
        words = " ".join(_words(statement_met))
        if statement_met != CYTOKINE_ONLY_STATEMENT and any(
            term in f" {words} " for term in (" crs ", " cytokine storm ", " cytokine release ")
        ):
            raise PatternRuleError(
                rule_id,
                "statement_met",
                f"a cytokine-only finding suggesting CRS must read exactly "
                f"{CYTOKINE_ONLY_STATEMENT!r}",
            )

    return PatternRule(
        id=rule_id,
        version=version.strip(),
        name=_text(raw, "name", rule_id, "name"),
        kind=kind,
        criteria=criteria,
        required_count=required_count,
        thresholds=thresholds,
        statement_met=statement_met,
        statement_not_met=statement_not_met,
        citation=_text(raw, "citation", rule_id, "citation"),
        verified=_flag(raw, "verified", rule_id, "verified"),
        verification_note=_text(raw, "verification_note", rule_id, "verification_note"),
        enabled=_flag(raw, "enabled", rule_id, "enabled"),
        clinical_inputs=clinical_inputs,
        cytokine_only=cytokine_only,
        logic=_text(raw, "logic", rule_id, "logic", required=False),
    )


def _check_kind_shape(
    rule_id: str,
    kind: str,
    criteria: tuple[Criterion, ...],
    required_count: int | None,
    thresholds: Mapping[str, Decimal],
    clinical_inputs: tuple[str, ...],
) -> None:
    takes_count = kind in (COUNT_OF, FOLD_RISE)
    if takes_count != (required_count is not None):
        raise PatternRuleError(
            rule_id, "required_count", f"{'required' if takes_count else 'not used'} for {kind}"
        )
    if kind == ASTCT_CRS_GRADE:
        if criteria:
            raise PatternRuleError(
                rule_id, "criteria", "the ASTCT grade table is built in; it reads no analyte"
            )
        required = set(ASTCT_INPUTS) - _ASTCT_OPTIONAL
        if set(clinical_inputs) != required:
            raise PatternRuleError(
                rule_id, "clinical_inputs", f"must be exactly {', '.join(sorted(required))}"
            )
        return
    if not criteria:
        raise PatternRuleError(rule_id, "criteria", f"{kind} needs at least one criterion")
    if required_count is not None:
        counted = [c for c in criteria if c.points is None]
        if not 1 <= required_count <= len(counted):
            raise PatternRuleError(
                rule_id, "required_count", f"must be between 1 and {len(counted)}"
            )
        for position, criterion in enumerate(criteria):
            if criterion.points is not None and criterion.points < required_count:
                raise PatternRuleError(
                    rule_id,
                    f"criteria[{position}].points",
                    "in count_of, points mark a criterion sufficient on its own "
                    f"(at least required_count {required_count})",
                )
    if kind == FOLD_RISE:
        for position, criterion in enumerate(criteria):
            if not isinstance(criterion.value, Decimal) or criterion.value <= _ZERO:
                raise PatternRuleError(
                    rule_id, f"criteria[{position}].value", "a fold change must be positive"
                )
        if clinical_inputs:
            raise PatternRuleError(rule_id, "clinical_inputs", "fold_rise reads analytes only")
    if kind == HSCORE:
        maximum = _hscore_maximum(criteria)
        stated = thresholds.get("max_score")
        if stated is not None and stated != maximum:
            raise PatternRuleError(
                rule_id, "thresholds.max_score", f"is {stated} but the criteria sum to {maximum}"
            )


def _hscore_maximum(criteria: Sequence[Criterion]) -> int:
    best: dict[str, int] = {}
    for criterion in criteria:
        best[criterion.input] = max(best.get(criterion.input, 0), criterion.points or 0)
    return sum(best.values())


def load_pattern_rules(document: Mapping[str, object]) -> tuple[PatternRule, ...]:
    """Build the rules of a parsed pattern rules document (see ``pattern_rules.yaml``).

    Validates every field (kinds, operators, value types against the clinical input vocabulary,
    thresholds each kind needs, statement placeholders, the cytokine-only wording, that only a
    grading rule states a grade) and raises :class:`PatternRuleError` naming the rule id and
    field on the first problem. Rules keep document order. Disabled rules are returned too.
    """
    raw = _document(document)
    inputs = {spec.name: spec for spec in load_clinical_inputs(document)}
    for name, kind in ASTCT_INPUTS.items():
        spec = inputs.get(name)
        if spec is not None and spec.type != kind:
            raise PatternRuleError(None, f"clinical input {name}.type", f"must be {kind}")
    device = inputs.get("oxygen_device")
    if device is not None and set(device.choices) != set(ASTCT_OXYGEN_DEVICES):
        raise PatternRuleError(
            None,
            "clinical input oxygen_device.choices",
            f"must be exactly {', '.join(ASTCT_OXYGEN_DEVICES)}",
        )
    rules = tuple(
        _parse_rule(item, index, inputs)
        for index, item in enumerate(_sequence(raw.get("rules"), None, "rules"))
    )
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise PatternRuleError(rule.id, "id", "appears twice")
        seen.add(rule.id)
        if rule.kind == ASTCT_CRS_GRADE:
            absent = sorted(name for name in ASTCT_INPUTS if name not in inputs)
            if absent:
                raise PatternRuleError(
                    rule.id, "clinical_inputs", f"undeclared input(s) {', '.join(absent)}"
                )
    return rules


# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------

_COMPARATOR_TEXT = {
    Comparator.EQ: "",
    Comparator.LT: "<",
    Comparator.LE: "≤",
    Comparator.GT: ">",
    Comparator.GE: "≥",
}
_OP_TEXT = {">": ">", ">=": "≥", "<": "<", "<=": "≤"}


def _number(value: Decimal) -> str:
    text = str(value)
    return format(value, "f") if "E" in text else text


def _measurement_text(measurement: Measurement) -> str:
    comparator = _COMPARATOR_TEXT[measurement.comparator]
    return f"{comparator}{_number(measurement.value)} {measurement.unit}".strip()


# The values a result can stand for: (low, low_closed, high, high_closed); None is unbounded.
_Span = tuple[Decimal | None, bool, Decimal | None, bool]


def _span(measurement: Measurement) -> _Span | None:
    """Concentrations are never negative: "<0" stands for nothing (``None``)."""
    value, comparator = measurement.value, measurement.comparator
    if comparator is Comparator.EQ:
        return (value, True, value, True)
    if comparator is Comparator.LT:
        return (_ZERO, True, value, False) if value > _ZERO else None
    if comparator is Comparator.LE:
        return (_ZERO, True, value, True) if value >= _ZERO else None
    if value < _ZERO:
        return (_ZERO, True, None, False)
    return (value, comparator is Comparator.GE, None, False)


def _span_satisfies(span: _Span, op: str, threshold: Decimal) -> bool | None:
    """True if every value of the span satisfies ``x op threshold``, False if none does."""
    low, low_closed, high, high_closed = span
    if op == ">":
        every = low is not None and (low > threshold or (low == threshold and not low_closed))
        none = high is not None and high <= threshold
    elif op == ">=":
        every = low is not None and low >= threshold
        none = high is not None and (high < threshold or (high == threshold and not high_closed))
    elif op == "<":
        every = high is not None and (high < threshold or (high == threshold and not high_closed))
        none = low is not None and low >= threshold
    else:
        every = high is not None and high <= threshold
        none = low is not None and (low > threshold or (low == threshold and not low_closed))
    if every:
        return True
    if none:
        return False
    return None


def _exact_satisfies(value: Decimal, op: str, threshold: Decimal) -> bool:
    if op == ">":
        return value > threshold
    if op == ">=":
        return value >= threshold
    if op == "<":
        return value < threshold
    return value <= threshold


def _judge_measurement(
    measurement: Measurement, op: str, threshold: Decimal
) -> tuple[bool | None, str]:
    if not measurement.value.is_finite():
        return None, "not a finite number"
    span = _span(measurement)
    if span is None:
        return None, "no concentration is possible (concentrations are never negative)"
    result = _span_satisfies(span, op, threshold)
    if measurement.comparator is Comparator.EQ:
        return result, ""
    if result is True:
        return True, "censored result: every value it can stand for meets the criterion"
    if result is False:
        return False, "censored result: no value it can stand for meets the criterion"
    return None, "censored result: may or may not meet the criterion"


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def _threshold_of(criterion: Criterion) -> Decimal:
    if not isinstance(criterion.value, Decimal) or isinstance(criterion.value, bool):
        raise PatternRuleError(None, f"criterion {criterion.label!r}", "value must be a number")
    return criterion.value


def _required_count(rule: PatternRule) -> int:
    if rule.required_count is None:
        raise PatternRuleError(rule.id, "required_count", f"required for {rule.kind}")
    return rule.required_count


@dataclass(frozen=True, slots=True)
class _Judgement:
    criterion: Criterion
    evidence: Evidence
    present: bool

    @property
    def satisfied(self) -> bool | None:
        return self.evidence.satisfied


_Index = Mapping[str, Sequence[Measurement]]


def _index(measurements: Sequence[Measurement]) -> _Index:
    grouped: dict[str, list[Measurement]] = {}
    for measurement in measurements:
        analyte = measurement.analyte
        same = grouped.get(analyte)
        if same is None:
            grouped[analyte] = [measurement]
        else:
            same.append(measurement)
    return grouped


def _clinical_number(value: object) -> Decimal | None:
    """A clinical number: a finite Decimal, or an int (counts), never a bool or a float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None


def _clinical_text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = _clinical_number(value)
    if number is not None:
        return _number(number)
    return str(value)


def _judge_analyte(criterion: Criterion, index: _Index) -> _Judgement:
    reported = index.get(criterion.input, ())
    if not reported:
        evidence = Evidence(criterion.input, None, criterion.label, None, "not measured")
        return _Judgement(criterion, evidence, present=False)
    texts = "; ".join(sorted(_measurement_text(m) for m in reported))
    in_unit = [m for m in reported if m.unit == criterion.unit]
    if not in_unit:
        units = ", ".join(sorted({m.unit for m in reported}))
        note = f"reported in {units}; criterion is defined in {criterion.unit}"
        return _Judgement(
            criterion, Evidence(criterion.input, texts, criterion.label, None, note), True
        )
    threshold = _threshold_of(criterion)
    results = {_judge_measurement(m, criterion.op, threshold) for m in in_unit}
    if len(results) == 1:
        satisfied, note = next(iter(results))
    elif len({satisfied for satisfied, _ in results}) == 1:
        satisfied = next(iter(results))[0]
        note = f"reported {len(in_unit)} times in {criterion.unit}; all agree"
    else:
        satisfied = None
        note = f"reported {len(in_unit)} times in {criterion.unit} with conflicting results"
    return _Judgement(
        criterion, Evidence(criterion.input, texts, criterion.label, satisfied, note), True
    )


def _judge_clinical(criterion: Criterion, clinical: Mapping[str, ClinicalValue]) -> _Judgement:
    supplied = clinical.get(criterion.input)
    if supplied is None:
        evidence = Evidence(criterion.input, None, criterion.label, None, "not supplied")
        return _Judgement(criterion, evidence, present=False)
    value = supplied.value
    text = _clinical_text(value)
    satisfied: bool | None
    note = ""
    if criterion.op in NUMERIC_OPS:
        number = _clinical_number(value)
        if number is None:
            satisfied, note = None, "expected a number"
        else:
            satisfied = _exact_satisfies(number, criterion.op, _threshold_of(criterion))
    elif criterion.op == IS_TRUE:
        satisfied, note = (value, "") if isinstance(value, bool) else (None, "expected yes/no")
    elif isinstance(criterion.value, bool):
        if isinstance(value, bool):
            satisfied = value is criterion.value
        else:
            satisfied, note = None, "expected yes/no"
    elif isinstance(value, str):
        satisfied = value == criterion.value
    else:
        satisfied, note = None, "expected a choice"
    evidence = Evidence(criterion.input, text, criterion.label, satisfied, note)
    return _Judgement(criterion, evidence, present=True)


def _judge(criterion: Criterion, context: PatternContext, index: _Index) -> _Judgement:
    if criterion.is_analyte:
        return _judge_analyte(criterion, index)
    return _judge_clinical(criterion, context.clinical)


def _missing(judgements: Sequence[_Judgement]) -> tuple[str, ...]:
    names: list[str] = []
    for judgement in judgements:
        if not judgement.present and judgement.criterion.input not in names:
            names.append(judgement.criterion.input)
    return tuple(names)


def _undecided_reasons(judgements: Sequence[_Judgement]) -> str:
    parts = []
    for judgement in judgements:
        if judgement.satisfied is None:
            evidence = judgement.evidence
            shown = f" {evidence.value_text}" if evidence.value_text else ""
            parts.append(f"{evidence.criterion}:{shown} {evidence.note}".strip())
    return "; ".join(parts)


def _finding(
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


def _not_evaluated(rule: PatternRule, missing: Sequence[str]) -> Finding:
    statement = f"{rule.name}: not evaluated — not supplied: {', '.join(missing)}"
    return _finding(rule, FindingStatus.NOT_EVALUATED, statement, missing_inputs=missing)


def _labels(judgements: Sequence[_Judgement]) -> str:
    return "; ".join(j.criterion.label for j in judgements if j.satisfied is True)


def _evaluate_any_of(rule: PatternRule, judgements: Sequence[_Judgement]) -> Finding:
    missing = _missing(judgements)
    if not any(j.present for j in judgements):
        return _not_evaluated(rule, missing)
    evidence = [j.evidence for j in judgements]
    values = {"met_labels": _labels(judgements)}
    if any(j.satisfied is True for j in judgements):
        status, statement = FindingStatus.MET, rule.statement_met.format_map(values)
    elif all(j.satisfied is False for j in judgements):
        status, statement = FindingStatus.NOT_MET, rule.statement_not_met.format_map(values)
    else:
        status = FindingStatus.INDETERMINATE
        statement = f"{rule.name}: cannot be decided — {_undecided_reasons(judgements)}"
    return _finding(rule, status, statement, evidence, missing_inputs=missing)


def _evaluate_count_of(rule: PatternRule, judgements: Sequence[_Judgement]) -> Finding:
    # One pass (this kind is judged for every panel): what is missing, and the counts. Criteria
    # without points are counted; a criterion with points is sufficient on its own.
    missing: list[str] = []
    present = False
    counted = met = undecided = 0
    sufficient_met = False
    open_sufficient: list[str] = []
    met_labels: list[str] = []
    evidence: list[Evidence] = []
    for judgement in judgements:
        item = judgement.evidence
        evidence.append(item)
        satisfied = item.satisfied
        criterion = judgement.criterion
        if judgement.present:
            present = True
        elif criterion.input not in missing:
            missing.append(criterion.input)
        if satisfied is True:
            met_labels.append(criterion.label)
        if criterion.points is None:
            counted += 1
            if satisfied is True:
                met += 1
            elif satisfied is None:
                undecided += 1
        elif satisfied is True:
            sufficient_met = True
        elif satisfied is None:
            open_sufficient.append(criterion.label)
    if not present:
        return _not_evaluated(rule, tuple(missing))
    required = _required_count(rule)
    values = {
        "met": str(met),
        "total": str(counted),
        "undecided": str(undecided),
        "met_labels": "; ".join(met_labels),
    }
    if met >= required or sufficient_met:
        status, statement = FindingStatus.MET, rule.statement_met.format_map(values)
    elif met + undecided < required and not open_sufficient:
        status, statement = FindingStatus.NOT_MET, rule.statement_not_met.format_map(values)
    else:
        status = FindingStatus.INDETERMINATE
        statement = f"{rule.name}: {met} of {counted} criteria met, {undecided} not evaluable"
        for label in open_sufficient:
            statement += f"; {label}: not evaluable"
        statement += " — cannot be decided"
    return _finding(rule, status, statement, evidence, missing_inputs=missing)


def _points(judgement: _Judgement) -> int:
    return judgement.criterion.points or 0


def _evaluate_hscore(rule: PatternRule, judgements: Sequence[_Judgement]) -> Finding:
    missing = _missing(judgements)
    if missing:
        return _not_evaluated(rule, missing)
    cutoff = rule.threshold("cutoff")
    groups: dict[str, list[_Judgement]] = {}
    for judgement in judgements:
        groups.setdefault(judgement.criterion.input, []).append(judgement)
    low_total = high_total = 0
    evidence_by_id: dict[int, Evidence] = {}
    for group in groups.values():
        certain = [j for j in group if j.satisfied is True]
        possible = [j for j in group if j.satisfied is not False]
        low = max((_points(j) for j in certain), default=0)
        high = max((_points(j) for j in possible), default=0)
        low_total += low
        high_total += high
        best = max(certain, key=_points) if certain and low == high else None
        for judgement in certain:
            item = judgement.evidence
            if judgement is best:
                note = f"scores {_points(judgement)} points"
            elif best is not None:
                note = "met; a higher band of this input scores instead"
            else:
                note = "met; the band this input scores in cannot be decided"
            note = f"{item.note}; {note}" if item.note else note
            evidence_by_id[id(judgement)] = Evidence(
                item.input, item.value_text, item.criterion, True, note
            )
    evidence = [evidence_by_id.get(id(j), j.evidence) for j in judgements]
    exact = low_total == high_total
    score_text = str(low_total) if exact else f"{low_total}–{high_total}"
    values = {"score": score_text, "cutoff": _number(cutoff)}
    score = Decimal(low_total) if exact else None
    if low_total >= cutoff:
        status, statement = FindingStatus.MET, rule.statement_met.format_map(values)
    elif high_total < cutoff:
        status, statement = FindingStatus.NOT_MET, rule.statement_not_met.format_map(values)
    else:
        status = FindingStatus.INDETERMINATE
        statement = (
            f"{rule.name}: score between {low_total} and {high_total}, on both sides of the "
            f"cut-off {_number(cutoff)} — cannot be decided ({_undecided_reasons(judgements)})"
        )
    return _finding(rule, status, statement, evidence, score=score, missing_inputs=())


def _evaluate_astct(rule: PatternRule, context: PatternContext) -> Finding:
    fever_c = rule.threshold("fever_c")
    low_flow_max = rule.threshold("low_flow_max_l_min")
    clinical = context.clinical
    problems: list[Evidence] = []

    def raw(name: str) -> Decimal | bool | str | None:
        supplied = clinical.get(name)
        return None if supplied is None else supplied.value

    def number(name: str, label: str) -> Decimal | None:
        value = raw(name)
        if value is None:
            return None
        number = _clinical_number(value)
        if number is None:
            problems.append(Evidence(name, _clinical_text(value), label, None, "expected a number"))
        return number

    def boolean(name: str, label: str) -> bool:
        value = raw(name)
        if not isinstance(value, bool):
            problems.append(
                Evidence(
                    name,
                    _clinical_text(value) if value is not None else None,
                    label,
                    None,
                    "expected yes/no",
                )
            )
            return False
        return value

    fever_label = f"fever ≥{_number(fever_c)} °C"
    temperature = number("temperature_c", fever_label)
    other_cause = boolean("fever_attributable_to_other_cause", "fever not due to another cause")
    therapy = boolean(
        "antipyretic_or_anticytokine_given", "antipyretic or anti-cytokine therapy given"
    )
    hypotension = boolean("hypotension", "hypotension")
    vasopressin = boolean("vasopressin", "vasopressin given")
    pressors = number("vasopressors_excluding_vasopressin", "vasopressors (excluding vasopressin)")
    if pressors is not None and (pressors < _ZERO or pressors != pressors.to_integral_value()):
        problems.append(
            Evidence(
                "vasopressors_excluding_vasopressin",
                _number(pressors),
                "vasopressors (excluding vasopressin)",
                None,
                "expected a whole number ≥0",
            )
        )
    device = raw("oxygen_device")
    if not isinstance(device, str) or device not in ASTCT_OXYGEN_DEVICES:
        problems.append(
            Evidence(
                "oxygen_device",
                None if device is None else _clinical_text(device),
                "oxygen support",
                None,
                f"expected one of {', '.join(ASTCT_OXYGEN_DEVICES)}",
            )
        )
    flow = number("oxygen_flow_l_min", f"high flow (>{_number(low_flow_max)} L/min)")
    if problems or temperature is None or pressors is None or not isinstance(device, str):
        statement = f"{rule.name}: cannot be graded — invalid clinical input(s): " + ", ".join(
            item.input for item in problems
        )
        return _finding(rule, FindingStatus.INDETERMINATE, statement, problems)

    fever = temperature >= fever_c and not other_cause
    evidence = [
        Evidence("temperature_c", _number(temperature), fever_label, temperature >= fever_c, ""),
        Evidence(
            "fever_attributable_to_other_cause",
            _clinical_text(other_cause),
            "fever not attributable to another cause",
            not other_cause,
            "",
        ),
        Evidence(
            "antipyretic_or_anticytokine_given",
            _clinical_text(therapy),
            "antipyretic or anti-cytokine therapy given (fever no longer required)",
            therapy,
            "",
        ),
    ]

    count = int(pressors)
    if count >= 2:
        pressure_grade, pressure_words = 4, "hypotension needing multiple vasopressors"
    elif count == 1 or vasopressin:
        pressure_grade = 3
        pressure_words = "hypotension needing one vasopressor" + (
            " with vasopressin" if count == 1 and vasopressin else ""
        )
        if count == 0:
            pressure_words += " (vasopressin)"
    elif hypotension:
        pressure_grade, pressure_words = 2, "hypotension not needing vasopressors"
    else:
        pressure_grade, pressure_words = 0, "no hypotension"
    evidence += [
        Evidence("hypotension", _clinical_text(hypotension), "hypotension", hypotension, ""),
        Evidence(
            "vasopressors_excluding_vasopressin",
            str(count),
            "vasopressors (excluding vasopressin)",
            count >= 1,
            f"hypotension component: grade {pressure_grade}",
        ),
        Evidence("vasopressin", _clinical_text(vasopressin), "vasopressin given", vasopressin, ""),
    ]

    oxygen_grade, oxygen_words = ASTCT_OXYGEN_DEVICES[device]
    relabelled = ""
    if device in _NASAL_CANNULAS and flow is not None:
        by_flow = 3 if flow > low_flow_max else 2
        if by_flow != oxygen_grade:
            relabelled = f"; graded by the flow {_number(flow)} L/min, not the device label"
        oxygen_grade = by_flow
        oxygen_words = (
            f"high-flow nasal cannula (>{_number(low_flow_max)} L/min)"
            if by_flow == 3
            else f"low-flow nasal cannula (≤{_number(low_flow_max)} L/min)"
        )
    evidence.append(
        Evidence(
            "oxygen_device",
            device,
            "oxygen support",
            oxygen_grade > 0,
            f"hypoxia component: grade {oxygen_grade}{relabelled}",
        )
    )
    if flow is not None:
        evidence.append(
            Evidence(
                "oxygen_flow_l_min",
                _number(flow),
                f"high flow (>{_number(low_flow_max)} L/min)",
                flow > low_flow_max,
                "" if device in _NASAL_CANNULAS else "not used for this device",
            )
        )

    if not fever and not therapy:
        reasons = [f"no fever ≥{_number(fever_c)} °C"]
        if temperature >= fever_c and other_cause:
            reasons = ["fever attributed to another cause"]
        reasons.append("no antipyretic or anti-cytokine therapy")
        if pressure_grade or oxygen_grade:
            reasons.append("hypotension or hypoxia without fever is not graded as CRS")
        values = {"grade": "0", "drivers": "; ".join(reasons)}
        statement = rule.statement_not_met.format_map(values)
        return _finding(rule, FindingStatus.NOT_MET, statement, evidence, score=_ZERO)

    grade = max(1 if fever else 0, pressure_grade, oxygen_grade)
    if grade == 0:
        values = {
            "grade": "0",
            "drivers": "afebrile after antipyretic or anti-cytokine therapy, "
            "with no hypotension and no oxygen requirement",
        }
        statement = rule.statement_not_met.format_map(values)
        return _finding(rule, FindingStatus.NOT_MET, statement, evidence, score=_ZERO)
    if grade == 1:
        drivers = "fever only"
    else:
        parts = []
        if pressure_grade == grade:
            parts.append(pressure_words)
        if oxygen_grade == grade:
            parts.append(oxygen_words)
        drivers = " and ".join(parts)
    if not fever:
        drivers += "; fever not required after antipyretic or anti-cytokine therapy"
    statement = rule.statement_met.format_map({"grade": str(grade), "drivers": drivers})
    return _finding(rule, FindingStatus.MET, statement, evidence, score=Decimal(grade))


def _fold_text(current: Measurement, baseline: Measurement) -> str:
    if current.comparator.is_censored or baseline.comparator.is_censored:
        return ""
    if baseline.value <= _ZERO:
        return ""
    fold = _FOLD_DISPLAY.divide(current.value, baseline.value)
    return f" = {_number(fold)}×"


def _judge_fold(
    criterion: Criterion,
    high_fold: Decimal,
    index: _Index,
    baseline: SerialPoint,
) -> tuple[_Judgement, bool | None]:
    """The criterion's judgement (fold ≥ its value) and whether the fold reaches ``high_fold``."""
    fold = _threshold_of(criterion)
    reported = index.get(criterion.input, ())
    label = criterion.label

    def undecided(text: str | None, note: str, present: bool = True) -> tuple[_Judgement, None]:
        return _Judgement(
            criterion, Evidence(criterion.input, text, label, None, note), present
        ), None

    if not reported:
        return undecided(None, "not measured", present=False)
    current = [m for m in reported if m.unit == criterion.unit]
    texts = "; ".join(sorted(_measurement_text(m) for m in reported))
    if len(current) != 1:
        if not current:
            units = ", ".join(sorted({m.unit for m in reported}))
            return undecided(
                texts, f"reported in {units}; criterion is defined in {criterion.unit}"
            )
        return undecided(texts, f"reported {len(current)} times in {criterion.unit}")
    now = current[0]
    at_baseline = [m for m in baseline.measurements if m.analyte == criterion.input]
    in_unit = [m for m in at_baseline if m.unit == criterion.unit]
    if len(in_unit) != 1:
        if not at_baseline:
            return undecided(texts, f"not measured at baseline ({baseline.panel_key})")
        if not in_unit:
            units = ", ".join(sorted({m.unit for m in at_baseline}))
            return undecided(
                texts, f"baseline reported in {units}; fold change needs {criterion.unit}"
            )
        return undecided(texts, f"reported {len(in_unit)} times at baseline")
    base = in_unit[0]
    text = f"{_measurement_text(now)} vs baseline {_measurement_text(base)}{_fold_text(now, base)}"
    if now.comparator.is_censored or base.comparator.is_censored:
        return undecided(text, "censored value: a fold change is never computed from it")
    if not (now.value.is_finite() and base.value.is_finite()):
        return undecided(text, "not a finite number")
    if base.value <= _ZERO:
        return undecided(text, "baseline is zero: fold change undefined")
    satisfied = _exact_satisfies(now.value, criterion.op, _EXACT.multiply(fold, base.value))
    high = now.value >= _EXACT.multiply(high_fold, base.value)
    note = f"≥{_number(high_fold)}× baseline" if high else ""
    judgement = _Judgement(criterion, Evidence(criterion.input, text, label, satisfied, note), True)
    return judgement, high


def _evaluate_fold_rise(rule: PatternRule, context: PatternContext, index: _Index) -> Finding:
    baseline = context.baseline
    if baseline is None:
        return _not_evaluated(rule, ("baseline",))
    high_fold = rule.threshold("fold_change_one_cytokine")
    pairs = [_judge_fold(c, high_fold, index, baseline) for c in rule.criteria]
    judgements = [judgement for judgement, _ in pairs]
    missing = _missing(judgements)
    if not any(j.present for j in judgements):
        return _not_evaluated(rule, missing)
    required = _required_count(rule)
    met = sum(1 for j in judgements if j.satisfied is True)
    undecided = sum(1 for j in judgements if j.satisfied is None)
    values = {
        "met": str(met),
        "total": str(len(judgements)),
        "undecided": str(undecided),
        "met_labels": _labels(judgements),
    }
    evidence = [j.evidence for j in judgements]
    if met >= required or any(high is True for _, high in pairs):
        status, statement = FindingStatus.MET, rule.statement_met.format_map(values)
    elif undecided == 0:
        status, statement = FindingStatus.NOT_MET, rule.statement_not_met.format_map(values)
    else:
        status = FindingStatus.INDETERMINATE
        statement = (
            f"{rule.name}: {met} of {len(judgements)} cytokines met, {undecided} not evaluable "
            f"— cannot be decided ({_undecided_reasons(judgements)})"
        )
    return _finding(rule, status, statement, evidence, missing_inputs=missing)


def _evaluate(rule: PatternRule, context: PatternContext, index: _Index) -> Finding:
    absent = [name for name in rule.clinical_inputs if name not in context.clinical]
    if absent:
        return _not_evaluated(rule, absent)
    if rule.kind == ANY_OF:
        return _evaluate_any_of(rule, [_judge(c, context, index) for c in rule.criteria])
    if rule.kind == COUNT_OF:
        return _evaluate_count_of(rule, [_judge(c, context, index) for c in rule.criteria])
    if rule.kind == HSCORE:
        return _evaluate_hscore(rule, [_judge(c, context, index) for c in rule.criteria])
    if rule.kind == ASTCT_CRS_GRADE:
        return _evaluate_astct(rule, context)
    if rule.kind == FOLD_RISE:
        return _evaluate_fold_rise(rule, context, index)
    raise PatternRuleError(rule.id, "kind", f"unknown kind {rule.kind!r}")


# --------------------------------------------------------------------------------------------
# Memos
# --------------------------------------------------------------------------------------------

# Findings remembered per rule: the first distinct inputs, no eviction (as in interpret()).
_FINDING_MEMO_SIZE = 2048
# Rules whose memos are kept (cleared when full; clear() is atomic, so threads are safe).
_RULE_MEMO_SIZE = 64
# A key part for an input that was not supplied / not measured.
_NOT_SUPPLIED = None
# Key parts never serve: the input cannot be keyed exactly, evaluate without the memo.
_UNKEYABLE: tuple[object, ...] = ()


def _clinical_key(supplied: ClinicalValue) -> object:
    """What a finding reads of one supplied clinical value, exactly; ``_UNKEYABLE`` otherwise.

    The type is part of the key: ``True``, ``1`` and ``Decimal(1)`` are equal but judged
    differently. A Decimal is keyed by its text, which keeps "39.0" apart from "39".
    """
    if supplied.__class__ is not ClinicalValue:
        return _UNKEYABLE
    value = supplied.value
    kind: type = value.__class__
    if kind is Decimal:
        return (kind, str(value))
    if kind is bool or kind is int or kind is str:
        return (kind, value)
    return _UNKEYABLE


def _measurements_key(reported: Sequence[Measurement]) -> object:
    """What a finding reads of one analyte's results, exactly (value as written, comparator,
    unit, in order); ``_UNKEYABLE`` for values, comparators or units of unexpected types."""
    parts = []
    for measurement in reported:
        value, comparator, unit = measurement.value, measurement.comparator, measurement.unit
        if (
            value.__class__ is not Decimal
            or comparator.__class__ is not Comparator
            or unit.__class__ is not str
        ):
            return _UNKEYABLE
        parts.append((str(value), comparator, unit))
    return tuple(parts)


class _RuleMemo:
    """One rule's findings, by the inputs it reads.

    A finding of every kind but ``fold_rise`` (which also reads the baseline) depends only on
    the rule, on which of the rule's clinical inputs were supplied and their values, and on the
    results of the analytes its criteria name; findings are immutable, so identical inputs get
    the identical finding. Purely a cache: a finding never depends on it.
    """

    __slots__ = (
        "analytes",
        "clinical",
        "conclude",
        "findings",
        "held",
        "judged",
        "none_supplied",
        "not_evaluated",
        "positions",
        "required",
        "rule",
    )

    def __init__(self, rule: PatternRule, held: object) -> None:
        self.rule = rule
        self.held = held
        self.required = rule.clinical_inputs
        names = list(rule.clinical_inputs)
        if rule.kind == ASTCT_CRS_GRADE:
            names += ASTCT_INPUTS
        names += (c.input for c in rule.criteria if not c.is_analyte)
        self.clinical = tuple(dict.fromkeys(names))
        self.analytes = tuple(dict.fromkeys(c.input for c in rule.criteria if c.is_analyte))
        self.none_supplied = (_NOT_SUPPLIED,) * len(self.clinical)
        # Keyed findings; None: this kind is never remembered.
        self.findings: dict[tuple[object, ...], Finding] | None = (
            {} if rule.kind in (ANY_OF, COUNT_OF, HSCORE, ASTCT_CRS_GRADE) else None
        )
        self.not_evaluated: dict[tuple[str, ...], Finding] = {}
        # Where each criterion's input is in a key; per criterion, its judgement by that input.
        self.positions = tuple(
            self.analytes.index(c.input) + len(self.clinical)
            if c.is_analyte
            else self.clinical.index(c.input)
            for c in rule.criteria
        )
        self.judged: tuple[dict[object, _Judgement], ...] = tuple({} for _ in rule.criteria)
        self.conclude = _CONCLUSIONS.get(rule.kind)

    def evaluate(self, rule: PatternRule, context: PatternContext, index: _Index) -> Finding:
        """``rule``'s finding: the memo's rule, or one whose fields are the same objects."""
        clinical = context.clinical
        if self.required:
            absent = (
                tuple(name for name in self.required if name not in clinical)
                if clinical
                else self.required
            )
            if absent:
                known = self.not_evaluated.get(absent)
                if known is None:
                    known = _not_evaluated(rule, absent)
                    if len(self.not_evaluated) < _FINDING_MEMO_SIZE:
                        self.not_evaluated[absent] = known
                return known
        findings = self.findings
        if findings is None:
            return _evaluate(rule, context, index)
        key: list[object] = []
        if clinical:
            for name in self.clinical:
                supplied = clinical.get(name, _NOT_SUPPLIED)
                part = _NOT_SUPPLIED if supplied is _NOT_SUPPLIED else _clinical_key(supplied)
                if part is _UNKEYABLE:
                    return _evaluate(rule, context, index)
                key.append(part)
        else:
            key += self.none_supplied
        for analyte in self.analytes:
            reported = index.get(analyte)
            part = _NOT_SUPPLIED if reported is None else _measurements_key(reported)
            if part is _UNKEYABLE:
                return _evaluate(rule, context, index)
            key.append(part)
        frozen = tuple(key)
        found = findings.get(frozen)
        if found is None:
            conclude = self.conclude
            if conclude is None:
                found = _evaluate(rule, context, index)
            else:
                # Each criterion reads only its own input: judged once per distinct input.
                judgements = []
                for criterion, position, judged in zip(
                    rule.criteria, self.positions, self.judged, strict=True
                ):
                    part = frozen[position]
                    judgement = judged.get(part)
                    if judgement is None:
                        judgement = _judge(criterion, context, index)
                        if len(judged) < _FINDING_MEMO_SIZE:
                            judged[part] = judgement
                    judgements.append(judgement)
                found = conclude(rule, judgements)
            if len(findings) < _FINDING_MEMO_SIZE:
                findings[frozen] = found
        return found


# The kinds whose finding is concluded from the judgements of the criteria alone.
_CONCLUSIONS: Mapping[str, Callable[[PatternRule, Sequence[_Judgement]], Finding]] = {
    ANY_OF: _evaluate_any_of,
    COUNT_OF: _evaluate_count_of,
    HSCORE: _evaluate_hscore,
}

# id(rule) -> its memo, for the rule objects memos were made for (each memo holds its rule, so
# an id cannot be reused while cached; the identity check makes a stale entry harmless).
_RULE_MEMOS: dict[int, _RuleMemo] = {}
# The identities of a rule's fields (all but ``enabled``, which no finding reads) -> its memo:
# a copy of a rule (``dataclasses.replace(rule, enabled=True)``, made per panel for a rule a
# lab switched on) shares the memo of the rule it copies. Identities, not equality: rules
# whose limits are equal but written differently ("169" and "169.0") word findings differently.
# Each memo holds the fields it was made for, so their identities cannot be reused while cached.
_SHARED_MEMOS: dict[tuple[int, ...], _RuleMemo] = {}
_RULE_FIELDS = tuple(f.name for f in fields(PatternRule) if f.name != "enabled")


def _memo_for(rule: PatternRule) -> _RuleMemo:
    memo = _RULE_MEMOS.get(id(rule))
    if memo is not None and memo.rule is rule:
        return memo
    held = tuple([getattr(rule, name) for name in _RULE_FIELDS])
    key = tuple(map(id, held))
    memo = _SHARED_MEMOS.get(key)
    if memo is not None:
        return memo
    memo = _RuleMemo(rule, held)
    if len(_SHARED_MEMOS) >= _RULE_MEMO_SIZE:
        # clear() is atomic, unlike evicting one entry, so threads sharing the memos are safe.
        _SHARED_MEMOS.clear()
    _SHARED_MEMOS[key] = memo
    if len(_RULE_MEMOS) >= _RULE_MEMO_SIZE:
        _RULE_MEMOS.clear()
    _RULE_MEMOS[id(rule)] = memo
    return memo


def evaluate_patterns(rules: Sequence[PatternRule], context: PatternContext) -> list[Finding]:
    """One :class:`Finding` per enabled rule, in rule order; disabled rules yield nothing.

    Pure: no clock, no I/O. The order of ``context.measurements`` never changes a finding.
    Identical inputs to a rule get the identical (immutable) finding from a bounded memo.
    """
    index = _index(context.measurements)
    return [_memo_for(rule).evaluate(rule, context, index) for rule in rules if rule.enabled]
