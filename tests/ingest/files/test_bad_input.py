"""Bad input, each case with the exact problem code, line and column it must produce."""

from __future__ import annotations

import codecs

import pytest

from panels.intake.files.types import ValueKind
from panels.intake.files.values import read_value
from tests.ingest.files.helpers import (
    LONG_HEADER,
    PATIENT,
    PATIENT_2,
    codes,
    errors,
    fixture,
    long_csv,
    manifest,
    parse,
    sample,
    value,
    where,
)

ROW = PATIENT + ",IL-6,12.4,pg/mL"


def _patient(**changes: str) -> str:
    names = LONG_HEADER.split(",")[:9]
    cells = dict(zip(names, PATIENT.split(","), strict=True))
    cells.update(changes)
    return ",".join(cells[name] for name in names)


# ---------------------------------------------------------------- encodings and non-text


def test_utf8_with_bom_is_accepted() -> None:
    parsed = parse(codecs.BOM_UTF8 + long_csv(ROW).encode())

    assert parsed.encoding == "utf-8-sig"
    assert parsed.format == "labpanel_long"
    assert parsed.problems == ()
    assert value(sample(parsed, "LP-1"), "IL-6").text == "12.4"


def test_utf16_with_bom_is_accepted() -> None:
    parsed = parse(long_csv(_patient(family_name="Müller") + ",IL-6,12.4,pg/mL").encode("utf-16"))

    assert parsed.encoding == "utf-16"
    assert parsed.problems == ()
    patient = sample(parsed, "LP-1").patient
    assert patient is not None
    assert patient.family_name == "Müller"


@pytest.mark.parametrize(
    ("extra", "encoding"), [(b"", "cp1252"), (b"\x81", "latin-1")], ids=["cp1252", "latin-1"]
)
def test_a_file_that_is_not_utf8_is_read_as_windows_1252_with_a_warning(
    extra: bytes, encoding: str
) -> None:
    data = long_csv(_patient(family_name="Müller") + ",IL-6,12.4,pg/mL").encode("latin-1")
    parsed = parse(data.replace(b"Jane", b"Jane" + extra))

    assert parsed.encoding == encoding
    assert where(parsed, "bad_encoding") == [(None, None)]
    assert parsed.problems[0].severity == "warning"
    patient = sample(parsed, "LP-1").patient
    assert patient is not None
    assert patient.family_name == "Müller"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"\r\n\r\n,,,\r\n", "empty_file"),
        (codecs.BOM_UTF8, "empty_file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not_text"),
        (b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml", "not_text"),
        (b"accession,mrn\x00\x00\x01\x02", "not_text"),
        (bytes(range(1, 32)) * 20, "not_text"),
        (b"\xff\xfe" + b"a\x00\x00\xd8", "bad_encoding"),  # UTF-16 with a lone surrogate
        (b"hello,world\nnothing,here\n", "unknown_format"),
    ],
    ids=["zero-bytes", "blank-lines", "bom-only", "png", "xlsx", "nul", "controls", "utf16", "?"],
)
def test_files_that_cannot_be_read(data: bytes, code: str) -> None:
    parsed = parse(data)

    assert codes(parsed) == [code]
    assert where(parsed, code) == [(None, None)]
    assert parsed.samples == ()


# ---------------------------------------------------------------- delimiters and decimals


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_or_tab_files_take_a_decimal_comma(delimiter: str) -> None:
    text = long_csv(ROW.replace("12.4", "12,4")).replace(",", delimiter).replace("12;4", "12,4")
    text = text.replace("12\t4", "12,4")
    parsed = parse(text)

    assert (parsed.delimiter, parsed.decimal_separator) == (delimiter, ",")
    cell = value(sample(parsed, "LP-1"), "IL-6")
    assert (cell.raw, cell.text, cell.kind) == ("12,4", "12.4", ValueKind.NUMBER)
    assert parsed.problems == ()


def test_excel_sep_line_declares_the_delimiter() -> None:
    parsed = parse("sep=;\n" + long_csv(ROW).replace(",", ";"))

    assert parsed.delimiter == ";"
    assert parsed.problems == ()
    assert value(sample(parsed, "LP-1"), "IL-6").row == 3


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (long_csv(PATIENT + ',IL-6,"12,4",pg/mL'), "decimal_comma_ambiguous"),
        (long_csv(PATIENT + ',IL-6,"1,234.5",pg/mL'), "thousands_separator"),
        (long_csv(ROW).replace(",", ";").replace("12.4", "1.234,5"), "thousands_separator"),
        (long_csv(ROW.replace("12.4", "1.234.567")), "thousands_separator"),
    ],
    ids=["comma-in-csv", "1,234.5", "1.234,5", "1.234.567"],
)
def test_ambiguous_separators_are_errors_never_guessed(text: str, code: str) -> None:
    parsed = parse(text)

    assert where(parsed, code) == [(2, "value")]
    cell = value(sample(parsed, "LP-1"), "IL-6")
    assert cell.kind is ValueKind.NOT_CALCULABLE
    assert cell.text is None


