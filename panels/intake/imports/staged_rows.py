"""The rows a staged record stores, as PostgreSQL COPY text: the tables written (``TABLES``, in
order), what every row of one commit shares (``CommitFacts``) and ``rows_of``, one record's
rows (the panel, its results, findings, pending report (made by ``reports.bulk``), the link to
the import, a new patient, the panel's ``panel.stored`` event). The commit renders them on a
helper thread (``panels.intake.imports.store``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labpanel import copy_text
from panels.intake.imports.problems import visible
from panels.intake.imports.staged_file import (
    R_ANALYTE_ID,
    R_AS_RECEIVED,
    R_COMPARATOR,
    R_CONVERSION,
    R_DILUTION,
    R_INSTRUMENT,
    R_INTERPRETATION,
    R_METHOD,
    R_RAW,
    R_REASON,
    R_REFERENCE,
    R_RULE_ID,
    R_SCALE,
    R_SENDER_FLAGS,
    R_SENDER_RANGE,
    R_UNIT,
    R_VALUE,
)
from panels.models import FindingText, finding_text
from reports.bulk import REPORT_COLUMNS, REPORT_TABLE, report_copy_row

# The event each stored panel writes (``labpanel.events``: ``EventKind.PANEL_STORED``).
PANEL_STORED = "panel.stored"
PANEL_STORED_INTAKE = "import"


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
        "specimen_condition",
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
        "method",
        "instrument",
    ),
)
FINDING = Table(
    "panels.Finding",
    (
        "panel_id",
        "position",
        "rule_id",
        "rule_version",
        "status",
        "text_id",
        "evidence",
        "missing_inputs",
        "score",
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


@dataclass(frozen=True)
class CommitFacts:
    """What every row of one commit shares."""

    job_id: int
    lab_id: int
    ruleset_id: int
    ruleset_version: str
    submitted_by_id: int
    now: str  # ISO 8601: created_at and updated_at of every row


_text = copy_text.text
_field = copy_text.field
_json = copy_text.json
_UNSAFE = copy_text.UNSAFE
_NULL = copy_text.NULL


def _optional_text(value: str | None) -> str:
    return _NULL if value is None else _text(value)


def _escaped(texts: Sequence[str]) -> Sequence[str]:
    """``texts`` as COPY text, checked once for the whole row (most rows need no escaping)."""
    if _UNSAFE.search("".join(texts)) is None:
        return texts
    return [_text(value) for value in texts]


def finding_text_of(finding: dict[str, Any]) -> FindingText:
    """The words of a staged finding, as ``panels.services.conclusions_store`` stores them."""
    return finding_text(
        rule_id=str(finding["rule_id"]),
        rule_version=str(finding["rule_version"]),
        name=finding["name"],
        statement=finding["statement"],
        citation=finding["citation"],
        verified=bool(finding["verified"]),
        verification_note=finding["verification_note"],
    )


def rows_of(
    record: dict[str, Any],
    *,
    panel_id: int,
    patient_id: int,
    report_id: int,
    with_patient: bool,
    facts: CommitFacts,
    finding_texts: dict[uuid.UUID, FindingText] | None = None,
) -> tuple[str, ...]:
    """The rows ``record`` stores, in COPY text, one section per table of ``TABLES`` (the
    patient's only ``with_patient``: a new patient is written with its first panel). Its
    findings point at their words (``FindingText``), which are added to ``finding_texts`` for the
    caller to store."""
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
                _optional_text(record["received_at"]),
                _text(record["specimen_condition"]),
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
            result[R_METHOD],
            result[R_INSTRUMENT],
        )
        (
            as_received,
            raw,
            unit,
            conversion,
            reason,
            reference,
            sender_range,
            flags,
            method,
            instrument,
        ) = _escaped(texts)
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
                    method,
                    instrument,
                )
            )
            + "\n"
        )
    finding_rows = []
    for finding in record["findings"]:
        text = finding_text_of(finding)
        if finding_texts is not None:
            finding_texts[text.pk] = text
        rule, rule_version, status, evaluated_at = _escaped(
            (
                str(finding["rule_id"]),
                str(finding["rule_version"]),
                finding["status"],
                finding["evaluated_at"],
            )
        )
        finding_rows.append(
            "\t".join(
                (
                    panel,
                    str(finding["position"]),
                    rule,
                    rule_version,
                    status,
                    str(text.pk),
                    _json(finding["evidence"]),
                    _json(finding["missing_inputs"]),
                    _optional_text(finding["score"]),
                    evaluated_at,
                )
            )
            + "\n"
        )
    report_row = report_copy_row(
        report_id=report_id,
        panel_id=panel,
        lab_id=lab,
        report_uuid=_text(record["report_uuid"]),
        ruleset_version=version,
        now=now,
    )
    sample_id = _text(visible(record["sample_id"])[:120])
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
