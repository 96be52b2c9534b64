"""Shared helpers: fixture loading (bytes, so the "\r" separators survive) and message building."""

from __future__ import annotations

from pathlib import Path

from panels.intake.hl7.types import Hl7Problem, OruParse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hl7"

MSH = (
    "MSH|^~\\&|CYTOLIS|NORTHLAB|LABPANEL|LAB1|20261120093000+0100||ORU^R01^ORU_R01|{control_id}"
    "|P|2.5.1"
)
PID = "PID|1||MRN-77^^^NORTHHOSP^MR||Doe^Jane||19800402|F"
OBR = "OBR|1||A-1001|CYTO13^Cytokine panel 13^L|||20261120083000"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture(name: str) -> str:
    return fixture_bytes(name).decode("utf-8")


def fixture_names() -> list[str]:
    return sorted(path.name for path in FIXTURES.glob("*.hl7") if "latin1" not in path.name)


def obx(
    value_type: str, value: str, *, code: str = "IL-6", unit: str = "pg/mL", status: str = "F"
) -> str:
    return f"OBX|1|{value_type}|{code}^{code}^L||{value}|{unit}|||||{status}"


def message(*body: str, control_id: str = "MSG1") -> str:
    return "\r".join([MSH.format(control_id=control_id), *body]) + "\r"


def oru(*observations: str, control_id: str = "MSG1") -> str:
    return message(PID, OBR, *observations, control_id=control_id)


def codes(parse: OruParse) -> list[str]:
    return [str(problem.code) for problem in parse.problems]


def only(parse: OruParse, code: str) -> Hl7Problem:
    found = [problem for problem in parse.problems if problem.code == code]
    assert len(found) == 1, (code, parse.problems)
    return found[0]
