"""Cross-check with allotropy (Benchling's maintained instrument parsers, a dev-only tool).

allotropy reading our vendor fixtures proves they are real vendor layouts; every concentration
our parsers hand out as a plain number must equal allotropy's float for the same cell. allotropy
is not used at runtime: it turns values into floats ("148.20" becomes 148.2) and out-of-range
markers into NaN errors (docs/import-formats.md).
"""

from __future__ import annotations

import io
import math
from typing import Any

import pytest

from panels.intake.files.types import ValueKind
from tests.ingest.files.helpers import FIXTURES, parse

allotropy = pytest.importorskip(
    "allotropy", reason="allotropy (dev-only, requirements-dev.txt) is not installed"
)

from allotropy.named_file_contents import NamedFileContents  # noqa: E402
from allotropy.parser_factory import Vendor  # noqa: E402
from allotropy.parsers.luminex_xponent.luminex_xponent_reader import (  # noqa: E402
    LuminexXponentReader,
)
from allotropy.parsers.msd_workbench.msd_workbench_reader import MSDWorkbenchReader  # noqa: E402
from allotropy.to_allotrope import allotrope_from_io  # noqa: E402


def _contents(name: str) -> NamedFileContents:
    return NamedFileContents(io.BytesIO((FIXTURES / name).read_bytes()), name)


def _walk(document: Any, key: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(document, dict):
        for name, item in document.items():
            if name == key:
                found.append(item)
            found.extend(_walk(item, key))
    elif isinstance(document, list):
        for item in document:
            found.extend(_walk(item, key))
    return found


@pytest.mark.parametrize(
    ("name", "vendor"),
    [("luminex_xponent.csv", "LUMINEX_XPONENT"), ("msd_workbench.csv", "MSD_WORKBENCH")],
)
def test_allotropy_converts_our_fixture_to_asm(name: str, vendor: str) -> None:
    with (FIXTURES / name).open("rb") as stream:
        document = allotrope_from_io(stream, name, getattr(Vendor, vendor))

    identifiers = {str(item) for item in _walk(document, "sample identifier")}
    ours = {sample.sample_id for sample in parse((FIXTURES / name).read_bytes()).samples}
    assert ours <= {identifier.rsplit("_", 1)[0] for identifier in identifiers} | identifiers


def test_xponent_concentrations_equal_allotropy_floats() -> None:
    reader = LuminexXponentReader(_contents("luminex_xponent.csv"))
    table = reader.results_data["Result"]
    dilutions = reader.results_data["Dilution Factor"]
    parsed = parse((FIXTURES / "luminex_xponent.csv").read_bytes())
    compared = 0
    for sample in parsed.samples:
        location = next(
            str(index) for index in table.index if str(index).endswith(f",{sample.well})")
        )
        assert table.at[location, "Sample"] == sample.sample_id
        for cell in sample.values:
            theirs = float(table.at[location, cell.column])
            if cell.kind is ValueKind.NUMBER:
                assert cell.text is not None
                assert float(cell.text) == theirs, (sample.sample_id, cell.column)
                compared += 1
            else:
                assert math.isnan(theirs)
            assert cell.dilution_factor is not None
            assert float(cell.dilution_factor) == float(dilutions.at[location, "Dilution Factor"])
    assert compared == 17


def test_msd_concentrations_equal_allotropy_floats() -> None:
    reader = MSDWorkbenchReader(_contents("msd_workbench.csv"))
    parsed = parse((FIXTURES / "msd_workbench.csv").read_bytes())
    theirs = {
        (str(row["Sample"]), str(row["Well"]), str(row["Assay"])): row["Calc. Concentration"]
        for _, row in reader.plate_data.iterrows()
    }
    assert parsed.metadata["plate"].endswith(reader.well_plate_id)
    compared = 0
    for sample in parsed.samples:
        for cell in sample.values:
            other = theirs[(sample.sample_id, str(sample.well), cell.analyte_label)]
            if cell.kind is ValueKind.NUMBER:
                assert cell.text is not None
                assert float(cell.text) == float(other)
                compared += 1
            else:
                assert other is None or math.isnan(float(other))
    assert compared == 7
