"""The parsers stream: bounded reads only, progress every ~10,000 lines, the caller's stream
left open. (The 200 MB run is bench/parse_large.py, not part of the suite.)"""

from __future__ import annotations

import dataclasses
import io

import pytest

from panels.intake.files import parse_file, parse_manifest
from panels.intake.files.source import CHUNK
from panels.intake.files.types import CellValue, ValueKind, make_cell
from tests.ingest.files.helpers import FIXTURES, PATIENT, errors, long_csv


class BoundedOnly(io.RawIOBase):
    """A seekable binary stream that refuses any read without a size."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.sizes: list[int] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._data.seek(offset, whence)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("unbounded read()")
        self.sizes.append(size)
        return self._data.read(size)

    def readall(self) -> bytes:
        raise AssertionError("readall()")

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        raise AssertionError("readinto() bypasses the size check")


def _rows(count: int) -> bytes:
    rows = [
        PATIENT.replace("LP-1", f"LP-{index // 13}") + f",A{index % 13},1.{index % 7}, pg/mL"
        for index in range(count)
    ]
    return long_csv(*rows).encode()


def test_parsing_reads_in_bounded_chunks_and_reports_progress() -> None:
    stream = BoundedOnly(_rows(25_000))
    calls: list[tuple[int, int]] = []

    parsed = parse_file(stream, on_progress=lambda done, total: calls.append((done, total)))  # type: ignore[arg-type]

    assert errors(parsed) == []
    assert sum(len(sample.values) for sample in parsed.samples) == 25_000
    assert parsed.rows_total == 25_001
    assert [done for done, _ in calls] == [10_000, 20_000, 25_001]
    assert {total for _, total in calls} == {25_001}
    assert stream.sizes
    assert max(stream.sizes) <= CHUNK
    assert not stream.closed


@pytest.mark.parametrize("path", sorted(FIXTURES.iterdir()), ids=lambda path: path.name)
def test_every_fixture_streams_with_bounded_reads(path: object) -> None:
    data = FIXTURES.joinpath(str(path)).read_bytes()
    stream = BoundedOnly(data)
    calls: list[tuple[int, int]] = []

    if str(path).endswith("manifest.csv"):
        parsed = parse_manifest(stream)  # type: ignore[arg-type]
    else:
        parsed = parse_file(stream, on_progress=lambda d, t: calls.append((d, t)))  # type: ignore[arg-type]

    assert parsed.samples
    assert not stream.closed
    if calls:
        assert calls[-1] == (parsed.rows_total, parsed.rows_total)


def test_the_progress_total_comes_from_a_first_pass() -> None:
    calls: list[tuple[int, int]] = []

    parse_file(io.BytesIO(_rows(12_000)), on_progress=lambda d, t: calls.append((d, t)))

    assert calls[0] == (10_000, 12_001)


def test_the_fast_cell_builder_makes_the_same_frozen_cell() -> None:
    arguments = (7, "value", "IL-6", "27", " <1.5 ", ValueKind.NUMBER, "<1.5", True, "pg/mL", "2")

    fast = make_cell(*arguments)

    assert fast == CellValue(*arguments)
    assert type(fast) is CellValue
    assert [field.name for field in dataclasses.fields(CellValue)] == list(CellValue.__slots__)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.raw = "12"  # type: ignore[misc]
