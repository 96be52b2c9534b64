"""The parsers stream: bounded reads only, progress every ~10,000 lines, the caller's stream
left open; ``parse_stream`` hands a long file's samples on one at a time, the same as
``parse_file`` gives. (The 200 MB run is bench/parse_large.py, not part of the suite.)"""

from __future__ import annotations

import dataclasses
import io

import pytest

from panels.intake.files import (
    SamplesNotGrouped,
    StreamedFile,
    parse_file,
    parse_manifest,
    parse_stream,
)
from panels.intake.files.source import CHUNK
from panels.intake.files.types import CellValue, ParsedSample, ValueKind, make_cell
from tests.ingest.files.helpers import FIXTURES, PATIENT, PATIENT_2, errors, long_csv


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


# ---------------------------------------------------------------- parse_stream: sample by sample

_PROBLEMS = long_csv(
    PATIENT + ",IL-6,12.4,pg/mL",
    PATIENT + ",IL-6,13,pg/mL",  # the same analyte twice
    PATIENT.replace("Jane", "Janet") + ",TNFA,<2.0,pg/mL",  # another given name
    PATIENT + ",IFNG,abc,pg/mL",  # not a number
    "",
    PATIENT_2 + ",IL-6,OOR <,pg/mL",
    PATIENT_2 + ",IL10",  # short
    PATIENT_2 + ",,3,pg/mL",  # no analyte
    ",MRN-3,X,Y,1990-01-01,male,plasma,2026-11-20T08:30:00Z,dr.house,IL-6,1,pg/mL",
    "LP-3,MRN-3,X,Y,1990-01-01,male,plasma,2026-11-20T08:30:00Z,dr.house,IL-6,1,pg/mL,extra",
    "LP-4,1.2E+10,X,Y,45123,male,plasma,2026-11-20T08:30:00Z,dr.house,IL-6,2.5,pg/mL",
)


def _streamed(data: bytes) -> tuple[list[ParsedSample], StreamedFile]:
    streamed = parse_stream(io.BytesIO(data))
    return list(streamed.samples()), streamed


@pytest.mark.parametrize(
    "data",
    [
        _rows(25_000),
        _PROBLEMS.encode(),
        _PROBLEMS.replace(",", ";").replace("12.4", "12,4").encode(),  # decimal comma
        _PROBLEMS.replace(",", ";").replace("13", "1,5").encode(),  # mixed separators
        *(
            FIXTURES.joinpath(name).read_bytes()
            for name in sorted(path.name for path in FIXTURES.iterdir())
        ),
    ],
    ids=lambda data: str(len(data)),
)
def test_a_streamed_file_gives_what_the_whole_parse_gives(data: bytes) -> None:
    whole = parse_file(io.BytesIO(data))

    samples, streamed = _streamed(data)

    assert streamed.parsed(samples=samples) == whole


def test_a_streamed_long_file_hands_each_sample_on_before_the_file_is_read() -> None:
    data = _rows(26_000)  # 2,000 accessions of 13 rows
    calls: list[int] = []
    streamed = parse_stream(io.BytesIO(data), on_progress=lambda done, _: calls.append(done))
    seen: list[tuple[str, int]] = []

    for sample in streamed.samples():
        seen.append((sample.sample_id, len(calls)))
        assert len(sample.values) == 13

    assert [sample_id for sample_id, _ in seen] == [f"LP-{index}" for index in range(2_000)]
    assert seen[0][1] == 0  # the first sample came before the first 10,000 lines were read
    assert seen[1_000][1] == 1  # the 1,001st after 10,000 lines, before 20,000
    assert calls == [10_000, 20_000, 26_001]
    assert streamed.rows_total == 26_001


def test_an_accession_whose_rows_are_apart_cannot_be_streamed_but_parses_whole() -> None:
    data = long_csv(
        PATIENT + ",IL-6,12.4,pg/mL", PATIENT_2 + ",IL-6,3,pg/mL", PATIENT + ",IL10,2,pg/mL"
    ).encode()
    streamed = parse_stream(io.BytesIO(data))

    with pytest.raises(SamplesNotGrouped):
        list(streamed.samples())
    whole = parse_file(io.BytesIO(data))
    assert [(s.sample_id, len(s.values)) for s in whole.samples] == [("LP-1", 2), ("LP-2", 1)]


def test_the_accessions_handed_on_are_remembered_across_merges() -> None:
    from panels.intake.files.labpanel_long import _Seen

    seen = _Seen()
    values = [hash(f"ACC-{index}") for index in range(3 * _Seen.MERGE_AT + 5)]

    for value in values:
        seen.add(value)

    assert len(seen) == len(values)
    assert all(value in seen for value in values)
    assert not any(hash(f"OTHER-{index}") in seen for index in range(1_000))
