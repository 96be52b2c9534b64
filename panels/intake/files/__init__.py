"""Pure parsers for the files a technician uploads: Labpanel CSV (long, wide, manifest) and
instrument exports (Luminex xPONENT, Bio-Rad Bio-Plex Manager, MSD Discovery Workbench).

Bytes in, frozen dataclasses out (``types``). Nothing is converted, rounded or guessed, and bad
content never raises: every problem is a ``Problem`` with its line and column. Files are read in
bounded chunks, never whole.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING, BinaryIO

from panels.intake.files import biorad_bioplex, luminex_xponent, msd_workbench
from panels.intake.files.common import Context, Lines, Problems, csv_reader, records
from panels.intake.files.detect import (
    FORMATS,
    LABPANEL_LONG,
    LABPANEL_WIDE,
    MANIFEST,
    detect_text,
    sniff_delimiter,
)
from panels.intake.files.labpanel_long import parse_long
from panels.intake.files.labpanel_manifest import parse_manifest_rows
from panels.intake.files.labpanel_wide import parse_wide
from panels.intake.files.source import decode_head, inspect, text_reader
from panels.intake.files.types import ParsedFile, ParsedSample, ProblemCode

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

__all__ = ["FORMATS", "detect_format", "parse_file", "parse_manifest"]

Parser = Callable[["CsvReader", Context], tuple[list[ParsedSample], dict[str, str]]]
_PARSERS: dict[str, Parser] = {
    LABPANEL_LONG: parse_long,
    LABPANEL_WIDE: parse_wide,
    MANIFEST: parse_manifest_rows,
    luminex_xponent.FORMAT: luminex_xponent.parse,
    biorad_bioplex.FORMAT: biorad_bioplex.parse,
    msd_workbench.FORMAT: msd_workbench.parse,
}


def detect_format(head: bytes) -> str | None:
    """The layout of a file from its first few KB, or None if it is none of ours."""
    return detect_text(decode_head(head))[0]


def parse_file(
    stream: BinaryIO,
    *,
    format: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ParsedFile:
    """Parse an uploaded file; ``format=None`` detects it. ``stream`` must be seekable.

    ``on_progress(rows_done, rows_total)`` is called every ~10,000 lines and once at the end
    (then with ``rows_done == rows_total``).
    """
    return _parse(stream, format, on_progress, default=None)


def parse_manifest(stream: BinaryIO) -> ParsedFile:
    """Parse a manifest CSV (sample_id → accession and patient)."""
    return _parse(stream, MANIFEST, None, default=MANIFEST)


def _parse(
    stream: BinaryIO,
    requested: str | None,
    on_progress: Callable[[int, int], None] | None,
    *,
    default: str | None,
) -> ParsedFile:
    source = inspect(stream)
    problems = Problems(source.problems)
    if not source.readable:
        return _result(requested or default or "unknown", source.encoding, ",", ".", 0, problems)
    detected, _ = detect_text(source.head)
    chosen = requested or detected
    if requested is not None and requested not in _PARSERS:
        problems.add(
            None,
            None,
            ProblemCode.UNKNOWN_FORMAT,
            f"unknown format {requested!r}; expected one of {', '.join(FORMATS)}",
        )
        return _result(requested, source.encoding, ",", ".", source.lines, problems)
    delimiter = sniff_delimiter(source.head)
    if chosen is None:
        problems.add(
            None,
            None,
            ProblemCode.UNKNOWN_FORMAT,
            "the file is not a layout Labpanel reads: expected a Labpanel CSV (header with "
            "accession, mrn, ... analyte, value, unit), a manifest, or an xPONENT, Bio-Plex "
            "Manager or MSD Workbench export",
        )
        return _result("unknown", source.encoding, delimiter, ".", source.lines, problems)
    lines = Lines(total=source.lines, on_progress=on_progress)
    ctx = Context(problems, lines, delimiter, ends_with_newline=source.ends_with_newline)
    with text_reader(stream, source.encoding) as text:
        reader = csv_reader(text, delimiter)
        samples, metadata = _PARSERS[chosen](reader, ctx)
        for _ in records(reader, lines, problems):  # read to the end: every line is counted
            pass
    decimal_separator = ctx.finish_decimals()
    total = max(lines.done, 0)
    if on_progress is not None:
        on_progress(total, total)
    return _result(
        chosen, source.encoding, delimiter, decimal_separator, total, problems, samples, metadata
    )


def _result(
    format_: str,
    encoding: str,
    delimiter: str,
    decimal_separator: str,
    rows_total: int,
    problems: Problems,
    samples: list[ParsedSample] | None = None,
    metadata: dict[str, str] | None = None,
) -> ParsedFile:
    return ParsedFile(
        format=format_,
        encoding=encoding,
        delimiter=delimiter,
        decimal_separator=decimal_separator,
        rows_total=rows_total,
        samples=tuple(samples or ()),
        problems=problems.final(),
        metadata=MappingProxyType(dict(metadata or {})),
    )
