"""OBX-5: the numeric forms accepted (NM, SN, ST) and the ones refused, digits kept as written."""

from __future__ import annotations

import pytest

from panels.intake.hl7.parse import parse_oru
from panels.intake.hl7.types import ProblemCode
from tests.ingest.hl7.helpers import codes, fixture, obx, oru


@pytest.mark.parametrize(
    ("value_type", "value", "comparator", "value_text"),
    [
        ("NM", "12.4", "", "12.4"),
        ("NM", "0.50", "", "0.50"),
        ("NM", "007", "", "007"),
        ("NM", " 12.4 ", "", "12.4"),
        ("SN", "<^1.5", "<", "<1.5"),
        ("SN", ">^5000", ">", ">5000"),
        ("SN", "^12.4", "", "12.4"),
        ("SN", "=^12.4", "", "12.4"),
        ("SN", "<=^3", "<=", "<=3"),
        ("SN", ">=^3.000", ">=", ">=3.000"),
        ("SN", "<^1.5^^", "<", "<1.5"),
        ("ST", "<1.5", "<", "<1.5"),
        ("ST", "> 5000", ">", ">5000"),
        ("ST", "<=0.8", "<=", "<=0.8"),
        ("ST", "≤0.8", "<=", "<=0.8"),
        ("ST", "≥10", ">=", ">=10"),
        ("ST", "12.4", "", "12.4"),
    ],
)
def test_numeric_forms(value_type: str, value: str, comparator: str, value_text: str) -> None:
    parsed = parse_oru(oru(obx(value_type, value)))

    assert parsed.problems == ()
    [observation] = parsed.orders[0].observations
    assert (observation.comparator, observation.value_text) == (comparator, value_text)
    assert observation.value_raw == value


@pytest.mark.parametrize(
    ("value_type", "value", "code"),
    [
        ("SN", "^1^-^5", ProblemCode.VALUE_RANGE),
        ("SN", "1^-^5", ProblemCode.VALUE_RANGE),
        ("SN", "^1^:^128", ProblemCode.VALUE_RANGE),
        ("SN", "^2^+", ProblemCode.VALUE_RANGE),
        ("SN", "^1^^5", ProblemCode.VALUE_RANGE),
        ("SN", "12.4", ProblemCode.VALUE_NOT_NUMERIC),
        ("SN", "<>^5", ProblemCode.VALUE_NOT_NUMERIC),
        ("SN", "=<^5", ProblemCode.VALUE_NOT_NUMERIC),
        ("SN", "^", ProblemCode.VALUE_EMPTY),
        ("SN", "<^", ProblemCode.VALUE_EMPTY),
        ("SN", "^1&2", ProblemCode.VALUE_NOT_NUMERIC),
        ("NM", "1.5E3", ProblemCode.VALUE_EXPONENT),
        ("NM", "15e-1", ProblemCode.VALUE_EXPONENT),
        ("ST", "<1e3", ProblemCode.VALUE_EXPONENT),
        ("NM", "1,5", ProblemCode.VALUE_DECIMAL_COMMA),
        ("ST", "1,500", ProblemCode.VALUE_DECIMAL_COMMA),
        ("NM", "-2", ProblemCode.VALUE_NEGATIVE),
        ("ST", "<-2", ProblemCode.VALUE_NEGATIVE),
        ("SN", "^-2", ProblemCode.VALUE_NEGATIVE),
        ("NM", "+2", ProblemCode.VALUE_NOT_NUMERIC),
        ("NM", ".5", ProblemCode.VALUE_NOT_NUMERIC),
        ("NM", "5.", ProblemCode.VALUE_NOT_NUMERIC),
        ("NM", "<1.5", ProblemCode.VALUE_NOT_NUMERIC),
        ("NM", "1^5", ProblemCode.VALUE_NOT_NUMERIC),
        ("NM", "١٢", ProblemCode.VALUE_NOT_NUMERIC),
        ("ST", "positive", ProblemCode.VALUE_NOT_NUMERIC),
        ("ST", "<", ProblemCode.VALUE_EMPTY),
        ("NM", "1~2", ProblemCode.VALUE_REPEATED),
        ("CWE", "POS^Positive", ProblemCode.UNSUPPORTED_VALUE_TYPE),
        ("TX", "12.4", ProblemCode.UNSUPPORTED_VALUE_TYPE),
        ("", "12.4", ProblemCode.MISSING_VALUE_TYPE),
        ("NM", "", ProblemCode.VALUE_EMPTY),
        ("NM", '""', ProblemCode.VALUE_EMPTY),
    ],
)
def test_refused_values(value_type: str, value: str, code: ProblemCode) -> None:
    parsed = parse_oru(oru(obx(value_type, value)))

    assert codes(parsed) == [code]
    problem = parsed.problems[0]
    assert (problem.segment, problem.segment_index, problem.severity) == ("OBX", 4, "error")
    assert problem.field in (2, 5)
    [observation] = parsed.orders[0].observations
    assert observation.value_text is None


