"""The staged import: what validation concluded, one compact record per panel.

It is both the preview the technician reads and what the commit stores: the commit renders
each record's rows in PostgreSQL COPY text (``panels.intake.imports.staged_rows``) and streams
them to ``COPY ... FROM STDIN``, so it stores exactly what was shown.

Layout: ``MAGIC``, then one record per panel in file order, each a 4-byte big-endian length and
a zstd-compressed JSON body (records are made in any order and held compressed until written).
A record holds the panel as shown (patient, specimen, every result with its interpretation,
findings, trend, summary) and the ids the rows point at (catalogue analyte, rule, matched
patient, clinician).
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

import orjson
import zstandard

from panels.intake.imports.conclusions import Conclusions
from panels.intake.imports.prepare import PreparedPanel

MAGIC = b"labpanel-staged/3\n"  # 3: received time, specimen condition, method, instrument


_LENGTH = struct.Struct(">I")
# zstd level 1: as small as zlib's fastest level, in much less time (figures:
# bench/import_csv.py). A (de)compressor is not to be shared between threads: one each.
_codecs = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    if not hasattr(_codecs, "compressor"):
        _codecs.compressor = zstandard.ZstdCompressor(level=1)
    return cast(zstandard.ZstdCompressor, _codecs.compressor)


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_codecs, "decompressor"):
        _codecs.decompressor = zstandard.ZstdDecompressor()
    return cast(zstandard.ZstdDecompressor, _codecs.decompressor)


class StagedFileError(Exception):
    """The staged file is not one this version wrote, or is cut short."""


# Fields of a staged result, in order.
(
    R_ROW,
    R_COLUMN,
    R_ANALYTE_ID,
    R_ANALYTE,
    R_AS_RECEIVED,
    R_RAW,
    R_COMPARATOR,
    R_VALUE,
    R_SCALE,
    R_UNIT,
    R_DILUTION,
    R_INTERPRETATION,
    R_CONVERSION,
    R_REASON,
    R_REFERENCE,
    R_RULE_ID,
    R_RULE,
    R_SENDER_RANGE,
    R_SENDER_FLAGS,
    R_METHOD,
    R_INSTRUMENT,
) = range(21)


def staged_record(
    panel: PreparedPanel,
    conclusions: Conclusions,
    rule_ids: dict[str, int],
    report_uuid: str,
) -> bytes:
    """The record of one panel, compressed and framed."""
    staged = panel.staged
    submission = staged.submission
    patient = submission.patient
    results = []
    for (row, column), result, interpretation in zip(
        staged.positions, submission.results, panel.interpretations, strict=True
    ):
        reported = result.reported
        rule = interpretation.rule_key
        code = interpretation.code
        dilution = result.dilution_factor
        results.append(
            (
                row,
                column,
                result.analyte.pk,
                result.analyte.code,
                result.analyte_as_received,
                result.raw_value,
                reported.comparator.value,
                reported.text[len(reported.comparator.value) :],
                reported.scale,
                result.unit,
                None if dilution is None else format(dilution, "f"),
                code.value if code else "",
                interpretation.conversion or "",
                interpretation.reason,
                interpretation.reference_text or "",
                rule_ids.get(rule) if rule else None,
                rule,
                result.sender_range,
                result.sender_flags,
                result.method,
                result.instrument,
            )
        )
    record = {
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
        "patient_id": panel.patient_id,
        "specimen_type": submission.specimen_type,
        "collected_at": submission.collected_at.isoformat(),
        "received_at": submission.received_at.isoformat() if submission.received_at else None,
        "specimen_condition": submission.specimen_condition,
        "clinician": [submission.ordering_clinician.pk, submission.ordering_clinician.username],
        "content_sha256": panel.content_sha256,
        "anchor_event_id": conclusions.anchor_event_id,
        "results": results,
        "findings": conclusions.findings,
        "serial": conclusions.serial,
        "summary": conclusions.summary,
        "report_uuid": report_uuid,
    }
    body = _compressor().compress(orjson.dumps(record))
    return _LENGTH.pack(len(body)) + body


def staged_file(records: Sequence[bytes]) -> Iterator[bytes]:
    """The staged file's bytes, piece by piece (records in file order)."""
    yield MAGIC
    yield from records


def _bodies(raw: IO[bytes], *, skip: int = 0) -> Iterator[bytes]:
    if raw.read(len(MAGIC)) != MAGIC:
        raise StagedFileError("the staged file was written by another version; validate again")
    index = 0
    while True:
        prefix = raw.read(_LENGTH.size)
        if not prefix:
            return
        if len(prefix) != _LENGTH.size:
            raise StagedFileError("the staged file is cut short")
        (size,) = _LENGTH.unpack(prefix)
        if index < skip:
            raw.seek(size, 1)
        else:
            body = raw.read(size)
            if len(body) != size:
                raise StagedFileError("the staged file is cut short")
            yield body
        index += 1


def staged_records(raw: IO[bytes], *, skip: int = 0) -> Iterator[dict[str, Any]]:
    """The records of a staged file in file order (streamed), the first ``skip`` passed over
    without being read."""
    decompressor = _decompressor()
    for body in _bodies(raw, skip=skip):
        yield orjson.loads(decompressor.decompress(body))


def shown(record: dict[str, Any]) -> dict[str, Any]:
    """The panel as the preview shows it."""
    return {
        "sample_id": record["sample_id"],
        "row": record["row"],
        "well": record["well"],
        "accession": record["accession"],
        "patient": record["patient"],
        "specimen": {
            "type": record["specimen_type"],
            "collected_at": record["collected_at"],
            "received_at": record["received_at"],
            "condition": record["specimen_condition"],
        },
        "ordering_clinician": record["clinician"][1],
        "results": [
            {
                "row": result[R_ROW],
                "column": result[R_COLUMN],
                "analyte": result[R_ANALYTE],
                "analyte_as_received": result[R_AS_RECEIVED],
                "raw_value": result[R_RAW],
                "value": result[R_COMPARATOR] + result[R_VALUE],
                "unit": result[R_UNIT],
                "dilution_factor": result[R_DILUTION],
                "interpretation": result[R_INTERPRETATION] or None,
                "reference_interval": result[R_REFERENCE] or None,
                "conversion": result[R_CONVERSION] or None,
                "reason": result[R_REASON],
                "rule": result[R_RULE],
                "method": result[R_METHOD],
                "instrument": result[R_INSTRUMENT],
            }
            for result in record["results"]
        ],
        "findings": record["findings"],
        "summary": record["summary"],
        "serial": record["serial"],
    }


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
