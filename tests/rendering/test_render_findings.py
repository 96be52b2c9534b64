"""The findings section as drawn: golden text of the page. No database, no Django.

A finding calculated from clinical data carries who supplied it and when (in bold, so it
survives black-and-white printing); the rules not evaluated are one line; a line without a
source prints none.
"""

from __future__ import annotations

import io

import pypdf

from reports.rendering import render_pdf
from reports.rendering.document import FindingLine
from tests.rendering.test_render_pdf import _document

PROVENANCE = (
    "Calculated from clinical data supplied by Ana Tech (tech) at 2026-11-20 09:15 UTC — not "
    "a laboratory measurement."
)
ASTCT = FindingLine(
    name="ASTCT consensus CRS grade",
    status_text="Not met",
    statement=(
        "ASTCT grade not assigned: fever criterion not met (the fever is attributed to another "
        "cause; a fever attributed to another cause is never graded as CRS)"
    ),
    evidence="fever ≥38.0 °C: 38.9 (met)",
    source="Lee DW et al. 2019 — rule ASTCT_2019_CRS_GRADE v2026.2",
    is_verified=True,
    is_positive=False,
    provenance=PROVENANCE,
)
NOT_EVALUATED = FindingLine(
    name="HScore (reactive hemophagocytic syndrome)",
    status_text="Not evaluated",
    statement=(
        "Needed to evaluate them, not supplied with this panel: clinical data: fibrinogen (g/L)."
    ),
    evidence="",
    source="",
    is_verified=True,
    is_positive=False,
)


def _lines(pdf: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [
        line.strip()
        for page in reader.pages
        for line in page.extract_text().splitlines()
        if line.strip()
    ]


def test_findings_section_golden_text() -> None:
    lines = _lines(render_pdf(_document(findings=(ASTCT, NOT_EVALUATED))))

    start = lines.index("Findings")
    end = next(i for i, line in enumerate(lines) if line.startswith("Reference intervals and"))
    assert lines[start:end] == [
        "Findings",
        "ASTCT consensus CRS grade — Not met",
        "ASTCT grade not assigned: fever criterion not met (the fever is attributed to another "
        "cause; a fever attributed to another",
        "cause is never graded as CRS)",
        "Calculated from clinical data supplied by Ana Tech (tech) at 2026-11-20 09:15 UTC — not "
        "a laboratory",
        "measurement.",
        "Evidence: fever ≥38.0 °C: 38.9 (met)",
        "Lee DW et al. 2019 — rule ASTCT_2019_CRS_GRADE v2026.2",
        "HScore (reactive hemophagocytic syndrome) — Not evaluated",
        "Needed to evaluate them, not supplied with this panel: clinical data: fibrinogen (g/L).",
    ]
