"""Loading a pattern rules document: every rule built and validated, or the first problem named.

:func:`load_pattern_rules` checks each rule against its kind (operators, value types against the
clinical input vocabulary, the thresholds it needs, statement placeholders, the cytokine-only
wording, that only a grading rule states a grade) and raises :class:`PatternRuleError` naming
the rule id and field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from reference_ranges.engine.patterns.clinical_inputs import load_clinical_inputs
from reference_ranges.engine.patterns.reading import (
    check_keys,
    decimal_of,
    document_mapping,
    flag_of,
    integer_of,
    is_analyte_code,
    item_text,
    mapping_of,
    sequence_of,
    text_of,
    words_of,
)
from reference_ranges.engine.patterns.types import (
    ANY_OF,
    ASTCT_CRS_GRADE,
    ASTCT_INPUTS,
    ASTCT_OPTIONAL_INPUTS,
    ASTCT_OXYGEN_DEVICES,
    COUNT_OF,
    CRITERION_OPS,
    CYTOKINE_ONLY_STATEMENT,
    EQUALS,
    FOLD_RISE,
    HSCORE,
    IS_TRUE,
    NUMERIC_OPS,
    PATTERN_KINDS,
    ClinicalInputSpec,
    Criterion,
    PatternRule,
    PatternRuleError,
)

_ZERO = Decimal(0)

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


def _parse_criterion(
    raw_value: object,
    index: int,
    rule_id: str,
    kind: str,
    inputs: Mapping[str, ClinicalInputSpec],
) -> Criterion:
    field = f"criteria[{index}]"
    raw = mapping_of(raw_value, rule_id, field)
    check_keys(raw, _CRITERION_KEYS, rule_id, field)
    name = text_of(raw, "input", rule_id, f"{field}.input")
    op = text_of(raw, "op", rule_id, f"{field}.op")
    if op not in CRITERION_OPS:
        raise PatternRuleError(rule_id, f"{field}.op", f"must be one of {', '.join(CRITERION_OPS)}")
    label = text_of(raw, "label", rule_id, f"{field}.label")
    unit = text_of(raw, "unit", rule_id, f"{field}.unit", required=False) or None
    raw_points = raw.get("points")
    points = None if raw_points is None else integer_of(raw_points, rule_id, f"{field}.points")
    spec = inputs.get(name)
    value: Decimal | bool | str
    if spec is None:
        # An analyte result.
        if not is_analyte_code(name):
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
        value = decimal_of(raw.get("value"), rule_id, f"{field}.value")
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
            value = decimal_of(raw.get("value"), rule_id, f"{field}.value")
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
    if kind != ASTCT_CRS_GRADE and "grade" in words_of(text):
        raise PatternRuleError(
            rule_id, field, "only an astct_crs_grade rule may state a grade (cytokines never do)"
        )


def _parse_rule(
    raw_value: object, index: int, inputs: Mapping[str, ClinicalInputSpec]
) -> PatternRule:
    raw = mapping_of(raw_value, None, f"rules[{index}]")
    rule_id = text_of(raw, "id", None, f"rules[{index}].id")
    if not is_analyte_code(rule_id):
        raise PatternRuleError(rule_id, "id", "must be UPPER_SNAKE_CASE")
    check_keys(raw, _RULE_KEYS, rule_id, "rule")
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        raise PatternRuleError(rule_id, "version", 'must be quoted text, e.g. "2026.1"')
    kind = text_of(raw, "kind", rule_id, "kind")
    if kind not in PATTERN_KINDS:
        raise PatternRuleError(rule_id, "kind", f"must be one of {', '.join(PATTERN_KINDS)}")
    clinical_inputs = _parse_rule_inputs(raw, rule_id, inputs)
    criteria = tuple(
        _parse_criterion(item, position, rule_id, kind, inputs)
        for position, item in enumerate(sequence_of(raw.get("criteria"), rule_id, "criteria"))
    )
    thresholds = _parse_thresholds(raw, rule_id, kind)
    raw_required = raw.get("required_count")
    required_count = (
        None if raw_required is None else integer_of(raw_required, rule_id, "required_count")
    )
    _check_kind_shape(rule_id, kind, criteria, required_count, dict(thresholds), clinical_inputs)
    cytokine_only = _parse_cytokine_only(raw, rule_id, kind, criteria, clinical_inputs)
    statement_met = text_of(raw, "statement_met", rule_id, "statement_met")
    statement_not_met = text_of(raw, "statement_not_met", rule_id, "statement_not_met")
    _check_statement(rule_id, kind, "statement_met", statement_met)
    _check_statement(rule_id, kind, "statement_not_met", statement_not_met)
    if cytokine_only:
        _check_cytokine_only_wording(rule_id, statement_met)
    return PatternRule(
        id=rule_id,
        version=version.strip(),
        name=text_of(raw, "name", rule_id, "name"),
        kind=kind,
        criteria=criteria,
        required_count=required_count,
        thresholds=thresholds,
        statement_met=statement_met,
        statement_not_met=statement_not_met,
        citation=text_of(raw, "citation", rule_id, "citation"),
        verified=flag_of(raw, "verified", rule_id, "verified"),
        verification_note=text_of(raw, "verification_note", rule_id, "verification_note"),
        enabled=flag_of(raw, "enabled", rule_id, "enabled"),
        clinical_inputs=clinical_inputs,
        cytokine_only=cytokine_only,
        logic=text_of(raw, "logic", rule_id, "logic", required=False),
    )


def _parse_rule_inputs(
    raw: Mapping[str, object], rule_id: str, inputs: Mapping[str, ClinicalInputSpec]
) -> tuple[str, ...]:
    """The clinical inputs a rule requires: declared ones, each named once."""
    clinical_inputs = tuple(
        item_text(item, rule_id, "clinical_inputs")
        for item in sequence_of(raw.get("clinical_inputs"), rule_id, "clinical_inputs")
    )
    for name in clinical_inputs:
        if name not in inputs:
            raise PatternRuleError(rule_id, "clinical_inputs", f"{name} is not declared")
    if len(set(clinical_inputs)) != len(clinical_inputs):
        raise PatternRuleError(rule_id, "clinical_inputs", "lists an input twice")
    return clinical_inputs


def _parse_thresholds(
    raw: Mapping[str, object], rule_id: str, kind: str
) -> tuple[tuple[str, Decimal], ...]:
    """The named thresholds: exactly those the kind requires, plus any it accepts."""
    thresholds_raw = mapping_of(raw.get("thresholds") or {}, rule_id, "thresholds")
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
    return tuple(
        (name, decimal_of(value, rule_id, f"thresholds.{name}"))
        for name, value in thresholds_raw.items()
    )


def _parse_cytokine_only(
    raw: Mapping[str, object],
    rule_id: str,
    kind: str,
    criteria: Sequence[Criterion],
    clinical_inputs: tuple[str, ...],
) -> bool:
    """The ``cytokine_only`` flag, which must say whether every input is an analyte result."""
    has_clinical = bool(clinical_inputs) or any(not c.is_analyte for c in criteria)
    expected_cytokine_only = kind in (ANY_OF, COUNT_OF, FOLD_RISE) and not has_clinical
    cytokine_only = flag_of(raw, "cytokine_only", rule_id, "cytokine_only")
    if cytokine_only != expected_cytokine_only:
        raise PatternRuleError(
            rule_id,
            "cytokine_only",
            f"must be {str(expected_cytokine_only).lower()}: it is true exactly when every "
            "input is an analyte result",
        )
    return cytokine_only


def _check_cytokine_only_wording(rule_id: str, statement_met: str) -> None:
    """A cytokine-only finding that suggests CRS uses exactly :data:`CYTOKINE_ONLY_STATEMENT`."""
    words = " ".join(words_of(statement_met))
    if statement_met != CYTOKINE_ONLY_STATEMENT and any(
        term in f" {words} " for term in (" crs ", " cytokine storm ", " cytokine release ")
    ):
        raise PatternRuleError(
            rule_id,
            "statement_met",
            f"a cytokine-only finding suggesting CRS must read exactly {CYTOKINE_ONLY_STATEMENT!r}",
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
        required = set(ASTCT_INPUTS) - ASTCT_OPTIONAL_INPUTS
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
    raw = document_mapping(document)
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
        for index, item in enumerate(sequence_of(raw.get("rules"), None, "rules"))
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
