"""Writing a staged import: patients, panels, results, findings, pending reports and each
panel's ``panel.stored`` event — in bulk.

The caller holds the transaction and has checked that the staged file still describes the
database (``panels.intake.imports.commit``). The rows stored per panel are exactly those a single
submission (``panels.intake.submission.panel_submit``) stores; they are the staged file's rows, i.e.
what the preview showed, with the ids and the time only the commit knows.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.apps import apps
from django.utils import timezone

from labpanel.bulk import ids_reserve, rows_insert
from panels.intake.imports.staged_file import StagedFileError
from panels.intake.imports.staged_rows import TABLES, CommitFacts, rows_of
from panels.models import FindingText, Panel, Patient
from panels.result_counts import panel_result_counts_store
from panels.services import finding_texts_store
from reports.bulk import report_ids_reserve


@dataclass(frozen=True)
class Stored:
    panel_ids: list[int]
    patients_created: int
    results: int
    findings: int


CHUNK_PANELS = 2000
# The first chunk is small, so that PostgreSQL starts storing while the rest is read.
FIRST_CHUNK_PANELS = 200
T = TypeVar("T")
_RESULTS = 2  # index of the results section in TABLES
_FINDINGS = 3
_EVENTS = 6


def staged_store(
    *,
    records: Iterable[dict[str, Any]],
    panels: int,
    new_mrns: Sequence[str],
    facts: Callable[[str], CommitFacts],
) -> Stored:
    """Insert the ``panels`` panels of ``records`` (creating the patients of ``new_mrns``),
    their pending reports and one ``panel.stored`` event each, in the caller's transaction;
    ``facts(now)`` gives what all rows share.

    Every id is reserved first; a helper thread then reads the records a chunk at a time and
    renders their rows while this thread streams the previous chunk to PostgreSQL — so a large
    import never holds all its rows, and making them overlaps with storing them.
    """
    panel_ids = ids_reserve(Panel, panels)
    report_ids = report_ids_reserve(panels)
    patient_ids = dict(zip(new_mrns, ids_reserve(Patient, len(new_mrns)), strict=True))
    counts = [0] * len(TABLES)
    batches = _table_batches(
        records,
        iter(zip(panel_ids, report_ids, strict=True)),
        patient_ids,
        facts(timezone.now().isoformat()),
    )
    for ((batch, texts),) in read_ahead(batches, 1):
        # The chunk's words first (one statement; most are stored already), then its rows.
        finding_texts_store(texts.values())
        for index, (table, data) in enumerate(zip(TABLES, batch, strict=True)):
            counts[index] += rows_insert(apps.get_model(table.name), table.columns, data)
    if counts[1] != panels or counts[0] != len(new_mrns) or counts[_EVENTS] != panels:
        raise StagedFileError(
            f"the staged file holds {counts[1]} panel(s) and {counts[0]} new patient(s), "
            f"not the {panels} and {len(new_mrns)} validated"
        )
    panel_result_counts_store(panel_ids=panel_ids)
    return Stored(
        panel_ids=panel_ids,
        patients_created=len(new_mrns),
        results=counts[_RESULTS],
        findings=counts[_FINDINGS],
    )


def _table_batches(
    records: Iterable[dict[str, Any]],
    panel_and_report_ids: Iterator[tuple[int, int]],
    patient_ids: dict[str, int],
    facts: CommitFacts,
) -> Iterator[tuple[list[bytes], dict[uuid.UUID, FindingText]]]:
    """The rows of ``records``, ``CHUNK_PANELS`` panels at a time (fewer the first time), as
    one COPY text per table, with the distinct words of the chunk's findings."""
    unwritten = set(patient_ids)
    sections: list[list[str]] = [[] for _ in TABLES]
    texts: dict[uuid.UUID, FindingText] = {}
    in_chunk = 0
    chunk = min(FIRST_CHUNK_PANELS, CHUNK_PANELS)
    for record in records:
        patient_id = record["patient_id"]
        with_patient = False
        if patient_id is None:
            mrn = record["patient"]["mrn"]
            if mrn not in patient_ids:
                raise StagedFileError("the staged file creates a patient it was not validated for")
            patient_id = patient_ids[mrn]
            with_patient = mrn in unwritten
            unwritten.discard(mrn)
        ids = next(panel_and_report_ids, None)
        if ids is None:
            raise StagedFileError("the staged file holds more panels than were validated")
        panel_id, report_id = ids
        rows = rows_of(
            record,
            panel_id=panel_id,
            patient_id=patient_id,
            report_id=report_id,
            with_patient=with_patient,
            facts=facts,
            finding_texts=texts,
        )
        for table_rows, section in zip(sections, rows, strict=True):
            table_rows.append(section)
        in_chunk += 1
        if in_chunk == chunk:
            yield ["".join(parts).encode() for parts in sections], texts
            sections = [[] for _ in TABLES]
            texts = {}
            in_chunk = 0
            chunk = CHUNK_PANELS
    if in_chunk:
        yield ["".join(parts).encode() for parts in sections], texts


def read_ahead(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size``, the next list read on a helper thread while the caller
    works on (here: waits for PostgreSQL to store) the current one. Decompressing and splitting
    the staged records thus overlaps with the COPY; an error of the reader is raised here."""
    lists: queue.Queue[list[T] | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(value: list[T] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                lists.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            batch: list[T] = []
            for item in items:
                batch.append(item)
                if len(batch) == size:
                    if not put(batch):
                        return
                    batch = []
            if batch and not put(batch):
                return
            put(None)
        except BaseException as error:  # handed to the caller, raised there
            put(error)

    reader = threading.Thread(target=read, name="import-read-ahead", daemon=True)
    reader.start()
    try:
        while (value := lists.get()) is not None:
            if isinstance(value, BaseException):
                raise value
            yield value
    finally:
        stop.set()
        reader.join()
