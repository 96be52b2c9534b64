"""The panels API's stored documents (the read model, issue 14; ``panels.models_documents``).

A panel does not change between the writes that change it (submission, amendment, review,
release, a patient's change in the admin), so its API document is built once there, in the
writer's transaction (:func:`panel_documents_write`), and the API serves it with one indexed
read (``panels.intake.selectors``). A submitted panel's document is built from the rows the
submission holds (:func:`panel_document_of_new`, the same serializer: nothing read back) and
inserted (:func:`panel_document_store_new`); every other writer reads the panel back. Stored:
the document as the lab's staff read it (the whole history) without the panel's reports, and
the list's summary (:func:`panel_summary`, a part of that document). Not stored, and added
when read: the reports (their status, stage and links change without the panel) and, for a
reader not shown the whole history, the history (such a reader's answer is built from the
records, as before).

A row is served only while the panel and its patient are as it was written from (their
``updated_at``); otherwise, or with no row (panels stored before it existed, until
``manage.py panel_documents_write --missing``), the answer is built from the records.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from labpanel.json_text import JSONText
from labpanel.serializer_reuse import reused
from panels.history import HistoryShown
from panels.models import Finding, Panel, PanelDocument, Result, ReviewTransition
from panels.outputs import PanelOutput
from panels.selectors import panel_details
from reference_ranges.selectors import catalogue_updated_at

REPORT_FIELDS = ("report", "reports")
"""The fields of the panel's answer that are its reports: never stored, added when read."""

SUMMARY_FIELDS = (
    "id",
    "accession",
    "patient",
    "specimen",
    "ordering_clinician",
    "ruleset",
    "review_state",
    "flagged",
    "summary",
    "created_at",
)
"""The fields of a panel's summary in the list (then its reports, ``REPORT_FIELDS``): none that
depends on what the reader is shown of the patient's history."""


class PanelDocumentOutput(PanelOutput):
    """The panel's API document as stored: as its lab's staff read it, without its reports."""

    class Meta(PanelOutput.Meta):
        # (the parent's fields less the reports; mypy typed the parent's as a fixed tuple)
        fields = tuple(  # type: ignore[assignment]
            field for field in PanelOutput.Meta.fields if field not in REPORT_FIELDS
        )
        read_only_fields = fields  # type: ignore[assignment]

    def _history_shown(self, panel: Panel) -> HistoryShown | None:
        return None


LIST_FIELDS = tuple(
    field for field in PanelOutput.Meta.fields if field in SUMMARY_FIELDS or field in REPORT_FIELDS
)
"""A panel in the list, in the detail's order: its summary and its reports."""


class PanelSummaryOutput(PanelOutput):
    """A panel in the API's list: its summary (``SUMMARY_FIELDS``) and its reports. The list
    built from the records (the embedded SQLite default) uses it; it describes the list in the
    OpenAPI schema."""

    class Meta(PanelOutput.Meta):
        fields = LIST_FIELDS  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]


_CREATED_AT = b',"created_at":'
_COMPACT_HEAD = b'{"id":'


def answer_spliced(stored: str, reports: Sequence[Mapping[str, Any]]) -> JSONText | None:
    """The API's answer of a panel (its detail, or its summary in the list) with its
    ``reports`` (newest first; the first is ``report``), spliced into the ``stored`` text of
    its document (``PanelDocument``) rather than parsed and written again: the reports go just
    before ``created_at``, the last field of both, as in ``PanelOutput``. ``None`` when the
    text is not laid out as ``StoredJSONField`` now writes it (compact, in the document's order,
    ``id`` first): a row written before, which the caller parses. The same JSON, in the same
    order, as :func:`answer_of` makes of the parsed document (both answers end with the
    reports, then ``created_at``: tests/api/test_answer_spliced.py holds them to it)."""
    text = stored.encode()
    if not text.startswith(_COMPACT_HEAD) or text[6:7] == b" ":
        return None
    # ``,"`` cannot occur inside a JSON string (its quotes are escaped), so this is a key; the
    # last one is the document's own (a nested ``created_at`` comes before it)
    cut = text.rfind(_CREATED_AT)
    if cut < 0:
        return None
    listed = orjson.dumps(reports)
    first = orjson.dumps(reports[0] if reports else None)
    return JSONText(
        b"".join((text[:cut], b',"report":', first, b',"reports":', listed, text[cut:]))
    )


def answer_of(
    document: Mapping[str, Any], reports: list[dict[str, Any]], fields: Sequence[str]
) -> dict[str, Any]:
    """A document (or summary), parsed, with its reports: its ``fields`` in their order."""
    answer = {"report": reports[0] if reports else None, "reports": reports}
    return {field: answer[field] if field in REPORT_FIELDS else document[field] for field in fields}


