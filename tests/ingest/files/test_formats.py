"""Each layout, read from a fixture written in that layout: every value kept as written."""

from __future__ import annotations

import pytest

from panels.intake.files import detect_format
from panels.intake.files.types import SampleKind, ValueKind
from tests.ingest.files.helpers import errors, fixture, manifest, parse, sample, value, where

FIXTURES = {
    "labpanel_long.csv": "labpanel_long",
    "labpanel_wide.csv": "labpanel_wide",
    "manifest.csv": "manifest",
    "luminex_xponent.csv": "luminex_xponent",
    "biorad_bioplex.csv": "biorad_bioplex",
    "msd_workbench.csv": "msd_workbench",
    "msd_workbench.txt": "msd_workbench",
}


@pytest.mark.parametrize(("name", "expected"), FIXTURES.items())
def test_the_format_is_detected_from_the_first_bytes(name: str, expected: str) -> None:
    assert detect_format(fixture(name)[:4096]) == expected
    assert parse(fixture(name)).format == expected


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_parses_without_errors(name: str) -> None:
    assert errors(parse(fixture(name))) == []


def test_detect_format_gives_none_for_other_text() -> None:
    assert detect_format(b"hello,world\n1,2\n") is None
    assert detect_format(b"") is None


def test_long_layout() -> None:
    parsed = parse(fixture("labpanel_long.csv"))

    assert (parsed.encoding, parsed.delimiter, parsed.decimal_separator) == ("utf-8", ",", ".")
    assert parsed.rows_total == 8
    assert [s.sample_id for s in parsed.samples] == ["LP-24-0001", "LP-24-0002", "LP-24-0003"]
    first = sample(parsed, "LP-24-0001")
    assert first.row == 2
    assert first.accession == "LP-24-0001"
    assert first.kind is SampleKind.PATIENT
    assert first.patient is not None
    assert first.patient.collected_at == "2026-11-20T08:30:00Z"
    assert [(c.row, c.analyte_label, c.raw, c.kind, c.text, c.unit) for c in first.values] == [
        (2, "IL-6", "12.4", ValueKind.NUMBER, "12.4", "pg/mL"),
        (3, "TNF-a", "<2.0", ValueKind.NUMBER, "<2.0", "pg/mL"),
        (4, "IFN-γ", ">5000", ValueKind.NUMBER, ">5000", "pg/mL"),
    ]
    assert value(first, "IL-6").column == "value"
    assert value(first, "IL-6").dilution_factor is None
    second = sample(parsed, "LP-24-0002")
    assert value(second, "IL6").text == "3.10"  # trailing zero kept
    assert value(second, "IL6").dilution_factor == "1"
    third = sample(parsed, "LP-24-0003")
    assert third.patient is not None
    assert third.patient.family_name == "Smith, Jr."
    assert third.patient.given_name == "Åsa"
    assert value(third, "IL-6").kind is ValueKind.EMPTY
    assert value(third, "IL-10").dilution_factor == "2"


def test_wide_layout() -> None:
    parsed = parse(fixture("labpanel_wide.csv"))

    first = sample(parsed, "LP-24-0001")
    assert [(c.column, c.analyte_label, c.unit, c.raw, c.kind) for c in first.values] == [
        ("IL-6 (pg/mL)", "IL-6", "pg/mL", "12.4", ValueKind.NUMBER),
        ("TNF-a [pg/mL]", "TNF-a", "pg/mL", "<2.0", ValueKind.NUMBER),
        ("IFN-γ (pg/mL)", "IFN-γ", "pg/mL", ">5000", ValueKind.NUMBER),
        ("sIL-2R (U/mL)", "sIL-2R", "U/mL", "", ValueKind.EMPTY),
    ]
    third = sample(parsed, "LP-24-0003")
    assert value(third, "IL-6").kind is ValueKind.BELOW_RANGE
    assert {c.dilution_factor for c in third.values} == {"2"}


def test_manifest() -> None:
    parsed = manifest(fixture("manifest.csv"))

    assert parsed.format == "manifest"
    assert [(s.sample_id, s.accession, s.row) for s in parsed.samples] == [
        ("LP-24-0001", "LP-24-0001", 2),
        ("LP-24-0002", "LP-24-0002", 3),
        ("LP-24-0003", "LP-24-0003", 4),
    ]
    assert all(s.patient is not None and s.values == () for s in parsed.samples)


