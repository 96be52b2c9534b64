"""The text of a rendered report, line by line, as golden-text tests compare it."""

from __future__ import annotations

import io
import re

import pypdf

# The running header and footer each page repeats (reports.rendering.page_furniture): the
# patient line, "Report N · Accession X · Page i of n", the status, "(continued)", the
# PRELIMINARY mark at the top and foot of every page before release. A section that
# crosses a page break reads on without them.
_FURNITURE = (
    re.compile(r"^Patient: .+ · MRN "),
    re.compile(r" · Page \d+ of \d+$"),
    re.compile(r"^Cytokine panel report \(continued\)"),
    re.compile(r"^PRELIMINARY — not verified/released$"),
)


def body_lines(pdf: bytes, *, status: str = "") -> list[str]:
    """Every non-empty line of ``pdf``, stripped, without the page furniture (and without lines
    that are exactly ``status``, the footer's status label, when given)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [
        line.strip()
        for page in reader.pages
        for line in page.extract_text().splitlines()
        if line.strip()
        and not any(pattern.search(line.strip()) for pattern in _FURNITURE)
        and not (status and line.strip() == status)
    ]
