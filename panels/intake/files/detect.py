"""Which layout a file is in, and which delimiter it uses, from its first few KB."""

from __future__ import annotations

LABPANEL_LONG = "labpanel_long"
LABPANEL_WIDE = "labpanel_wide"
MANIFEST = "manifest"
LUMINEX_XPONENT = "luminex_xponent"
BIORAD_BIOPLEX = "biorad_bioplex"
MSD_WORKBENCH = "msd_workbench"
FORMATS = (LABPANEL_LONG, LABPANEL_WIDE, MANIFEST, LUMINEX_XPONENT, BIORAD_BIOPLEX, MSD_WORKBENCH)

DELIMITERS = (",", ";", "\t")
_SCAN_LINES = 60


def _cells(line: str) -> list[str]:
    """Rough split on any candidate delimiter, for keyword spotting only."""
    for delimiter in (";", "\t"):
        line = line.replace(delimiter, ",")
    return [cell.strip().strip('"').strip().casefold() for cell in line.split(",")]


def _lines(head: str) -> list[str]:
    lines = head.lstrip("\ufeff").splitlines()[:_SCAN_LINES]
    if lines and lines[0].casefold().startswith("sep="):
        lines = lines[1:]
    return lines


def header_kind(cells: list[str]) -> str | None:
    """The format a header row (folded cells) belongs to, if it is one of ours."""
    names = set(cells)
    if {"type", "well", "obs conc"} <= names or {"type", "well", "fi - bkgd"} <= names:
        return BIORAD_BIOPLEX
    if {"sample", "assay", "well"} <= names and (
        "calc. concentration" in names or "detection range" in names or "spot" in names
    ):
        return MSD_WORKBENCH
    if "accession" in names or "sample_id" in names:
        if "sample_id" in names and not {"analyte", "value"} & names:
            return MANIFEST
        if {"analyte", "value"} <= names:
            return LABPANEL_LONG
        return LABPANEL_WIDE
    return None


def detect_text(head: str) -> tuple[str | None, int]:
    """The format and the 0-based index (among ``_lines(head)``) of the line that told it."""
    for index, line in enumerate(_lines(head)):
        cells = _cells(line)
        first = cells[0] if cells else ""
        if first == "program" and len(cells) > 1 and cells[1] == "xponent":
            return LUMINEX_XPONENT, index
        if first == "datatype:":
            return LUMINEX_XPONENT, index
        if first.startswith("analyte:") or first.startswith("bio-plex"):
            return BIORAD_BIOPLEX, index
        kind = header_kind(cells)
        if kind is not None:
            return kind, index
    return None, 0


def sniff_delimiter(head: str) -> str:
    """The delimiter of the header line (the line that told the format, else the first one with
    a candidate delimiter): the candidate found most often outside quotes; ',' on a tie."""
    lines = _lines(head)
    raw_first = head.lstrip("\ufeff").splitlines()[:1]
    if raw_first and raw_first[0].casefold().startswith("sep=") and len(raw_first[0]) >= 5:
        declared = raw_first[0][4]
        if declared in DELIMITERS:
            return declared
    _, index = detect_text(head)
    headers = [line for line in lines if header_kind(_cells(line)) is not None]
    candidates = headers[:1] + lines[index : index + 1] + lines
    for line in candidates:
        counts = _count_outside_quotes(line)
        best = max(DELIMITERS, key=lambda delimiter: (counts[delimiter], delimiter == ","))
        if counts[best]:
            return best
    return ","


def _count_outside_quotes(line: str) -> dict[str, int]:
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return counts
