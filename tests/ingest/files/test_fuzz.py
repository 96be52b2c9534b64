"""Whatever the bytes, the parsers return a ParsedFile, and every number they hand out is a
valid notation whose digits are exactly the digits of the cell as written."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panels.intake.files import FORMATS, parse_file
from panels.intake.files.types import ParsedFile, ValueKind
from tests.ingest.files.helpers import FIXTURES

NOTATION = re.compile(r"^(?:<=|>=|≤|≥|<|>)?[0-9]+(?:\.[0-9]+)?$")
NOT_DIGITS = re.compile(r"[^0-9]")
NAMES = sorted(path.name for path in FIXTURES.iterdir())
FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def check(data: bytes, format: str | None = None) -> ParsedFile:
    parsed = parse_file(io.BytesIO(data), format=format)

    assert isinstance(parsed, ParsedFile)
    for sample in parsed.samples:
        assert 1 <= sample.row <= max(parsed.rows_total, 1)
        for cell in sample.values:
            if cell.kind is ValueKind.NUMBER:
                assert cell.text is not None
                assert NOTATION.match(cell.text), (cell.raw, cell.text)
                assert NOT_DIGITS.sub("", cell.text) == NOT_DIGITS.sub("", cell.raw), cell
            else:
                assert cell.text is None, cell
    for problem in parsed.problems:
        assert problem.severity in ("error", "warning")
        assert problem.message
        assert problem.row is None or 1 <= problem.row <= max(parsed.rows_total, 1), problem
    return parsed


@pytest.mark.parametrize("name", NAMES)
def test_truncation_at_every_position(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    step = max(1, len(data) // 1500)  # every byte for the small fixtures, ~1,500 cuts for xPONENT
    for cut in range(0, len(data), step):
        check(data[:cut])


@given(data=st.binary(max_size=3000))
@FUZZ
def test_random_bytes(data: bytes) -> None:
    check(data)


@given(data=st.binary(max_size=600), format=st.sampled_from(FORMATS))
@FUZZ
def test_random_bytes_forced_into_each_format(data: bytes, format: str) -> None:
    check(data, format)


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "insert", "delete"]),
        st.floats(min_value=0, max_value=1, exclude_max=True),
        st.sampled_from(
            [b",", b";", b"\t", b'"', b"\n", b"\r", b"\xff", b"\x00", b"*", b"<", b"="]
        ),
        st.integers(min_value=1, max_value=255),
    ),
    min_size=1,
    max_size=6,
)


@given(name=st.sampled_from(NAMES), mutations=MUTATIONS)
@FUZZ
def test_mutations_of_valid_files(
    name: str, mutations: list[tuple[str, float, bytes, int]]
) -> None:
    data = bytearray((FIXTURES / name).read_bytes())
    for operation, where, inserted, flip in mutations:
        position = int(where * len(data))
        if operation == "flip":
            data[position] ^= flip
        elif operation == "insert":
            data[position:position] = inserted
        else:
            del data[position]
    check(bytes(data))


@given(
    cells=st.lists(
        st.text(alphabet=st.sampled_from(list('0123456789.,<>*-+=" ;\t≤OORNa')), max_size=8),
        min_size=1,
        max_size=30,
    ),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
@FUZZ
def test_random_value_cells(cells: list[str], delimiter: str) -> None:
    header = (
        "accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
        "ordering_clinician,analyte,value,unit"
    ).replace(",", delimiter)
    patient = delimiter.join(["LP-1", "MRN", "Doe", "J", "1980-01-02", "f", "plasma", "x", "dr"])
    rows = [
        delimiter.join([patient, f"A{index}", '"' + cell.replace('"', '""') + '"', "pg/mL"])
        for index, cell in enumerate(cells)
    ]
    parsed = check(("\n".join([header, *rows]) + "\n").encode())

    assert parsed.format == "labpanel_long"
    assert sum(len(sample.values) for sample in parsed.samples) == len(cells)
