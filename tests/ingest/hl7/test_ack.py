"""build_ack: MSH swapped, MSA, one ERR per problem; read back with python-hl7."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import hl7
import pytest

from panels.intake.hl7.ack import HL7_ERROR_CODES, ack_code_of, build_ack, escape_text
from panels.intake.hl7.parse import parse_oru
from panels.intake.hl7.types import Hl7Problem, ProblemCode
from tests.ingest.hl7.helpers import fixture, obx, oru

NOW = datetime(2026, 11, 20, 9, 30, 5, tzinfo=UTC)


def _read(ack: str) -> hl7.Message:
    assert ack.endswith("\r")
    assert "\n" not in ack
    ack.encode("ascii")  # pure ASCII whatever the content
    return hl7.parse(ack)


def test_aa_swaps_sender_and_receiver_and_acknowledges_msh10() -> None:
    parsed = parse_oru(fixture("oru_r01_single.hl7"))

    ack = _read(build_ack(parsed, code="AA", now=NOW, control_id="ACK0001"))

    msh = ack.segment("MSH")
    assert str(msh(3)) == "LABPANEL"
    assert str(msh(4)) == "LAB1"  # the original MSH-6 by default
    assert (str(msh(5)), str(msh(6))) == ("CYTOLIS", "NORTHLAB")
    assert str(msh(7)) == "20261120093005+0000"
    assert str(msh(9)) == "ACK^R01^ACK"
    assert (str(msh(10)), str(msh(11)), str(msh(12))) == ("ACK0001", "P", "2.5.1")
    msa = ack.segment("MSA")
    assert (str(msa(1)), str(msa(2))) == ("AA", "MSG00001")
    with pytest.raises(KeyError):
        ack.segments("ERR")
    assert ack_code_of(str(ack)) == "AA"


def test_msh7_keeps_the_offset_of_now() -> None:
    now = datetime(2026, 11, 20, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    ack = _read(build_ack(oru(), code="AA", now=now, control_id="A1"))

    assert str(ack.segment("MSH")(7)) == "20261120103000+0100"


def test_ae_has_one_err_per_problem_with_location_code_and_message() -> None:
    parsed = parse_oru(oru(obx("NM", "1"), obx("SN", "^1^-^5", code="IL-8")))

    ack = _read(
        build_ack(
            parsed, code="AE", problems=parsed.problems, text="see ERR", now=NOW,
            control_id="ACK2", receiving_facility="NORTH LAB",
        )
    )  # fmt: skip

    assert str(ack.segment("MSH")(4)) == "NORTH LAB"
    msa = ack.segment("MSA")
    assert (str(msa(1)), str(msa(2)), str(msa(3))) == ("AE", "MSG1", "see ERR")
    [err] = ack.segments("ERR")
    assert str(err(2)) == "OBX^2^5^1^3"  # OBX, 2nd occurrence, field 5, repetition 1, comp 3
    assert (str(err(3)(1)(1)), str(err(3)(1)(2)), str(err(3)(1)(3))) == (
        "102", "Data type error", "HL70357",
    )  # fmt: skip
    assert str(err(4)) == "E"
    assert str(err(5)) == "VALUE_RANGE"
    assert ack.unescape(str(err(8))) == parsed.problems[0].message
    assert "^1^-^5" in ack.unescape(str(err(8)))  # the delimiters it quotes were escaped


def test_every_problem_code_has_a_table_0357_code() -> None:
    assert set(HL7_ERROR_CODES) == set(ProblemCode)


def test_hl7_error_code_override_and_unknown_codes() -> None:
    problems = [
        Hl7Problem("OBX", 4, 3, 1, "UNKNOWN_ANALYTE", "not in the catalogue", "error",
                   hl7_error_code="103"),
        Hl7Problem("OBX", 5, 3, None, "LEAD_SPECIFIC", "something else", "error"),
    ]  # fmt: skip

    ack = _read(build_ack(oru(), code="AE", problems=problems, now=NOW, control_id="A"))

    first, second = ack.segments("ERR")
    assert str(first(3)(1)(1)) == "103"
    assert str(first(2)) == "OBX^4^3^1^1"  # no occurrence known: the segment position
    assert str(second(3)(1)(1)) == "207"


def test_reject_for_unreadable_message_uses_defaults() -> None:
    parsed = parse_oru("this is not HL7")

    ack_text = build_ack("this is not HL7", code="AR", problems=parsed.problems, now=NOW,
                         control_id="ACK3")  # fmt: skip

    ack = _read(ack_text)
    msh = ack.segment("MSH")
    assert (str(msh(3)), str(msh(5)), str(msh(9))) == ("LABPANEL", "", "ACK^R01^ACK")
    assert (str(ack.segment("MSA")(1)), str(ack.segment("MSA")(2))) == ("AR", "")
    [err] = ack.segments("ERR")
    assert (str(err(2)), str(err(3)(1)(1)), str(err(5))) == ("", "100", "NOT_ER7")


def test_reject_of_wrong_message_type_answers_its_trigger() -> None:
    parsed = parse_oru(fixture("adt_a01.hl7"))

    ack = _read(build_ack(parsed, code="AR", problems=parsed.problems, now=NOW, control_id="A"))

    assert str(ack.segment("MSH")(9)) == "ACK^A01^ACK"
    assert str(ack.segment("MSA")(2)) == "ADT00001"
    [err] = ack.segments("ERR")
    assert (str(err(2)), str(err(3)(1)(1))) == ("MSH^1^9^1^1", "200")


def test_reject_reads_what_it_can_of_a_malformed_msh() -> None:
    text = "MSH|^~\\&X|LIS|FAC|LAB|LABF|20260101||ORU^R01|C-77|P|2.5.1\rPID|1"
    parsed = parse_oru(text)
    assert parsed.problems[0].code == ProblemCode.BAD_ENCODING_CHARACTERS

    ack = _read(build_ack(text, code="AR", problems=parsed.problems, now=NOW, control_id="A"))

    assert str(ack.segment("MSA")(2)) == "C-77"
    assert str(ack.segment("MSH")(5)) == "LIS"


def test_values_are_escaped_in_the_ack() -> None:
    parsed = parse_oru(fixture("oru_r01_escapes.hl7"))
    problem = Hl7Problem("OBX", 4, 5, None, "X", "a|b^c~d&e\\f\r\nnext ≤ é \x07!", "error")

    ack_text = build_ack(parsed, code="AE", problems=[problem], text="x|y", now=NOW,
                         control_id="ID|1")  # fmt: skip

    ack = _read(ack_text)
    assert ack.unescape(str(ack.segment("MSA")(2))) == "MSG&00004"
    assert ack.unescape(str(ack.segment("MSA")(3))) == "x|y"
    assert ack.unescape(str(ack.segment("MSH")(10))) == "ID|1"
    [err] = ack.segments("ERR")
    assert ack.unescape(str(err(8))) == "a|b^c~d&e\\f\rnext U+2264 é  !"


def test_escape_text() -> None:
    assert escape_text("plain") == "plain"
    assert escape_text("a|b") == "a\\F\\b"
    assert escape_text("") == ""


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"code": "CA"}, "code"),
        ({"control_id": " "}, "control_id"),
        ({"now": datetime(2026, 1, 1)}, "timezone"),  # noqa: DTZ001 - the point of the test
    ],
)
def test_caller_mistakes_raise(kwargs: dict[str, object], reason: str) -> None:
    arguments: dict[str, object] = {"code": "AA", "now": NOW, "control_id": "A", **kwargs}

    with pytest.raises(ValueError, match=reason):
        build_ack(oru(), **arguments)  # type: ignore[arg-type]


def test_ack_code_of_unreadable() -> None:
    assert ack_code_of("nonsense") == ""
    assert ack_code_of("MSH|^~\\&|A\rMSA|AE|X\r") == "AE"
