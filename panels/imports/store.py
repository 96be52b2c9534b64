"""Writing a staged import: patients, panels, results, findings, pending reports — in bulk.

The caller holds the transaction and has checked that the staged file still describes the
database (``panels.imports.services``). The rows stored per panel are exactly those a single
submission (``panels.services.panel_submit``) stores; they are the staged file's rows, i.e.
what the preview showed, with the ids and the time only the commit knows filled in.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.apps import apps
from django.contrib.auth.models import User
from django.utils import timezone

from panels.imports.bulk import ids_reserve, rows_insert
from panels.imports.staged_file import (
    NOW,
    PANEL_ID,
    PATIENT_ID,
    SUBMITTER_ID,
    TABLES,
    StagedFileError,
    StagedRecord,
)
from panels.models import Panel, Patient


@dataclass(frozen=True)
class Stored:
    panel_ids: list[int]
    patients_created: int
    results: int
    findings: int


CHUNK_PANELS = 2000
T = TypeVar("T")
_PANEL = PANEL_ID.encode()
_PATIENT = PATIENT_ID.encode()
_NOW = NOW.encode()
_SUBMITTER = SUBMITTER_ID.encode()
_RESULTS = 2  # index of the results section in TABLES
_FINDINGS = 3


def staged_store(
    *, submitted_by: User, records: Iterable[StagedRecord], panels: int, new_mrns: Sequence[str]
) -> Stored:
    """Insert the ``panels`` panels of ``records`` (creating the patients of ``new_mrns``) and
    their pending reports, in the caller's transaction.

    Every id is reserved first; a helper thread then reads the records a chunk at a time and
    fills the ids in, while this thread streams the previous chunk to PostgreSQL — so a large
    import never holds all its rows, and preparing them overlaps with storing them.
    """
    panel_ids = ids_reserve(Panel, panels)
    patient_ids = dict(zip(new_mrns, ids_reserve(Patient, len(new_mrns)), strict=True))
    constants = {_NOW: timezone.now().isoformat().encode(), _SUBMITTER: b"%d" % submitted_by.pk}
    counts = [0] * len(TABLES)
    batches = _table_batches(records, iter(panel_ids), patient_ids, constants)
    for (batch,) in read_ahead(batches, 1):
        for index, (table, data) in enumerate(zip(TABLES, batch, strict=True)):
            counts[index] += rows_insert(apps.get_model(table.name), table.columns, data)
    if counts[1] != panels or counts[0] != len(new_mrns):
        raise StagedFileError(
            f"the staged file holds {counts[1]} panel(s) and {counts[0]} new patient(s), "
            f"not the {panels} and {len(new_mrns)} validated"
        )
    return Stored(
        panel_ids=panel_ids,
        patients_created=len(new_mrns),
        results=counts[_RESULTS],
        findings=counts[_FINDINGS],
    )


def _table_batches(
    records: Iterable[StagedRecord],
    panel_ids: Iterator[int],
    patient_ids: dict[str, int],
    constants: dict[bytes, bytes],
) -> Iterator[list[bytes]]:
    """The rows of ``records``, ``CHUNK_PANELS`` panels at a time, as one COPY text per table
    with the tokens replaced by the reserved ids, the commit time and the committing user."""
    unwritten = set(patient_ids)
    sections: list[list[bytes]] = [[] for _ in TABLES]
    in_chunk = 0
    for record in records:
        patients, panels, *rest = sections
        panel = b"%d" % next(panel_ids)
        patient_row, panel_row, *rows = record.sections
        if record.header["patient_id"] is None:
            mrn = record.header["patient"]["mrn"]
            patient = b"%d" % patient_ids[mrn]
            if mrn in unwritten:
                patients.append(patient_row.replace(_PATIENT, patient))
                unwritten.discard(mrn)
            panel_row = panel_row.replace(_PATIENT, patient)
        panels.append(panel_row.replace(_PANEL, panel))
        for table_rows, section in zip(rest, rows, strict=True):
            table_rows.append(section.replace(_PANEL, panel))
        in_chunk += 1
        if in_chunk == CHUNK_PANELS:
            yield _joined(sections, constants)
            sections = [[] for _ in TABLES]
            in_chunk = 0
    if in_chunk:
        yield _joined(sections, constants)


def _joined(sections: list[list[bytes]], constants: dict[bytes, bytes]) -> list[bytes]:
    joined = []
    for parts in sections:
        data = b"".join(parts)
        for token, value in constants.items():
            data = data.replace(token, value)
        joined.append(data)
    return joined


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