def test_luminex_xponent() -> None:
    parsed = parse(fixture("luminex_xponent.csv"))

    assert parsed.metadata["Batch"] == "LP_CYTO_2026-11-20_P1"
    assert parsed.metadata["SN"] == "FM3DX20261120"
    assert parsed.metadata["BatchStartTime"] == "11/20/2026 9:14:02 AM"
    kinds = {s.sample_id: s.kind for s in parsed.samples}
    assert kinds == {
        "Background0": SampleKind.BLANK,
        "Standard1": SampleKind.STANDARD,
        "Standard2": SampleKind.STANDARD,
        "Control1": SampleKind.CONTROL,
        "LP-24-0001": SampleKind.PATIENT,
        "LP-24-0002": SampleKind.PATIENT,
        "LP-24-0003": SampleKind.PATIENT,
    }
    patient = sample(parsed, "LP-24-0002")
    assert patient.well == "F1"
    assert patient.patient is None
    il6 = value(patient, "IL-6")
    assert (il6.column, il6.bead_region, il6.raw, il6.text, il6.unit) == (
        "IL-6 (27)",
        "27",
        "148.20",
        "148.20",
        "pg/mL",
    )
    third = sample(parsed, "LP-24-0003")
    assert value(third, "IL-10").kind is ValueKind.NOT_CALCULABLE
    assert {c.dilution_factor for c in third.values} == {"2"}
    assert value(sample(parsed, "Background0"), "TNF-a").raw == "NaN"


def test_biorad_bioplex() -> None:
    parsed = parse(fixture("biorad_bioplex.csv"))

    assert parsed.metadata["Plate"] == "LP-PLATE-0117"
    assert parsed.metadata["Reader Serial Number"] == "LX10006042011"
    assert sample(parsed, "B").kind is SampleKind.BLANK
    assert sample(parsed, "S1").kind is SampleKind.STANDARD
    assert sample(parsed, "QC Low").kind is SampleKind.CONTROL
    low = sample(parsed, "LP-24-0002")
    assert low.well == "F1"
    assert value(low, "IL-6").kind is ValueKind.BELOW_RANGE
    assert value(low, "IL-6").raw == "OOR <"
    assert value(low, "TNF-a").kind is ValueKind.NOT_CALCULABLE
    high = sample(parsed, "LP-24-0003")
    extrapolated = value(high, "IL-6")
    assert (extrapolated.raw, extrapolated.text, extrapolated.extrapolated) == (
        "*8321.7",
        "8321.7",
        True,
    )
    assert extrapolated.dilution_factor == "4"  # written "1:4"
    assert extrapolated.bead_region == "27"
    assert value(high, "TNF-a").kind is ValueKind.ABOVE_RANGE
    assert value(sample(parsed, "LP-24-0001"), "TNF-a").row == 26


def test_msd_workbench_csv() -> None:
    parsed = parse(fixture("msd_workbench.csv"))

    assert parsed.metadata["plate"] == "Plate_LP20261120A"
    assert [s.well for s in parsed.samples if s.sample_id == "S001"] == ["A01", "A02"]
    assert sample(parsed, "Blank").kind is SampleKind.BLANK
    assert sample(parsed, "C001").kind is SampleKind.CONTROL
    first = sample(parsed, "LP-24-0001")
    assert value(first, "IL-6").text == "12.44"
    assert value(first, "IL-6").dilution_factor == "2"
    assert value(first, "TNF-a").text == "0.318"
    assert where(parsed, "outside_detection_range") == [(10, "Detection Range")]
    second = sample(parsed, "LP-24-0002")
    assert value(second, "IL-6").extrapolated is True
    assert value(second, "TNF-a").kind is ValueKind.BELOW_RANGE
    assert where(parsed, "unit_missing") == [(2, "Calc. Concentration")]


def test_msd_workbench_tab_delimited_with_units() -> None:
    parsed = parse(fixture("msd_workbench.txt"))

    assert parsed.delimiter == "\t"
    assert parsed.metadata["plate"] == "LP20261120B"
    assert sample(parsed, "Calibrator").kind is SampleKind.STANDARD
    patient = sample(parsed, "LP-24-0003")
    assert [(c.analyte_label, c.text, c.unit, c.extrapolated) for c in patient.values] == [
        ("IL-6", "21.07", "pg/mL", False),
        ("IL-10", "0.09", "pg/mL", True),
    ]
    assert parsed.problems == ()