def test_mixed_decimal_separators_are_an_error() -> None:
    text = long_csv(ROW.replace("12.4", "12,4"), PATIENT + ",TNF-a,3.5,pg/mL")
    parsed = parse(text.replace(",", ";").replace("12;4", "12,4"))

    assert where(parsed, "mixed_decimal_separators") == [(3, "value")]


# ---------------------------------------------------------------- dates and identifiers


@pytest.mark.parametrize(
    ("changes", "code", "column"),
    [
        ({"birth_date": "3/4/2026"}, "date_ambiguous", "birth_date"),
        ({"collected_at": "03/04/2026 08:30"}, "date_ambiguous", "collected_at"),
        ({"birth_date": "#####"}, "date_mangled", "birth_date"),
        ({"collected_at": "46000"}, "date_mangled", "collected_at"),
        ({"collected_at": "46000.35417"}, "date_mangled", "collected_at"),
        ({"mrn": "1.2E+10"}, "id_mangled", "mrn"),
        ({"accession": "1.23457E+11"}, "id_mangled", "accession"),
        ({"mrn": "########"}, "id_mangled", "mrn"),
    ],
)
def test_spreadsheet_mangled_dates_and_ids(changes: dict[str, str], code: str, column: str) -> None:
    parsed = parse(long_csv(_patient(**changes) + ",IL-6,12.4,pg/mL"))

    assert codes(parsed) == [code]
    assert where(parsed, code) == [(2, column)]
    assert parsed.samples[0].values[0].text == "12.4"  # the rest of the row is still read


@pytest.mark.parametrize(
    "changes",
    [
        {"collected_at": "2026-11-20 08:30"},
        {"birth_date": "24/3/1980"},
        {"birth_date": "3/3/1980"},
        {"collected_at": "2026-11-20T08:30:00+01:00"},
    ],
)
def test_dates_that_are_not_ambiguous_are_kept_as_written(changes: dict[str, str]) -> None:
    parsed = parse(long_csv(_patient(**changes) + ",IL-6,12.4,pg/mL"))

    assert parsed.problems == ()
    patient = parsed.samples[0].patient
    assert patient is not None
    name, written = next(iter(changes.items()))
    assert getattr(patient, name) == written


# ---------------------------------------------------------------- cells and rows


def test_an_empty_value_cell_is_empty_not_an_error() -> None:
    parsed = parse(long_csv(PATIENT + ",IL-6,,pg/mL"))

    assert parsed.problems == ()
    assert value(sample(parsed, "LP-1"), "IL-6").kind is ValueKind.EMPTY


@pytest.mark.parametrize(
    ("second", "code", "words"),
    [
        (ROW, "duplicate_row", "duplicate row, first at line 2"),
        (ROW.replace("12.4", "13.0"), "duplicate_row", "'13.0' here but '12.4' on line 2"),
        (ROW.replace("12.4,pg/mL", "0.0124,ng/mL"), "value_two_units", "ng/mL here"),
    ],
    ids=["same-value", "other-value", "other-unit"],
)
def test_a_result_given_twice(second: str, code: str, words: str) -> None:
    parsed = parse(long_csv(ROW, PATIENT + ",TNF-a,1.0,pg/mL", second))

    assert codes(parsed) == [code]
    assert where(parsed, code) == [(4, "value")]
    assert words in parsed.problems[0].message
    assert [c.raw for c in sample(parsed, "LP-1").values] == ["12.4", "1.0"]


def test_a_patient_field_that_differs_within_one_accession() -> None:
    parsed = parse(long_csv(ROW, _patient(mrn="MRN-9", sex="male") + ",TNF-a,1.0,pg/mL"))

    assert where(parsed, "patient_field_differs") == [(3, "mrn"), (3, "sex")]
    assert "'MRN-9' but 'MRN-1' on line 2" in parsed.problems[0].message


def test_a_row_without_accession() -> None:
    parsed = parse(long_csv(ROW, _patient(accession="") + ",TNF-a,1.0,pg/mL"))

    assert where(parsed, "sample_without_id") == [(3, "accession")]
    assert len(sample(parsed, "LP-1").values) == 1


