"""Labpanel's manifest: the CSV that maps instrument sample IDs to accessions and patients."""

from __future__ import annotations

from typing import TYPE_CHECKING

from panels.intake.files.common import (
    Context,
    check_identifier,
    records,
)
from panels.intake.files.labpanel import (
    MANIFEST_COLUMNS,
    SPECIMEN_COLUMNS,
    Patients,
    Rows,
    read_header,
    warn_unknown,
)
from panels.intake.files.types import (
    ParsedSample,
    ProblemCode,
    SampleKind,
)

if TYPE_CHECKING:
    from _csv import Reader as CsvReader


def parse_manifest_rows(
    reader: CsvReader, ctx: Context
) -> tuple[list[ParsedSample], dict[str, str]]:
    known = (*MANIFEST_COLUMNS, *SPECIMEN_COLUMNS)
    rows_in = records(reader, ctx.lines, ctx.problems)
    header = read_header(rows_in, ctx, known=known, required=MANIFEST_COLUMNS)
    if header is None:
        return [], {}
    warn_unknown(header, ctx, known=known)
    patients = Patients(header, ctx, id_column="sample_id")
    i_sample, i_accession = header.index["sample_id"], header.index["accession"]
    sample_column, accession_column = header.cells[i_sample], header.cells[i_accession]
    samples: list[ParsedSample] = []
    rows = Rows(rows_in, header, ctx)
    for start, row in rows:
        sample_id = row[i_sample].strip()
        accession = row[i_accession].strip()
        if not sample_id:
            patients.missing_id(start, row)
            continue
        check_identifier(sample_id, start, sample_column, ctx.problems, what="sample ID")
        check_identifier(accession, start, accession_column, ctx.problems, what="accession")
        fields, _ = patients.read(start, row)
        samples.append(
            ParsedSample(
                row=start,
                sample_id=sample_id,
                kind=SampleKind.PATIENT,
                well=None,
                patient=fields,
                values=(),
                accession=accession or None,
            )
        )
    if rows.data_rows == 0:
        ctx.problems.add(None, None, ProblemCode.NO_ROWS, "the manifest has no data rows")
    return samples, {}