@pytest.mark.parametrize("status", ["X", "D", "I", "W", "U", "N", "O"])
def test_statuses_that_carry_no_value(status: str) -> None:
    parsed = parse_oru(oru(obx("NM", "", status=status)))

    assert parsed.problems == ()
    assert parsed.orders[0].observations[0].status == status


@pytest.mark.parametrize("status", ["F", "P", "C", "R", "S"])
def test_statuses_that_need_a_value(status: str) -> None:
    parsed = parse_oru(oru(obx("NM", "", status=status)))

    assert codes(parsed) == [ProblemCode.VALUE_EMPTY]


def test_result_status_is_checked_against_table_0085() -> None:
    assert codes(parse_oru(oru(obx("NM", "1", status="Q")))) == [ProblemCode.BAD_RESULT_STATUS]
    assert codes(parse_oru(oru(obx("NM", "1", status="")))) == [ProblemCode.MISSING_RESULT_STATUS]


def test_numeric_result_needs_a_unit() -> None:
    parsed = parse_oru(oru(obx("NM", "4.5", unit="")))

    assert codes(parsed) == [ProblemCode.MISSING_UNIT]
    assert parsed.orders[0].observations[0].value_text == "4.5"


def test_value_forms_fixture() -> None:
    parsed = parse_oru(fixture("oru_r01_value_forms.hl7"))

    assert parsed.problems == ()
    assert [o.value_text for o in parsed.orders[0].observations] == [
        "12.4", "0.50", "<1.5", ">5000", "12.4", "<=3", "7.25", "<1.5", ">=2", "<=0.8", "12.4",
        None, None, None,
    ]  # fmt: skip
    assert [o.status for o in parsed.orders[0].observations][-3:] == ["X", "D", "I"]


def test_bad_values_fixture_reports_one_problem_per_bad_obx() -> None:
    parsed = parse_oru(fixture("oru_r01_bad_values.hl7"))

    by_segment: dict[int, list[str]] = {}
    for problem in parsed.problems:
        by_segment.setdefault(problem.segment_index, []).append(str(problem.code))
    assert by_segment == {
        4: ["VALUE_RANGE"],
        5: ["VALUE_RANGE"],
        6: ["VALUE_RANGE"],
        7: ["VALUE_EXPONENT"],
        8: ["VALUE_DECIMAL_COMMA"],
        9: ["VALUE_NEGATIVE"],
        10: ["VALUE_NOT_NUMERIC"],
        11: ["VALUE_NOT_NUMERIC"],
        12: ["VALUE_NOT_NUMERIC"],
        13: ["VALUE_NOT_NUMERIC"],
        14: ["UNSUPPORTED_VALUE_TYPE"],
        15: ["VALUE_REPEATED"],
        16: ["MISSING_UNIT"],
        17: ["BAD_RESULT_STATUS"],
        18: ["MISSING_RESULT_STATUS"],
        19: ["VALUE_EMPTY"],
        20: ["VALUE_NOT_NUMERIC"],
        21: ["MISSING_VALUE_TYPE"],
        22: ["BAD_ESCAPE", "VALUE_NOT_NUMERIC"],
    }
    range_problem = parsed.problems[0]
    assert "range" in range_problem.message
    assert parsed.orders[0].observations[0].value_raw == "^1^-^5"


def test_sender_range_is_kept_exactly_as_written() -> None:
    parsed = parse_oru(oru("OBX|1|NM|IL-6^IL-6^L||3|pg/mL|  0.0 - 7.0 pg/mL (adult)|N|||F"))

    assert parsed.orders[0].observations[0].sender_range == "  0.0 - 7.0 pg/mL (adult)"
