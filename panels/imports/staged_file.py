"""The staged import: what validation concluded, one JSON line per panel, gzipped.

It is both the preview the technician reads and what the commit stores — the same bytes, so a
commit stores exactly what was shown. Each line holds the panel as shown (patient, specimen,
every result with its interpretation, findings, trend, summary) and, under ``"store"``, the
ids the commit needs (catalogue analyte, rule, matched patient, clinician), never shown.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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


def staged_member(line: dict[str, Any]) -> bytes:
    """One line as a gzip member of its own: a staged file is the members concatenated in
    file order (a valid gzip stream), so lines can be made in any order and held compressed."""
    return gzip.compress(orjson.dumps(line) + b"\n", compresslevel=1, mtime=0)


@dataclass
class StagedKeys:
    """What a staged file's basis is computed from: the rows it would point at or create."""

    matched: list[int]  # patient ids the panels attach to
    new_mrns: list[str]  # patients it would create
    accessions: list[str]
    clinicians: list[int]

    def as_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "new_mrns": self.new_mrns,
            "accessions": self.accessions,
            "clinicians": self.clinicians,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StagedKeys:
        return cls(
            matched=list(data.get("matched", [])),
            new_mrns=list(data.get("new_mrns", [])),
            accessions=list(data.get("accessions", [])),
            clinicians=list(data.get("clinicians", [])),
        )

    @classmethod
    def of(cls, panels: Sequence[PreparedPanel]) -> StagedKeys:
        submissions = [panel.staged.submission for panel in panels]
        return cls(
            matched=sorted({p.patient_id for p in panels if p.patient_id is not None}),
            new_mrns=sorted(
                {p.staged.submission.patient.mrn for p in panels if p.patient_id is None}
            ),
            accessions=sorted(s.accession for s in submissions),
            clinicians=sorted({s.ordering_clinician.pk for s in submissions}),
        )


def staged_lines(raw: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Every line of a staged file (streamed)."""
    with gzip.GzipFile(fileobj=raw) as lines:
        for line in lines:
            yield orjson.loads(line)


def shown(line: dict[str, Any]) -> dict[str, Any]:
    """The line as the preview shows it (without the ids kept for the commit)."""
    return {key: value for key, value in line.items() if key != STORE}
