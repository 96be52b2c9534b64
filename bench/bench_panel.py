"""The panel the benchmarks post: a full 13-cytokine panel of a new patient, values chosen to
give low, normal, high and censored results (``bench/post_to_pdf.py``, ``bench/load_deployed.py``).
"""

from __future__ import annotations

from typing import Any

ANALYTES = (
    ("SIL2R", "900"),
    ("IL12P70", "3.1"),
    ("IFNG", "25.0"),
    ("IL4", "<1.0"),
    ("IL5", "1.9"),
    ("IL10", "12.7"),
    ("IL13", "2.2"),
    ("IL1B", "7.4"),
    ("IL6", "148.2"),
    ("IL8", "30.5"),
    ("TNFA", "16.1"),
    ("IL2", "2.0"),
    ("IL17A", ">500"),
)


def bench_panel(
    *, accession: str, mrn: str, given_name: str, sex: str, clinician: str
) -> dict[str, Any]:
    """The submission (``POST /api/v1/panels/`` body) of one panel, patient born 1970-01-01."""
    return {
        "accession": accession,
        "patient": {
            "mrn": mrn,
            "family_name": "Bench",
            "given_name": given_name,
            "birth_date": "1970-01-01",
            "sex": sex,
        },
        "specimen": {"type": "plasma", "collected_at": "2026-11-20T08:30:00Z"},
        "ordering_clinician": clinician,
        "results": [{"analyte": code, "value": value, "unit": "pg/mL"} for code, value in ANALYTES],
    }
