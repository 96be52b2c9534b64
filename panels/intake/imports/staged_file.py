"""The staged import: what validation concluded, one compact record per panel.

It is both the preview the technician reads and what the commit stores: the commit renders
each record's rows (``rows_of``: the panel, its results, findings, pending report (made by
``reports.bulk``), the link to
the import, a new patient, the panel's ``panel.stored`` event) in PostgreSQL COPY text and
streams them to ``COPY ... FROM STDIN``, so it stores exactly what was shown. Rendering happens
at commit, on a helper thread, while PostgreSQL stores the previous chunk
(``panels.intake.imports.store``).

Layout: ``MAGIC``, then one record per panel in file order, each a 4-byte big-endian length and
a zstd-compressed JSON body (records are made in any order and held compressed until written).
A record holds the panel as shown (patient, specimen, every result with its interpretation,
findings, trend, summary) and the ids the rows point at (catalogue analyte, rule, matched
patient, clinician).
"""

from __future__ import annotations

import struct
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

import orjson
import zstandard

from panels.intake.imports import copy_text
from panels.intake.imports.conclusions import Conclusions
from panels.intake.imports.prepare import PreparedPanel
from reports.bulk import REPORT_COLUMNS, REPORT_TABLE, report_copy_row

MAGIC = b"labpanel-staged/2\n"
# The event each stored panel writes (``labpanel.events``: ``EventKind.PANEL_STORED``).
PANEL_STORED = "panel.stored"
PANEL_STORED_INTAKE = "import"
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


@dataclass(frozen=True)
class Table:
    name: str  # model label
    columns: tuple[str, ...]


PATIENT = Table(
    "panels.Patient",
    (
        "id",
        "created_at",
        "updated_at",
        "lab_id",
        "mrn",
        "family_name",
        "given_name",
        "birth_date",
        "sex",
    ),
)
PANEL = Table(
    "panels.Panel",
    (
        "id",
        "created_at",
        "updated_at",
        "accession",
        "lab_id",
        "patient_id",
        "specimen_type",
        "collected_at",
        "received_at",
        "ordering_clinician_id",
        "submitted_by_id",
        "ruleset_id",
        "content_sha256",
        "clinical",
        "anchor_event_id",
        "serial",
        "summary",
    ),
)
RESULT = Table(
    "panels.Result",
    (
        "panel_id",
        "position",
        "analyte_id",
        "analyte_as_received",
        "raw_value",
        "comparator",
        "value",
        "value_scale",
        "unit",
        "dilution_factor",
        "interpretation",
        "conversion",
        "interpretation_reason",
        "reference_text",
        "rule_id",
        "ruleset_version",
        "sender_range",
        "sender_flags",
    ),
)
FINDING = Table(
    "panels.Finding",
    (
        "panel_id",
        "position",
        "rule_id",
        "rule_version",
        "name",
        "status",
        "statement",
        "evidence",
        "missing_inputs",
        "score",
        "citation",
        "verified",
        "verification_note",
        "evaluated_at",
    ),
)
# The pending report of each panel: its rows are made by reports (``reports.bulk``).
REPORT = Table(REPORT_TABLE, REPORT_COLUMNS)
IMPORTED = Table("panels.ImportedPanel", ("job_id", "panel_id", "sample_id", "row"))
# The panel's ``panel.stored`` event, as ``panels.intake.submission.panel_submit`` writes it.
EVENT = Table(
    "events.Event",
    (
        "uuid",
        "kind",
        "occurred_at",
        "lab_id",
        "actor_id",
        "panel_id",
        "report_id",
        "import_job_id",
        "payload",
    ),
)
# In the order they are written (patients before the panels that point at them, and so on).
TABLES = (PATIENT, PANEL, RESULT, FINDING, REPORT, IMPORTED, EVENT)

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
) = range(19)


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
        "specimen": {"type": record["specimen_type"], "collected_at": record["collected_at"]},
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
            }
            for result in record["results"]
        ],
        "findings": record["findings"],
        "summary": record["summary"],
        "serial": record["serial"],
    }


@dataclass(frozen=True)
class CommitFacts:
    """What every row of one commit shares."""

    job_id: int
    lab_id: int
    ruleset_id: int
    ruleset_version: str
    submitted_by_id: int
    now: str  # ISO 8601: created_at, updated_at and received_at of every row


_text = copy_text.text
_field = copy_text.field
_json = copy_text.json
_UNSAFE = copy_text.UNSAFE
_NULL = copy_text.NULL


def _optional_text(value: str | None) -> str:
    return _NULL if value is None else _text(value)


