"""Small helpers for the file-parser tests: parse bytes, find problems, read fixtures."""

from __future__ import annotations

import io
from pathlib import Path

from panels.intake.files import parse_file, parse_manifest
from panels.intake.files.types import CellValue, ParsedFile, ParsedSample, Problem

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"
LONG_HEADER = (
    "accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
    "ordering_clinician,analyte,value,unit"
)
PATIENT = "LP-1,MRN-1,Doe,Jane,1980-04-02,female,plasma,2026-11-20T08:30:00Z,dr.house"
PATIENT_2 = "LP-2,MRN-2,Roe,Rick,1975-01-31,male,serum,2026-11-20T09:00:00Z,dr.house"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(data: bytes | str, *, format: str | None = None) -> ParsedFile:
    raw = data.encode() if isinstance(data, str) else data
    return parse_file(io.BytesIO(raw), format=format)


def manifest(data: bytes | str) -> ParsedFile:
    raw = data.encode() if isinstance(data, str) else data
    return parse_manifest(io.BytesIO(raw))


def long_csv(*rows: str, header: str = LONG_HEADER, newline: str = "\n") -> str:
    return newline.join([header, *rows]) + newline


def codes(parsed: ParsedFile) -> list[str]:
    return [problem.code for problem in parsed.problems]


def where(parsed: ParsedFile, code: str) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.column) for p in parsed.problems if p.code == code]


def errors(parsed: ParsedFile) -> list[Problem]:
    return [problem for problem in parsed.problems if problem.severity == "error"]


def sample(parsed: ParsedFile, sample_id: str, well: str | None = None) -> ParsedSample:
    found = [
        s for s in parsed.samples if s.sample_id == sample_id and (well is None or s.well == well)
    ]
    assert len(found) == 1, (sample_id, well, [s.sample_id for s in parsed.samples])
    return found[0]


def value(parsed_sample: ParsedSample, analyte: str) -> CellValue:
    found = [cell for cell in parsed_sample.values if cell.analyte_label == analyte]
    assert len(found) == 1, (analyte, [c.analyte_label for c in parsed_sample.values])
    return found[0]
