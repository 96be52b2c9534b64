"""HL7 escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\ ...) in names, OBX-5 and OBX-7."""

from __future__ import annotations

import logging

import pytest

from panels.intake.hl7.parse import parse_oru
from panels.intake.hl7.types import ProblemCode
from tests.ingest.hl7.helpers import OBR, codes, fixture, message, obx, oru


def test_escapes_fixture() -> None:
    parsed = parse_oru(fixture("oru_r01_escapes.hl7"))

    assert parsed.problems == ()
    assert parsed.control_id == "MSG&00004"
    [order] = parsed.orders
    patient = order.patient
    assert (patient.mrn, patient.mrn_assigning_authority) == ("MRN|7", "NORTH&HOSP")
    assert (patient.family_name, patient.given_name) == ("Smith&Jones", "Renée^Marie")
    assert order.universal_service_id == "Cytokine panel \\13"
    il6, il8 = order.observations
    assert il6.text == "IL-6 & sIL-6R"
    assert (il6.value_raw, il6.value_text) == ("<1.5", "<1.5")  # \X3C\ is "<"
    assert il6.sender_range == "0.0~7.0 | see \\ref"
    assert il8.text == "Interleukin 8"  # \H\ and \N\ (highlighting) carry no text
    assert il8.sender_range == "^<62^"


@pytest.mark.parametrize(
    ("written", "family"),
    [
        ("O\\F\\Neil", "O|Neil"),
        ("O\\S\\Neil", "O^Neil"),
        ("O\\T\\Neil", "O&Neil"),
        ("O\\R\\Neil", "O~Neil"),
        ("O\\E\\Neil", "O\\Neil"),
        ("M\\XFC\\ller", "Müller"),
        ("\\X4F4B\\", "OK"),
        ("A\\.br\\B", "A\rB"),
    ],
)
def test_escape_sequences_in_a_patient_name(written: str, family: str) -> None:
    parsed = parse_oru(message(f"PID|1||MRN-1^^^H^MR||{written}^Jane", OBR, obx("NM", "1")))

    assert parsed.problems == ()
    assert parsed.orders[0].patient.family_name == family


@pytest.mark.parametrize(
    "written",
    [
        "Doe\\F",  # not terminated
        "Doe\\\\x",  # empty sequence
        "Doe\\Q\\",  # unknown
        "Doe\\X4\\",  # odd number of hex digits
        "Doe\\XZZ\\",  # not hex
        "Doe\\Zlocal\\",  # locally defined: not understood here
        "Doe\\C2842\\",  # character set switch
        "Doe\\X00\\",  # decodes to NUL
    ],
)
def test_bad_escape_keeps_the_value_as_written_and_is_reported(
    written: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        parsed = parse_oru(message(f"PID|1||MRN-1^^^H^MR||{written}^Jane", OBR, obx("NM", "1")))

    assert codes(parsed) == [ProblemCode.BAD_ESCAPE]
    problem = parsed.problems[0]
    assert (problem.segment, problem.field, problem.component) == ("PID", 5, 1)
    assert "Doe" not in problem.message
    assert parsed.orders[0].patient.family_name == written
    assert "Doe" not in caplog.text  # python-hl7 logs the field on these: never reached


def test_escaped_obx5_and_obx7() -> None:
    parsed = parse_oru(oru("OBX|1|ST|IL-6^IL-6^L||\\X3E\\\\X3D\\ 50|pg/mL|\\E\\7\\T\\8||||F"))

    assert parsed.problems == ()
    observation = parsed.orders[0].observations[0]
    assert (observation.value_raw, observation.value_text) == (">= 50", ">=50")
    assert observation.sender_range == "\\7&8"


def test_escaped_separator_in_nm_value_is_not_a_number() -> None:
    parsed = parse_oru(oru(obx("NM", "1\\S\\5")))

    assert codes(parsed) == [ProblemCode.VALUE_NOT_NUMERIC]
    assert parsed.orders[0].observations[0].value_raw == "1^5"