def panel_summary(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The list's summary of a panel whose document is ``detail`` (stored or built)."""
    return {field: detail[field] for field in SUMMARY_FIELDS}


def panel_documents_build(panels: Iterable[Panel]) -> dict[int, dict[str, Any]]:
    """The stored document of each of ``panels`` (read with ``panels.selectors.panel_details``),
    by id."""
    serializer = reused(PanelDocumentOutput)
    return {panel.pk: serializer.to_representation(panel) for panel in panels}


def panel_documents_write(*, panel_ids: Iterable[int], batch: bool = False) -> int:
    """Write the documents of the panels ``panel_ids`` (inside the caller's transaction, after
    its last change to them): read from their records now, replacing what was stored. Returns
    how many were written. ``batch``: many panels at once (an import's, the backfill's), read
    with their analytes and rules shared (``panel_details``' ``catalogue_shared``: two
    statements more, far fewer rows). Side effects: one upsert (and the panels' reads)."""
    wanted = sorted(set(panel_ids))
    if not wanted:
        return 0
    panels = list(
        panel_details(Panel.objects.filter(pk__in=wanted), catalogue_shared=batch)
        .select_related("patient")
        # read with the panels, before their results' analytes: a catalogue changed between
        # the two reads leaves the documents older than they say, never newer (not served)
        .annotate(catalogue_updated_at=catalogue_updated_at())
    )
    documents = panel_documents_build(panels)
    now = timezone.now()
    PanelDocument.objects.bulk_create(
        [
            PanelDocument(
                panel_id=panel.pk,
                detail=documents[panel.pk],
                summary=panel_summary(documents[panel.pk]),
                panel_updated_at=panel.updated_at,
                patient_updated_at=panel.patient.updated_at,
                catalogue_updated_at=panel.catalogue_updated_at,
                written_at=now,
            )
            for panel in panels
        ],
        update_conflicts=True,
        unique_fields=["panel"],
        update_fields=[
            "detail",
            "summary",
            "panel_updated_at",
            "patient_updated_at",
            "catalogue_updated_at",
            "written_at",
        ],
    )
    return len(panels)


def jsonb_ordered(value: Any) -> Any:
    """``value`` (JSON) with each object's keys in the order PostgreSQL's ``jsonb`` gives them
    back: shorter keys (in UTF-8 bytes) first, keys of one length in byte order. A JSON field
    read back from the database is in that order; one held since it was written is not."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (len(key.encode()), key.encode()))
        return {key: jsonb_ordered(value[key]) for key in keys}
    if isinstance(value, list | tuple):
        return [jsonb_ordered(item) for item in value]
    return value


def _finding_as_read(finding: Finding) -> Finding:
    read = copy.copy(finding)
    read.evidence = jsonb_ordered(finding.evidence)
    read.missing_inputs = jsonb_ordered(finding.missing_inputs)
    return read


def panel_document_of_new(
    *,
    panel: Panel,
    results: Sequence[Result],
    findings: Sequence[Finding],
    review_transitions: Sequence[ReviewTransition] = (),
) -> dict[str, Any]:
    """The stored document of ``panel``, just inserted in the caller's transaction, built from
    the rows the submission holds rather than read back (what :func:`panel_documents_write`
    would read: the same serializer, given the same rows). ``panel`` with its patient, rule set
    and ordering clinician in hand (as set when it was built); ``results``: its results, in
    order of position, each with its analyte and rule in hand, none superseded; ``findings``:
    its findings as inserted (in order, with their words, ``Finding.text``, in hand; their JSON,
    like the panel's, is taken in the order of keys the database would give it back:
    :func:`jsonb_ordered`);
    ``review_transitions``: the changes of its review state since it was inserted (an
    automatic verification), in order. Only for a new panel: an amended one has superseded
    results and earlier findings, and is read back (:func:`panel_documents_write`). Side
    effects: none (``panel`` is left as it was; no statement)."""
    held = copy.copy(panel)  # the caches set below stay on the copy
    # its JSON fields (and its findings') as they would be read back (jsonb's order of keys)
    held.clinical = jsonb_ordered(panel.clinical)
    held.serial = jsonb_ordered(panel.serial)
    held.summary = jsonb_ordered(panel.summary)
    held._prefetched_objects_cache = {  # type: ignore[attr-defined]
        "results": list(results),
        "findings": [_finding_as_read(finding) for finding in findings],
        "review_transitions": list(review_transitions),
    }
    held.superseded = []  # type: ignore[attr-defined]  # a new panel: nothing superseded
    return reused(PanelDocumentOutput).to_representation(held)


def panel_document_store_new(
    *, panel: Panel, document: Mapping[str, Any], catalogue_updated_at: datetime | None
) -> PanelDocument:
    """Store ``document`` (:func:`panel_document_of_new`) as the document of ``panel``, inserted
    in the caller's transaction, after its last change to the panel: a new panel has no
    document yet, so it is inserted, not upserted (one there already breaks the primary key:
    ``IntegrityError``). ``catalogue_updated_at``: when the analyte catalogue its results were
    resolved in last changed (``reference_ranges.selectors.AnalyteCatalogue.updated_at``).
    Side effects: one INSERT."""
    return PanelDocument.objects.create(
        panel_id=panel.pk,
        detail=dict(document),
        summary=panel_summary(document),
        panel_updated_at=panel.updated_at,
        patient_updated_at=panel.patient.updated_at,
        catalogue_updated_at=catalogue_updated_at,
        written_at=timezone.now(),
    )


def panels_without_documents() -> QuerySet[Panel]:
    """The panels whose document is missing or not as they are now (not served)."""
    return Panel.objects.annotate(catalogue_updated_at=catalogue_updated_at()).exclude(
        Q(document__isnull=False)
        & Q(document__panel_updated_at=F("updated_at"))
        & Q(document__patient_updated_at=F("patient__updated_at"))
        & Q(document__catalogue_updated_at=F("catalogue_updated_at"))
    )
