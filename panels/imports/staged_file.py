"""The staged import: the very rows a commit stores, rendered once at validation.

It is both the preview the technician reads and what the commit writes — a commit streams the
rows as they are into ``COPY ... FROM STDIN``, so it stores exactly what was shown, and the
preview is read back from those rows.

Layout: ``MAGIC``, then one record per panel in file order, each a 4-byte big-endian length and
a zstd-compressed body (records are made in any order and held compressed until written). A
body is a JSON header line — what the preview shows that is not a stored column (the row and
column of every result, the patient as read from the file, the clinician's username), and the
byte size of each section — followed by the panel's rows in COPY text format
(``panels.imports.copy_text``), one section per table of ``TABLES``.

Values only the commit knows are tokens, control bytes no rendered value can contain: the new
panel's id, a new patient's id, the commit time and the committing user.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

import orjson
import zstandard

from panels.imports import copy_text
from panels.imports.conclusions import Conclusions
from panels.imports.prepare import PreparedPanel

MAGIC = b"labpanel-staged-rows/1\n"
PANEL_ID = "\x01P"
PATIENT_ID = "\x01Q"
NOW = "\x01T"
SUBMITTER_ID = "\x01U"
_LENGTH = struct.Struct(">I")
# zstd level 1: as small as zlib's fastest level, in a sixth of the time (measured on the
# bench's rows: zlib 1.04 s, zstd 0.17 s per 10,000 panels). A (de)compressor is not to be
# shared between threads: one each.
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
REPORT = Table(
    "reports.Report",
    (
        "created_at",
        "updated_at",
        "uuid",
        "panel_id",
        "status",
        "attempts",
        "error_message",
        "pdf",
        "checksum",
        "ruleset_version",
        "amendment_reason",
        "corrections",
    ),
)
IMPORTED = Table("panels.ImportedPanel", ("job_id", "panel_id", "sample_id", "row"))
# In the order they are written (patients before the panels that point at them, and so on).
TABLES = (PATIENT, PANEL, RESULT, FINDING, REPORT, IMPORTED)


@dataclass(frozen=True)
class StagingFacts:
    """What every record of one job shares."""

    job_id: int
    lab_id: int
    ruleset_id: int
    ruleset_version: str
    rule_ids: dict[str, int]  # rule key -> id


@dataclass(frozen=True)
class StagedRecord:
    header: dict[str, Any]
    sections: tuple[bytes, ...]  # one per table of TABLES

    def rows(self, table: Table) -> list[list[str | None]]:
        return copy_text.decode_rows(self.sections[TABLES.index(table)].decode())


_text = copy_text.text
_field = copy_text.field
_UNSAFE = copy_text.UNSAFE


def _optional_text(value: str | None) -> str:
    return copy_text.NULL if value is None else _text(value)


def staged_record(
    panel: PreparedPanel, conclusions: Conclusions, facts: StagingFacts, report_uuid: str
) -> bytes:
    """The record of one panel: its header and rows, compressed and framed."""
    staged = panel.staged
    submission = staged.submission
    patient = submission.patient
    birth_date = patient.birth_date.isoformat() if patient.birth_date else None
    patient_ref = PATIENT_ID if panel.patient_id is None else str(panel.patient_id)
    lab = str(facts.lab_id)
    version = _text(facts.ruleset_version)
    rule_ids = facts.rule_ids

    patient_rows = ""
    if panel.patient_id is None:
        patient_rows = (
            "\t".join(
                (
                    PATIENT_ID,
                    NOW,
                    NOW,
                    lab,
                    _text(patient.mrn),
                    _text(patient.family_name),
                    _text(patient.given_name),
                    _optional_text(birth_date),
                    _text(patient.sex),
                )
            )
            + "\n"
        )
    panel_row = (
        "\t".join(
            (
                PANEL_ID,
                NOW,
                NOW,
                _text(submission.accession),
                lab,
                patient_ref,
                _text(submission.specimen_type),
                submission.collected_at.isoformat(),
                NOW,
                str(submission.ordering_clinician.pk),
                SUBMITTER_ID,
                str(facts.ruleset_id),
                panel.content_sha256,
                "{}",
                _field(conclusions.anchor_event_id),
                copy_text.json(conclusions.serial),
                copy_text.json(conclusions.summary),
            )
        )
        + "\n"
    )
    result_rows = []
    shown_results = []
    for position, ((row, column), result, interpretation) in enumerate(
        zip(staged.positions, submission.results, panel.interpretations, strict=True), start=1
    ):
        reported = result.reported
        rule_key = interpretation.rule_key
        rule_id = rule_ids.get(rule_key) if rule_key else None
        texts: Sequence[str] = (
            result.analyte_as_received,
            result.raw_value,
            result.unit,
            interpretation.conversion or "",
            interpretation.reason,
            interpretation.reference_text or "",
            result.sender_range,
            result.sender_flags,
        )
        if _UNSAFE.search("".join(texts)) is not None:  # one check for the whole row
            texts = [_text(value) for value in texts]
        as_received, raw, unit, conversion, reason, reference, sender_range, flags = texts
        dilution = result.dilution_factor
        result_rows.append(
            "\t".join(
                (
                    PANEL_ID,
                    str(position),
                    str(result.analyte.pk),
                    as_received,
                    raw,
                    reported.comparator.value,
                    format(reported.value, "f"),
                    str(reported.scale),
                    unit,
                    copy_text.NULL if dilution is None else format(dilution, "f"),
                    interpretation.code.value if interpretation.code else "",
                    conversion,
                    reason,
                    reference,
                    copy_text.NULL if rule_id is None else str(rule_id),
                    version,
                    sender_range,
                    flags,
                )
            )
            + "\n"
        )
        shown_results.append([row, column])
    finding_rows = []
    for finding in conclusions.findings:
        finding_texts: Sequence[str] = (
            str(finding["rule_id"]),
            str(finding["rule_version"]),
            finding["name"],
            finding["status"],
            finding["statement"],
            finding["citation"],
            finding["verification_note"],
        )
        if _UNSAFE.search("".join(finding_texts)) is not None:
            finding_texts = [_text(value) for value in finding_texts]
        rule, rule_version, name, status, statement, citation, note = finding_texts
        finding_rows.append(
            "\t".join(
                (
                    PANEL_ID,
                    str(finding["position"]),
                    rule,
                    rule_version,
                    name,
                    status,
                    statement,
                    copy_text.json(finding["evidence"]),
                    copy_text.json(finding["missing_inputs"]),
                    _optional_text(finding["score"]),
                    citation,
                    "t" if finding["verified"] else "f",
                    note,
                    _text(finding["evaluated_at"]),
                )
            )
            + "\n"
        )
    report_row = f"{NOW}\t{NOW}\t{report_uuid}\t{PANEL_ID}\tpending\t0\t\t\t\t{version}\t\t[]\n"
    # PostgreSQL text cannot hold NUL: the link shows it as "\x00" (the archived file keeps it)
    sample_id = _text(staged.sample_id.replace("\x00", "\\x00")[:120])
    imported_row = f"{facts.job_id}\t{PANEL_ID}\t{sample_id}\t{staged.row}\n"
    sections = [
        patient_rows.encode(),
        panel_row.encode(),
        "".join(result_rows).encode(),
        "".join(finding_rows).encode(),
        report_row.encode(),
        imported_row.encode(),
    ]
    header = {
        "sample_id": staged.sample_id,
        "row": staged.row,
        "well": staged.well,
        "patient": {
            "mrn": patient.mrn,
            "family_name": patient.family_name,
            "given_name": patient.given_name,
            "birth_date": birth_date,
            "sex": patient.sex,
            "status": "new" if panel.patient_id is None else "matched",
        },
        "patient_id": panel.patient_id,
        "ordering_clinician": submission.ordering_clinician.get_username(),
        "results": shown_results,
        "sizes": [len(section) for section in sections],
    }
    body = _compressor().compress(b"".join([orjson.dumps(header), b"\n", *sections]))
    return _LENGTH.pack(len(body)) + body


def staged_file(records: Sequence[bytes]) -> bytes:
    return b"".join([MAGIC, *records])


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


def staged_records(raw: IO[bytes], *, skip: int = 0) -> Iterator[StagedRecord]:
    """The records of a staged file in file order (streamed), the first ``skip`` passed over
    without being read."""
    decompressor = _decompressor()
    for body in _bodies(raw, skip=skip):
        data = decompressor.decompress(body)
        end = data.index(b"\n")
        header = orjson.loads(data[:end])
        sections = []
        start = end + 1
        for size in header["sizes"]:
            sections.append(data[start : start + size])
            start += size
        yield StagedRecord(header=header, sections=tuple(sections))


def shown(
    record: StagedRecord, *, analytes: Mapping[str, str], rules: Mapping[str, str]
) -> dict[str, Any]:
    """The panel as the preview shows it: its stored rows, read back, and the header.
    ``analytes`` and ``rules`` give the catalogue code and rule key of an id (as text)."""
    header = record.header
    (panel,) = record.rows(PANEL)
    columns = PANEL.columns
    results = []
    for (row, column), stored in zip(header["results"], record.rows(RESULT), strict=True):
        result = dict(zip(RESULT.columns, stored, strict=True))
        rule_id = result["rule_id"]
        results.append(
            {
                "row": row,
                "column": column,
                "analyte": analytes[result["analyte_id"] or ""],
                "analyte_as_received": result["analyte_as_received"],
                "raw_value": result["raw_value"],
                "value": f"{result['comparator']}{result['value']}",
                "unit": result["unit"],
                "dilution_factor": result["dilution_factor"],
                "interpretation": result["interpretation"] or None,
                "reference_interval": result["reference_text"] or None,
                "conversion": result["conversion"] or None,
                "reason": result["interpretation_reason"],
                "rule": rules[rule_id] if rule_id is not None else None,
            }
        )
    findings = []
    for stored in record.rows(FINDING):
        finding: dict[str, Any] = dict(zip(FINDING.columns, stored, strict=True))
        del finding["panel_id"]
        finding["position"] = int(finding["position"])
        finding["evidence"] = orjson.loads(finding["evidence"])
        finding["missing_inputs"] = orjson.loads(finding["missing_inputs"])
        finding["verified"] = finding["verified"] == "t"
        findings.append(finding)
    values = dict(zip(columns, panel, strict=True))
    return {
        "sample_id": header["sample_id"],
        "row": header["row"],
        "well": header["well"],
        "accession": values["accession"],
        "patient": header["patient"],
        "specimen": {"type": values["specimen_type"], "collected_at": values["collected_at"]},
        "ordering_clinician": header["ordering_clinician"],
        "results": results,
        "findings": findings,
        "summary": orjson.loads(values["summary"] or "null"),
        "serial": orjson.loads(values["serial"] or "null"),
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