def rows_of(
    record: dict[str, Any],
    *,
    panel_id: int,
    patient_id: int,
    report_id: int,
    with_patient: bool,
    facts: CommitFacts,
) -> tuple[str, ...]:
    """The rows ``record`` stores, in COPY text, one section per table of ``TABLES`` (the
    patient's only ``with_patient``: a new patient is written with its first panel)."""
    panel = str(panel_id)
    lab = str(facts.lab_id)
    now = facts.now
    version = _text(facts.ruleset_version)
    patient = record["patient"]
    patient_rows = ""
    if with_patient:
        patient_rows = (
            "\t".join(
                (
                    str(patient_id),
                    now,
                    now,
                    lab,
                    _text(patient["mrn"]),
                    _text(patient["family_name"]),
                    _text(patient["given_name"]),
                    _optional_text(patient["birth_date"]),
                    _text(patient["sex"]),
                )
            )
            + "\n"
        )
    panel_row = (
        "\t".join(
            (
                panel,
                now,
                now,
                _text(record["accession"]),
                lab,
                str(patient_id),
                _text(record["specimen_type"]),
                record["collected_at"],
                now,
                str(record["clinician"][0]),
                str(facts.submitted_by_id),
                str(facts.ruleset_id),
                record["content_sha256"],
                "{}",
                _field(record["anchor_event_id"]),
                _json(record["serial"]),
                _json(record["summary"]),
            )
        )
        + "\n"
    )
    result_rows = []
    for position, result in enumerate(record["results"], start=1):
        texts: Sequence[str] = (
            result[R_AS_RECEIVED],
            result[R_RAW],
            result[R_UNIT],
            result[R_CONVERSION],
            result[R_REASON],
            result[R_REFERENCE],
            result[R_SENDER_RANGE],
            result[R_SENDER_FLAGS],
        )
        if _UNSAFE.search("".join(texts)) is not None:  # one check for the whole row
            texts = [_text(value) for value in texts]
        as_received, raw, unit, conversion, reason, reference, sender_range, flags = texts
        dilution = result[R_DILUTION]
        rule_id = result[R_RULE_ID]
        result_rows.append(
            "\t".join(
                (
                    panel,
                    str(position),
                    str(result[R_ANALYTE_ID]),
                    as_received,
                    raw,
                    result[R_COMPARATOR],
                    result[R_VALUE],
                    str(result[R_SCALE]),
                    unit,
                    _NULL if dilution is None else dilution,
                    result[R_INTERPRETATION],
                    conversion,
                    reason,
                    reference,
                    _NULL if rule_id is None else str(rule_id),
                    version,
                    sender_range,
                    flags,
                )
            )
            + "\n"
        )
    finding_rows = []
    for finding in record["findings"]:
        finding_texts: Sequence[str] = (
            str(finding["rule_id"]),
            str(finding["rule_version"]),
            finding["name"],
            finding["status"],
            finding["statement"],
            finding["citation"],
            finding["verification_note"],
            finding["evaluated_at"],
        )
        if _UNSAFE.search("".join(finding_texts)) is not None:
            finding_texts = [_text(value) for value in finding_texts]
        rule, rule_version, name, status, statement, citation, note, evaluated_at = finding_texts
        finding_rows.append(
            "\t".join(
                (
                    panel,
                    str(finding["position"]),
                    rule,
                    rule_version,
                    name,
                    status,
                    statement,
                    _json(finding["evidence"]),
                    _json(finding["missing_inputs"]),
                    _optional_text(finding["score"]),
                    citation,
                    "t" if finding["verified"] else "f",
                    note,
                    evaluated_at,
                )
            )
            + "\n"
        )
    report_row = report_copy_row(
        report_id=report_id,
        panel_id=panel,
        report_uuid=_text(record["report_uuid"]),
        ruleset_version=version,
        now=now,
    )
    # PostgreSQL text cannot hold NUL: the link shows it as "\x00" (the archived file keeps it)
    sample_id = _text(record["sample_id"].replace("\x00", "\\x00")[:120])
    imported_row = f"{facts.job_id}\t{panel}\t{sample_id}\t{record['row']}\n"
    payload = _json(
        {
            "accession": record["accession"],
            "intake": PANEL_STORED_INTAKE,
            "patient_id": patient_id,
            "report_id": report_id,
            "results": len(record["results"]),
        }
    )
    event_row = (
        f"{uuid.uuid4()}\t{PANEL_STORED}\t{now}\t{lab}\t{facts.submitted_by_id}\t{panel}\t"
        f"{report_id}\t{facts.job_id}\t{payload}\n"
    )
    return (
        patient_rows,
        panel_row,
        "".join(result_rows),
        "".join(finding_rows),
        report_row,
        imported_row,
        event_row,
    )


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
