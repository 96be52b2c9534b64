"""A page of reports' results read as plain rows, for the Observations a search includes.

A DiagnosticReport search of 50 reports with ``_include`` answers some 650 Observations. Read as
model instances (each result with its analyte, its rule and the result it replaced), that was
2,600 instances and Django's prefetch machinery: more than half of the search's time. Here the
same columns are read in one query as tuples (``values_list``), and each analyte and rule
becomes one shared row per page, which also keeps the parts of an Observation built from it
(its ``code``, its ``referenceRange``): built once per page, not once per result.

The rows carry the attribute names of the models they stand for (``result.analyte.code``,
``result.rule.low``, ``result.supersedes``), so ``resources`` builds an Observation from either.
The rows are read-only; nothing here is kept beyond the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from panels.models import Result


class AnalyteRow:
    """What an Observation shows of an analyte; ``fhir_code`` keeps the ``code`` built from it."""

    __slots__ = ("code", "fhir_code", "loinc", "loinc_verified", "name", "short_name")

    def __init__(
        self, code: str, short_name: str, name: str, loinc: str, loinc_verified: bool
    ) -> None:
        self.code = code
        self.short_name = short_name
        self.name = name
        self.loinc = loinc
        self.loinc_verified = loinc_verified
        self.fhir_code: dict[str, Any] | None = None


class RuleRow:
    """What an Observation's ``referenceRange`` shows of a rule; ``fhir_ranges`` keeps the
    ranges built from it, per result text (the text is used when the rule has no published
    words of its own)."""

    __slots__ = (
        "age_unit",
        "fhir_ranges",
        "high",
        "low",
        "max_age",
        "min_age",
        "published_text",
        "sex",
        "unit",
    )

    def __init__(
        self,
        unit: str,
        low: Decimal | None,
        high: Decimal | None,
        sex: str,
        age_unit: str,
        min_age: int | None,
        max_age: int | None,
        published_text: str,
    ) -> None:
        self.unit = unit
        self.low = low
        self.high = high
        self.sex = sex
        self.age_unit = age_unit
        self.min_age = min_age
        self.max_age = max_age
        self.published_text = published_text
        self.fhir_ranges: dict[str, dict[str, Any]] = {}


class ReplacedRow:
    """The result a result replaced: what its Observation's status and notes need of it."""

    __slots__ = ("comparator", "pk", "superseded_at", "superseded_by_id")

    def __init__(
        self, pk: int, superseded_at: datetime | None, comparator: str, superseded_by_id: int | None
    ) -> None:
        self.pk = pk
        self.superseded_at = superseded_at
        self.comparator = comparator
        self.superseded_by_id = superseded_by_id


class ResultRow:
    """One result, with its analyte, its rule (``None``: no interval judged it) and the result
    it replaced (``None``: none)."""

    __slots__ = (
        "analyte",
        "comparator",
        "conversion",
        "dilution_factor",
        "instrument",
        "interpretation",
        "interpretation_reason",
        "method",
        "panel_id",
        "pk",
        "position",
        "reference_text",
        "rule",
        "superseded_at",
        "superseded_by_id",
        "supersedes",
        "unit",
        "value",
        "value_scale",
    )

    analyte: AnalyteRow
    rule: RuleRow | None
    supersedes: ReplacedRow | None
    pk: int
    panel_id: int
    position: int
    value: Decimal
    value_scale: int
    comparator: str
    unit: str
    interpretation: str
    interpretation_reason: str
    conversion: str
    reference_text: str
    dilution_factor: Decimal | None
    method: str
    instrument: str
    superseded_by_id: int | None
    superseded_at: datetime | None


# What an Observation shows of a result, its analyte, its rule and the result it replaced (also
# the columns a read of one Observation names in ``selectors._results``).
RESULT_COLUMNS = (
    "panel_id",
    "position",
    "value",
    "value_scale",
    "comparator",
    "unit",
    "interpretation",
    "interpretation_reason",
    "conversion",
    "reference_text",
    "dilution_factor",
    "method",
    "instrument",
    "superseded_by_id",
    "superseded_at",
)
ANALYTE_COLUMNS = (
    "analyte__code",
    "analyte__short_name",
    "analyte__name",
    "analyte__loinc",
    "analyte__loinc_verified",
)
RULE_COLUMNS = (
    "rule__unit",
    "rule__low",
    "rule__high",
    "rule__sex",
    "rule__age_unit",
    "rule__min_age",
    "rule__max_age",
    "rule__published_text",
)
REPLACED_COLUMNS = (
    "supersedes__superseded_at",
    "supersedes__comparator",
    "supersedes__superseded_by_id",
)
OBSERVATION_FIELDS = (*RESULT_COLUMNS, *ANALYTE_COLUMNS, *RULE_COLUMNS, *REPLACED_COLUMNS)

# Read here, each part after the id that tells one analyte, rule or replaced result from another.
_COLUMNS = (
    "pk",
    *RESULT_COLUMNS,
    "analyte_id",
    *ANALYTE_COLUMNS,
    "rule_id",
    *RULE_COLUMNS,
    "supersedes__pk",
    *REPLACED_COLUMNS,
)
_R = 1 + len(RESULT_COLUMNS)  # the analyte's id
_A = _R + 1 + len(ANALYTE_COLUMNS)  # the rule's id
_U = _A + 1 + len(RULE_COLUMNS)  # the replaced result's id


def results_by_panel(panel_ids: Iterable[int]) -> dict[int, list[ResultRow]]:
    """All results of the panels (current and replaced), each panel's in position order: one
    query."""
    analytes: dict[int, AnalyteRow] = {}
    rules: dict[int, RuleRow] = {}
    answer: dict[int, list[ResultRow]] = {}
    rows = (
        Result.objects.filter(panel_id__in=list(panel_ids))
        .order_by("position", "pk")
        .values_list(*_COLUMNS)
    )
    new = ResultRow.__new__
    for values in rows:
        row = new(ResultRow)
        (
            row.pk,
            row.panel_id,
            row.position,
            row.value,
            row.value_scale,
            row.comparator,
            row.unit,
            row.interpretation,
            row.interpretation_reason,
            row.conversion,
            row.reference_text,
            row.dilution_factor,
            row.method,
            row.instrument,
            row.superseded_by_id,
            row.superseded_at,
        ) = values[:_R]
        analyte_id = values[_R]
        analyte = analytes.get(analyte_id)
        if analyte is None:
            analyte = analytes[analyte_id] = AnalyteRow(*values[_R + 1 : _A])
        row.analyte = analyte
        rule_id = values[_A]
        if rule_id is None:
            row.rule = None
        else:
            rule = rules.get(rule_id)
            if rule is None:
                rule = rules[rule_id] = RuleRow(*values[_A + 1 : _U])
            row.rule = rule
        replaced_id = values[_U]
        row.supersedes = None if replaced_id is None else ReplacedRow(*values[_U:])
        answer.setdefault(row.panel_id, []).append(row)
    return answer
