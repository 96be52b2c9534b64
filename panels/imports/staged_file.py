"""The staged import: what validation concluded, one JSON line per panel, gzipped.

It is both the preview the technician reads and what the commit stores — the same bytes, so a
commit stores exactly what was shown. Each line holds the panel as shown (patient, specimen,
every result with its interpretation, findings, trend, summary) and, under ``"store"``, the
ids the commit needs (catalogue analyte, rule, matched patient, clinician), never shown.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator, Sequence
from typing import IO, Any

import orjson

from panels.imports.conclusions import Conclusions
from panels.imports.prepare import PreparedPanel

STORE = "store"


def _text(value: Any) -> str | None:
    return None if value is None else format(value, "f")


def staged_line(
    panel: PreparedPanel, conclusions: Conclusions, rule_ids: dict[str, int]
) -> dict[str, Any]:
    staged = panel.staged
    submission = staged.submission
    patient = submission.patient
    results = []
    store_results = []
    for (row, column), result, interpretation in zip(
        staged.positions, submission.results, panel.interpretations, strict=True
    ):
        results.append(
            {
                "row": row,
                "column": column,
                "analyte": result.analyte.code,
                "analyte_as_received": result.analyte_as_received,
                "raw_value": result.raw_value,
                "value": result.reported.text,
                "unit": result.unit,
                "dilution_factor": _text(result.dilution_factor),
                "interpretation": interpretation.code.value if interpretation.code else None,
                "reference_interval": interpretation.reference_text,
                "conversion": interpretation.conversion,
                "reason": interpretation.reason,
                "rule": interpretation.rule_key,
            }
        )
        store_results.append(
            [
                result.analyte.pk,
                rule_ids.get(interpretation.rule_key) if interpretation.rule_key else None,
                result.reported.comparator.value,
                format(result.reported.value, "f"),
                result.reported.scale,
                result.sender_range,
                result.sender_flags,
            ]
        )
    return {
        "sample_id": staged.sample_id,
        "row": staged.row,
        "well": staged.well,
        "accession": submission.accession,
        "patient": {
            "mrn": patient.mrn,
            "family_name": patient.family_name,
            "given_name": patient.given_name,
            "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
            "sex": patient.sex,
            "status": "new" if panel.patient_id is None else "matched",
        },
        "specimen": {
            "type": submission.specimen_type,
            "collected_at": submission.collected_at.isoformat(),
        },
        "ordering_clinician": submission.ordering_clinician.get_username(),
        "results": results,
        "findings": conclusions.findings,
        "summary": conclusions.summary,
        "serial": conclusions.serial,
        STORE: {
            "patient_id": panel.patient_id,
            "ordering_clinician_id": submission.ordering_clinician.pk,
            "content_sha256": panel.content_sha256,
            "anchor_event_id": conclusions.anchor_event_id,
            "results": store_results,
        },
    }


def staged_file_bytes(lines: Sequence[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1, mtime=0) as out:
        for line in lines:
            out.write(orjson.dumps(line))
            out.write(b"\n")
    return buffer.getvalue()


def staged_lines(raw: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Every line of a staged file (streamed)."""
    with gzip.GzipFile(fileobj=raw) as lines:
        for line in lines:
            yield orjson.loads(line)


def shown(line: dict[str, Any]) -> dict[str, Any]:
    """The line as the preview shows it (without the ids kept for the commit)."""
    return {key: value for key, value in line.items() if key != STORE}
