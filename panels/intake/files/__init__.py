"""Pure parsers for the files a technician uploads: Labpanel CSV (long, wide, manifest) and
instrument exports (Luminex xPONENT, Bio-Rad Bio-Plex Manager, MSD Discovery Workbench).

Bytes in, frozen dataclasses out (``types``). Nothing is converted, rounded or guessed, and bad
content never raises: every problem is a ``Problem`` with its line and column. Files are read in
bounded chunks, never whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
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
from panels.intake.files.labpanel_long import SamplesNotGrouped, parse_long, stream_long
from panels.intake.files.labpanel_manifest import parse_manifest_rows
from panels.intake.files.labpanel_wide import parse_wide
from panels.intake.files.source import decode_head, inspect, text_reader
from panels.intake.files.types import ParsedFile, ParsedSample, Problem, ProblemCode

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

__all__ = [
    "FORMATS",
    "SamplesNotGrouped",
    "StreamedFile",
    "detect_format",
    "parse_file",
    "parse_manifest",
    "parse_stream",
]

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
    return StreamedFile(stream, format, on_progress, default=None, grouped=False).parsed()


def parse_stream(
    stream: BinaryIO,
    *,
    format: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> StreamedFile:
    """As ``parse_file``, but the samples come one at a time (``StreamedFile.samples``) while
    the file is read: a long-layout file's sample is handed on as soon as the next accession's
    rows begin, so only that sample is held (other layouts are read whole: one plate at most).
    ``stream`` must stay open until the samples are read."""
    return StreamedFile(stream, format, on_progress, default=None, grouped=True)


def parse_manifest(stream: BinaryIO) -> ParsedFile:
    """Parse a manifest CSV (sample_id → accession and patient)."""
    return StreamedFile(stream, MANIFEST, None, default=MANIFEST, grouped=False).parsed()


class StreamedFile:
    """An uploaded file being parsed.

    Known at once: ``format``, ``encoding``, ``delimiter``. ``samples()`` yields the samples
    (once). Known after them: ``decimal_separator``, ``rows_total``, ``problems()``;
    ``parsed()`` gives everything as one ``ParsedFile`` (the samples all held).
    ``problems_so_far()`` are the problems found up to the sample last handed on: every problem
    of that sample's rows is among them.
    """

    def __init__(
        self,
        stream: BinaryIO,
        requested: str | None,
        on_progress: Callable[[int, int], None] | None,
        *,
        default: str | None,
        grouped: bool,
    ) -> None:
        self._stream = stream
        self._on_progress = on_progress
        self._grouped = grouped
        self._parser: Parser | None = None
        self._metadata: dict[str, str] = {}
        self._ctx: Context | None = None
        self._started = False
        self._finished = False
        source = inspect(stream)
        self._problems = Problems(source.problems)
        self.encoding = source.encoding
        self.delimiter = ","
        self.decimal_separator = "."
        self.rows_total = 0
        self._source = source
        if not source.readable:
            self.format = requested or default or "unknown"
            return
        detected, _ = detect_text(source.head)
        chosen = requested or detected
        self.rows_total = source.lines
        if requested is not None and requested not in _PARSERS:
            self._problems.add(
                None,
                None,
                ProblemCode.UNKNOWN_FORMAT,
                f"unknown format {requested!r}; expected one of {', '.join(FORMATS)}",
            )
            self.format = requested
            return
        self.delimiter = sniff_delimiter(source.head)
        if chosen is None:
            self._problems.add(
                None,
                None,
                ProblemCode.UNKNOWN_FORMAT,
                "the file is not a layout Labpanel reads: expected a Labpanel CSV (header with "
                "accession, mrn, ... analyte, value, unit), a manifest, or an xPONENT, Bio-Plex "
                "Manager or MSD Workbench export",
            )
            self.format = "unknown"
            return
        self.format = chosen
        self._parser = _PARSERS[chosen]

    def samples(self) -> Iterator[ParsedSample]:
        """The samples in order of first appearance, each once (then the file's end is read)."""
        if self._started:
            raise RuntimeError("the samples of a streamed file are read once")
        self._started = True
        if self._parser is None:
            self._finished = True
            return
        source = self._source
        lines = Lines(total=source.lines, on_progress=self._on_progress)
        ctx = self._ctx = Context(
            self._problems, lines, self.delimiter, ends_with_newline=source.ends_with_newline
        )
        with text_reader(self._stream, source.encoding) as text:
            reader = csv_reader(text, self.delimiter)
            if self._parser is parse_long:
                yield from stream_long(reader, ctx, grouped=self._grouped)
            else:
                samples, self._metadata = self._parser(reader, ctx)
                yield from samples
            for _ in records(reader, lines, self._problems):  # every line is counted
                pass
        self.decimal_separator = ctx.finish_decimals()
        self.rows_total = total = max(lines.done, 0)
        if self._on_progress is not None:
            self._on_progress(total, total)
        self._finished = True

    @property
    def metadata(self) -> Mapping[str, str]:
        return MappingProxyType(dict(self._metadata))

    def problems_so_far(self) -> list[Problem]:
        """The problems found so far; with the cell a mixed decimal separator will be reported
        at (``finish_decimals`` reports it when the file ends) as soon as it is known."""
        items = list(self._problems.items)
        ctx = self._ctx
        if ctx is not None and ctx.decimal_comma and ctx.first_comma and ctx.first_point:
            row, column = max(ctx.first_comma, ctx.first_point)
            items.append(
                Problem(row, column, ProblemCode.MIXED_DECIMAL_SEPARATORS.value, "", "error")
            )
        return items

    def problems(self) -> tuple[Problem, ...]:
        """Every problem of the file, once its samples have been read."""
        if not self._finished:
            raise RuntimeError("read the samples first")
        return self._problems.final()

    def parsed(self, samples: Iterable[ParsedSample] | None = None) -> ParsedFile:
        """The whole result (the samples read now, or ``samples`` read before)."""
        held = tuple(self.samples() if samples is None else samples)
        return ParsedFile(
            format=self.format,
            encoding=self.encoding,
            delimiter=self.delimiter,
            decimal_separator=self.decimal_separator,
            rows_total=self.rows_total,
            samples=held,
            problems=self.problems(),
            metadata=self.metadata,
        )
