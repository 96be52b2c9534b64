"""The exchange format: field checks, overlapping partitions, age gaps, and exact round trips."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from labpanel.exceptions import InvalidInput
from reference_ranges.models import ReferenceRangeRule, ReferenceRangeSet, RuleSetStatus
from reference_ranges.ruleset_format import (
    Problem,
    decimal_text,
    document_dump,
    document_load,
    document_validate,
)
from reference_ranges.selectors import ruleset_document_get, ruleset_export
from reference_ranges.services import SEED_DIR, ruleset_import
from tests.reference_ranges.helpers import SPECIMEN_TYPES, document, rule

ANALYTES = {"IL6": ["pg/mL"], "SIL2R": ["pg/mL", "U/mL"]}


def validate(doc: dict[str, Any]) -> tuple[list[Problem], list[Problem]]:
    outcome = document_validate(doc, analytes=ANALYTES, specimen_types=SPECIMEN_TYPES)
    return outcome.errors, outcome.warnings


def test_a_valid_document_becomes_a_spec_with_exact_decimals() -> None:
    outcome = document_validate(
        document(rule("A", low="0.10", low_inclusive=False, high="1410.4")),
        analytes=ANALYTES,
        specimen_types=SPECIMEN_TYPES,
    )

    assert (outcome.errors, outcome.warnings) == ([], [])
    assert outcome.spec is not None
    (spec_rule,) = outcome.spec.rules
    assert (spec_rule.low, spec_rule.low_inclusive, spec_rule.high) == (
        Decimal("0.10"),
        False,
        Decimal("1410.4"),
    )
    assert outcome.spec.panel_type == "cytokine"


@pytest.mark.parametrize(
    ("_case", "fields", "expected"),
    [
        ("number as text", {"high": "abc"}, [("high", "'abc' is not a number")]),
        (
            "negative bound",
            {"high": "-1"},
            [("high", "must not be negative (concentrations are never negative)")],
        ),
        (
            "rounding refused",
            {"high": "2.1234567"},
            [("high", "more than 6 decimal places would be rounded; refused")],
        ),
        ("no bound", {"high": None}, [("high", "a rule needs a low or a high limit (or both)")]),
        (
            "inclusiveness unstated",
            {"low": "1"},
            [("low_inclusive", "required: true or false")],
        ),
        (
            "empty interval",
            {"low": "2.5", "low_inclusive": False},
            [("low", "the interval is empty: low equals high and a bound is exclusive")],
        ),
        ("verified unstated", {"verified": None}, [("verified", "required: true or false")]),
        ("unknown field", {"hihg": "3"}, [("hihg", "unknown field")]),
        (
            "empty age band",
            {"min_age": 8, "max_age": 3},
            [("max_age", "max_age 3 must be above min_age 8")],
        ),
        (
            "critical inside",
            {"critical_high": "2", "low": "1", "low_inclusive": True, "critical_low": "1.5"},
            [
                ("critical_low", "critical low 1.5 is above the low limit 1"),
                ("critical_high", "critical high 2 is below the high limit 2.5"),
            ],
        ),
        ("text quoted", {"test_code": 3002601}, [("test_code", "must be text (quote it)")]),
    ],
)
def test_each_bad_field_is_named(
    _case: str, fields: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    errors, _ = validate(document(rule("A", **fields)))

    assert [(error.rule, error.field, error.message) for error in errors] == [
        ("A", field, message) for field, message in expected
    ]


def test_an_unquoted_version_is_refused_because_yaml_reads_it_as_a_number() -> None:
    doc = document(rule("A"))
    doc["ruleset"]["version"] = 2026.10

    errors, _ = validate(doc)

    assert errors == [
        Problem(
            rule=None, field="ruleset.version", message='must be text (quote it, e.g. "2026.10")'
        )
    ]


@pytest.mark.parametrize(
    ("_case", "first", "second", "overlaps"),
    [
        ("female and male", {"sex": "female"}, {"sex": "male"}, False),
        ("female and any sex", {"sex": "female"}, {}, True),
        ("serum and plasma", {"specimen_types": ["serum"]}, {"specimen_types": ["plasma"]}, False),
        (
            "shared plasma",
            {"specimen_types": ["serum", "plasma"]},
            {"specimen_types": ["plasma", "plasma_edta"]},
            True,
        ),
        ("adjacent bands", {"max_age": 3}, {"min_age": 3, "max_age": 8}, False),
        ("crossing bands", {"max_age": 4}, {"min_age": 3, "max_age": 8}, True),
        (
            "days then years",
            {"age_unit": "days", "max_age": 365},
            {"min_age": 1},
            False,
        ),
        (
            "366 days reach a first birthday",
            {"age_unit": "days", "max_age": 366},
            {"min_age": 1},
            True,
        ),
    ],
)
def test_overlapping_partitions_are_errors(
    _case: str, first: dict[str, Any], second: dict[str, Any], overlaps: bool
) -> None:
    errors, _ = validate(document(rule("FIRST", **first), rule("SECOND", **second)))

    assert [(error.rule, error.field) for error in errors] == (
        [("SECOND", "partition")] if overlaps else []
    )


def test_an_overlap_message_says_where_both_rules_apply() -> None:
    errors, _ = validate(
        document(
            rule("ADULT", min_age=18, specimen_types=["serum", "plasma"]),
            rule("OLDER", min_age=60, sex="female", specimen_types=["plasma"]),
        )
    )

    assert errors == [
        Problem(
            rule="OLDER",
            field="partition",
            message="overlaps rule ADULT for IL6 in pg/mL (female, plasma, ages ≥60 years): "
            "both would apply to one patient",
        )
    ]


def test_rules_in_different_units_never_overlap() -> None:
    errors, _ = validate(
        document(
            rule("PG", analyte="SIL2R", low="266.5", low_inclusive=True, high="1410.4"),
            rule("U", analyte="SIL2R", unit="U/mL", low="137", low_inclusive=True, high="838"),
        )
    )

    assert errors == []


def test_an_internal_age_gap_is_a_warning_not_an_error() -> None:
    outcome = document_validate(
        document(
            rule("UNDER-3", max_age=3),
            rule("4-7", min_age=4, max_age=8),
            rule("8-PLUS", min_age=8),
        ),
        analytes=ANALYTES,
        specimen_types=SPECIMEN_TYPES,
    )

    assert outcome.errors == []
    assert outcome.spec is not None
    assert outcome.warnings == [
        Problem(
            rule="4-7",
            field="min_age",
            message="age gap: no rule covers IL6 in pg/mL for any sex, any specimen, "
            "ages 3 to <4 years (between rules UNDER-3 and 4-7)",
        )
    ]


def test_adult_only_and_contiguous_bands_leave_no_warning() -> None:
    _, warnings = validate(
        document(
            rule("ADULT", min_age=18, specimen_types=["plasma"]),
            rule("UNDER-3", max_age=3, specimen_types=["serum"]),
            rule("3-7", min_age=3, max_age=8, specimen_types=["serum"]),
            rule("8-PLUS", min_age=8, specimen_types=["serum"]),
        )
    )

    assert warnings == []


def test_decimal_text_is_plain_and_never_rounded() -> None:
    assert [
        decimal_text(Decimal(text)) for text in ("2.500000", "100.000000", "0.000001", "0")
    ] == ["2.5", "100", "0.000001", "0"]


def test_json_numbers_are_read_as_exact_decimals() -> None:
    loaded = document_load('{"rules": [{"high": 0.1}]}', document_format="json")

    assert loaded["rules"][0]["high"] == Decimal("0.1")


def test_unreadable_text_is_one_named_problem() -> None:
    with pytest.raises(InvalidInput) as error:
        document_load("ruleset: [unclosed", document_format="yaml")

    assert error.value.details[0]["field"] == "document"
    assert error.value.details[0]["message"].startswith("not valid YAML: ")


@pytest.mark.django_db
@pytest.mark.parametrize("document_format", ["yaml", "json"])
def test_the_seeded_set_round_trips_exactly_under_a_new_version(
    reference_data: None, document_format: Any
) -> None:
    # given
    seeded = ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")
    text = ruleset_export(ruleset=seeded, document_format=document_format)

    # when
    outcome = ruleset_import(
        document=document_load(text, document_format=document_format),
        created_by=None,
        version="2026.2",
    )

    # then
    copy = outcome.ruleset
    assert outcome.warnings == [
        {
            "rule": None,
            "field": "ruleset.effective_from",
            "message": "not used: a set takes effect on the day a director publishes it",
        }
    ]
    assert (copy.status, copy.lab, copy.effective_from) == (RuleSetStatus.DRAFT, None, None)
    original = ruleset_document_get(ruleset=seeded)
    copied = ruleset_document_get(ruleset=copy)
    assert copied["rules"] == original["rules"]
    assert copied["ruleset"] == {**original["ruleset"], "version": "2026.2", "effective_from": None}
    fields = [f.name for f in ReferenceRangeRule._meta.fields if f.name not in ("id", "ruleset")]
    assert list(copy.rules.order_by("pk").values_list(*fields)) == list(
        seeded.rules.order_by("pk").values_list(*fields)
    )
    assert document_dump(copied, document_format=document_format) == ruleset_export(
        ruleset=copy, document_format=document_format
    )


@pytest.mark.django_db
def test_the_seed_file_itself_is_a_valid_document_with_its_yaml_anchors(
    reference_data: None,
) -> None:
    text = (SEED_DIR / "default_ranges.yaml").read_text(encoding="utf-8")

    outcome = ruleset_import(
        document=document_load(text, document_format="yaml"), created_by=None, version="2026.2"
    )

    assert [warning["field"] for warning in outcome.warnings] == ["ruleset.effective_from"]
    assert outcome.ruleset.rules.count() == 18