def test_a_row_without_analyte() -> None:
    parsed = parse(long_csv(PATIENT + ",,1.0,pg/mL"))

    assert where(parsed, "analyte_missing") == [(2, "analyte")]


def test_a_row_with_an_extra_cell_is_not_read() -> None:
    parsed = parse(long_csv(ROW, PATIENT + ",TNF-a,1,0,pg/mL", PATIENT_2 + ",IL-6,2.0,pg/mL"))

    assert where(parsed, "row_length") == [(3, None)]
    assert len(parsed.samples) == 2


def test_trailing_empty_cells_are_harmless() -> None:
    parsed = parse(long_csv(ROW + ",,,"))

    assert parsed.problems == ()


def test_a_short_row_in_the_middle() -> None:
    parsed = parse(long_csv(ROW, PATIENT + ",TNF-a", PATIENT_2 + ",IL-6,2.0,pg/mL"))

    assert where(parsed, "row_length") == [(3, None)]


# ---------------------------------------------------------------- truncation


def test_a_last_line_cut_mid_row_is_truncated() -> None:
    text = long_csv(ROW, PATIENT_2 + ",IL-6,2.0,pg/mL")
    parsed = parse(text[: text.rindex(",IL-6") + 5])

    assert where(parsed, "truncated") == [(3, None)]
    assert [s.sample_id for s in parsed.samples] == ["LP-1"]


def test_a_last_line_without_newline_but_complete_is_fine() -> None:
    parsed = parse(long_csv(ROW).rstrip("\n"))

    assert parsed.problems == ()
    assert parsed.rows_total == 2


def test_an_unterminated_quote_at_the_end_is_truncated() -> None:
    parsed = parse(long_csv(ROW, PATIENT_2 + ',IL-6,"2.0,pg/mL'))

    assert where(parsed, "truncated") == [(3, None)]
    assert [s.sample_id for s in parsed.samples] == ["LP-1"]


def _xponent_without(section: str) -> bytes:
    lines = fixture("luminex_xponent.csv").decode().split("\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"DataType:,{section},"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].strip(","))
    return "\r\n".join(lines[:start] + lines[end + 1 :]).encode()


@pytest.mark.parametrize("section", ["Dilution Factor", "Units", "Result"])
def test_an_xponent_export_missing_a_required_section_is_truncated(section: str) -> None:
    parsed = parse(_xponent_without(section))

    assert codes(parsed) == ["truncated"] or "truncated" in codes(parsed)
    assert section in next(p.message for p in parsed.problems if p.code == "truncated")


def test_an_xponent_export_that_ends_inside_a_section_is_truncated() -> None:
    lines = fixture("luminex_xponent.csv").decode().split("\r\n")
    cut = next(i for i, line in enumerate(lines) if line.startswith('"3(1,C1)",Standard2,'))
    dilution = next(i for i, line in enumerate(lines) if "Dilution Factor" in line)
    parsed = parse("\r\n".join(lines[: max(cut, dilution + 4)]))

    assert where(parsed, "truncated") == [(dilution + 4, None)]


@pytest.mark.parametrize("name", ["biorad_bioplex.csv", "msd_workbench.csv"])
def test_a_vendor_export_cut_mid_row_is_truncated(name: str) -> None:
    text = fixture(name).decode().rstrip("\r\n")
    parsed = parse(text[: text.rindex(",", 0, len(text) - 12)])

    assert where(parsed, "truncated") == [(text.count("\n") + 1, None)]


# ---------------------------------------------------------------- formulas


@pytest.mark.parametrize(
    "formula", ["=cmd|' /C calc'!A0", "+SUM(A1:A3)", "-2+3", "@SUM(A1)", "=1+1"]
)
def test_a_formula_in_a_value_cell_is_kept_as_text_and_not_a_number(formula: str) -> None:
    parsed = parse(long_csv(PATIENT + f',IL-6,"{formula}",pg/mL'))

    assert sorted(codes(parsed)) == ["formula_in_cell", "value_not_number"]
    assert where(parsed, "formula_in_cell") == [(2, "value")]
    assert where(parsed, "value_not_number") == [(2, "value")]
    cell = value(sample(parsed, "LP-1"), "IL-6")
    assert (cell.raw, cell.kind, cell.text) == (formula, ValueKind.NOT_CALCULABLE, None)


def test_a_formula_in_a_patient_field_is_a_warning_and_kept_exactly() -> None:
    formula = "=cmd|' /C calc'!A0"
    parsed = parse(long_csv(_patient(family_name=f'"{formula}"') + ",IL-6,12.4,pg/mL"))

    assert where(parsed, "formula_in_cell") == [(2, "family_name")]
    assert [p.severity for p in parsed.problems] == ["warning"]
    patient = sample(parsed, "LP-1").patient
    assert patient is not None
    assert patient.family_name == formula


def test_a_formula_in_the_analyte_column_is_a_warning() -> None:
    parsed = parse(long_csv(PATIENT + ',"=HYPERLINK(""x"")",1.0,pg/mL'))

    assert where(parsed, "formula_in_cell") == [(2, "analyte")]


# ---------------------------------------------------------------- headers


def test_unknown_columns_are_warnings_naming_each() -> None:
    parsed = parse(long_csv(ROW + ",x,y", header=LONG_HEADER + ",comment,Lot No"))

    assert where(parsed, "unknown_column") == [(1, "comment"), (1, "Lot No")]
    assert {p.severity for p in parsed.problems} == {"warning"}


def test_missing_columns_are_one_error_listing_all() -> None:
    header = LONG_HEADER.replace("mrn,", "").replace(",unit", "")
    parsed = parse(
        long_csv("LP-1,Doe,Jane,1980-04-02,female,plasma,x,dr.house,IL-6", header=header)
    )

    assert where(parsed, "missing_column") == [(1, None)]
    assert "mrn, unit" in parsed.problems[0].message
    assert parsed.samples == ()


def test_header_names_are_case_insensitive_and_in_any_order() -> None:
    names = LONG_HEADER.split(",")
    header = ",".join(name.upper() for name in reversed(names))
    row = ",".join(reversed(ROW.split(",")))
    parsed = parse(long_csv(row, header=header))

    assert parsed.problems == ()
    assert value(sample(parsed, "LP-1"), "IL-6").column == "VALUE"


@pytest.mark.parametrize("column", ["IL-6", "IL-12 (p70)", "TNF-a ()"])
def test_a_wide_column_without_unit(column: str) -> None:
    header = LONG_HEADER.rsplit(",", 3)[0] + f",IL-10 (pg/mL),{column}"
    parsed = parse(long_csv(PATIENT + ",1.0,2.0", header=header))

    assert where(parsed, "unit_missing") == [(1, column)]
    cell = value(sample(parsed, "LP-1"), column)
    assert (cell.unit, cell.raw) == (None, "2.0")


def test_a_wide_analyte_in_two_units_in_one_row() -> None:
    header = LONG_HEADER.rsplit(",", 3)[0] + ",IL-6 (pg/mL),IL-6 (ng/mL)"
    parsed = parse(long_csv(PATIENT + ",12.4,0.0124", PATIENT_2 + ",3.1,", header=header))

    assert where(parsed, "value_two_units") == [(2, "IL-6 (ng/mL)")]
    filled = [c.raw for c in sample(parsed, "LP-2").values if c.kind is not ValueKind.EMPTY]
    assert filled == ["3.1"]


def test_a_wide_accession_on_two_rows() -> None:
    header = LONG_HEADER.rsplit(",", 3)[0] + ",IL-6 (pg/mL)"
    parsed = parse(long_csv(PATIENT + ",12.4", PATIENT + ",12.4", header=header))

    assert where(parsed, "duplicate_row") == [(3, "accession")]


def test_a_manifest_row_without_sample_id() -> None:
    text = fixture("manifest.csv").decode().replace("\r\nLP-24-0002,", "\r\n,")
    parsed = manifest(text)

    assert where(parsed, "sample_without_id") == [(3, "sample_id")]
    assert len(parsed.samples) == 2


# ---------------------------------------------------------------- vendor samples


def test_a_bioplex_unknown_without_description_has_no_sample_id() -> None:
    text = (
        fixture("biorad_bioplex.csv").decode().replace("X1,E1,,LP-24-0001,350.5", "X1,E1,,,350.5")
    )
    parsed = parse(text)

    assert where(parsed, "sample_without_id") == [(15, "Description")]


def test_a_bioplex_unknown_sample_type() -> None:
    text = fixture("biorad_bioplex.csv").decode().replace("X2,F1,", "Q2,F1,", 1)
    parsed = parse(text)

    assert where(parsed, "unknown_sample_type") == [(16, "Type")]


def test_an_xponent_well_without_sample_name() -> None:
    text = fixture("luminex_xponent.csv").decode()
    text = text.replace('"6(1,F1)",LP-24-0002,148.20', '"6(1,F1)",,148.20')
    parsed = parse(text)

    assert where(parsed, "sample_without_id") == [(64, "Sample")]
    assert errors(parsed) == [p for p in parsed.problems if p.code == "sample_without_id"]


def test_an_xponent_location_twice() -> None:
    lines = fixture("luminex_xponent.csv").decode().split("\r\n")
    at = next(i for i, line in enumerate(lines) if line.startswith('"5(1,E1)",LP-24-0001,12.4'))
    parsed = parse("\r\n".join([*lines[: at + 1], lines[at], *lines[at + 1 :]]))

    assert where(parsed, "duplicate_row") == [(at + 2, "Location")]


def test_an_msd_row_without_sample_name() -> None:
    text = fixture("msd_workbench.csv").decode().replace("\r\nLP-24-0002,IL-6,", "\r\n,IL-6,")
    parsed = parse(text)

    assert where(parsed, "sample_without_id") == [(11, "Sample")]


def test_an_msd_value_given_twice_for_one_well_and_spot() -> None:
    lines = fixture("msd_workbench.csv").decode().split("\r\n")
    parsed = parse("\r\n".join([*lines[:9], lines[8], *lines[9:]]))

    assert where(parsed, "duplicate_row") == [(10, "Calc. Concentration")]


def test_replicate_wells_of_a_patient_sample_are_a_warning() -> None:
    text = (
        fixture("msd_workbench.csv").decode().replace("LP-24-0002,IL-6,C02", "LP-24-0001,IL-6,C02")
    )
    text = text.replace("LP-24-0002,TNF-a,C02", "LP-24-0001,TNF-a,C02")
    parsed = parse(text)

    assert where(parsed, "replicate_wells") == [(11, None)]
    assert [s.well for s in parsed.samples if s.sample_id == "LP-24-0001"] == ["C01", "C02"]


# ---------------------------------------------------------------- how one cell reads


@pytest.mark.parametrize(
    ("raw", "kind", "text", "extrapolated"),
    [
        ("12.4", ValueKind.NUMBER, "12.4", False),
        (" 12.40 ", ValueKind.NUMBER, "12.40", False),
        ("0", ValueKind.NUMBER, "0", False),
        ("<1.5", ValueKind.NUMBER, "<1.5", False),
        ("< 1.5", ValueKind.NUMBER, "<1.5", False),
        ("> 5000", ValueKind.NUMBER, ">5000", False),
        ("<=0.8", ValueKind.NUMBER, "<=0.8", False),
        ("≤0.8", ValueKind.NUMBER, "≤0.8", False),
        ("≥12", ValueKind.NUMBER, "≥12", False),
        ("*3.21", ValueKind.NUMBER, "3.21", True),
        ("*<3.21", ValueKind.NUMBER, "<3.21", True),
        ("OOR <", ValueKind.BELOW_RANGE, None, False),
        ("oor  >", ValueKind.ABOVE_RANGE, None, False),
        ("Below Fit Curve Range", ValueKind.BELOW_RANGE, None, False),
        ("Above Detection Range", ValueKind.ABOVE_RANGE, None, False),
        ("***", ValueKind.NOT_CALCULABLE, None, False),
        ("NaN", ValueKind.NOT_CALCULABLE, None, False),
        ("N/A", ValueKind.NOT_CALCULABLE, None, False),
        ("#DIV/0!", ValueKind.NOT_CALCULABLE, None, False),
        ("", ValueKind.EMPTY, None, False),
        ("  ", ValueKind.EMPTY, None, False),
    ],
)
def test_how_a_cell_reads(raw: str, kind: ValueKind, text: str | None, extrapolated: bool) -> None:
    reading = read_value(raw, decimal_comma=False)

    assert (reading.kind, reading.text, reading.extrapolated, reading.code) == (
        kind,
        text,
        extrapolated,
        None,
    )


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        ("abc", "value_not_number", "not a number"),
        ("-5", "value_not_number", "negative"),
        ("1.2E+3", "value_not_number", "scientific notation"),
        ("12.4 pg/mL", "value_not_number", "not a number"),
        (".5", "value_not_number", "not a number"),
        ("5.", "value_not_number", "not a number"),
        ("١٢", "value_not_number", "not a number"),  # Arabic-Indic digits are not read as 12
        ("12,4", "decimal_comma_ambiguous", "ambiguous"),
        ("1,234.5", "thousands_separator", "thousands"),
    ],
)
def test_cells_that_are_refused(raw: str, code: str, words: str) -> None:
    reading = read_value(raw, decimal_comma=False)

    assert (reading.kind, reading.text, reading.code) == (ValueKind.NOT_CALCULABLE, None, code)
    assert reading.message is not None
    assert words in reading.message
