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


def staged_store(*, submitted_by: User, records: Iterable[StagedRecord]) -> Stored:
    """Insert the panels of ``records`` and their pending reports, in the caller's
    transaction. Records are read and written a chunk at a time, so a large import never
    holds them all."""
    constants = {_NOW: timezone.now().isoformat().encode(), _SUBMITTER: b"%d" % submitted_by.pk}
    created: dict[str, int] = {}  # MRN -> id of the patients this import creates
    panel_ids: list[int] = []
    results = findings = 0
    chunk: list[StagedRecord] = []

    def store() -> None:
        nonlocal results, findings
        stored = _chunk_store(chunk, created, constants)
        panel_ids.extend(stored.panel_ids)
        results += stored.results
        findings += stored.findings
        chunk.clear()

    for batch in read_ahead(records, CHUNK_PANELS):
        chunk.extend(batch)
        store()
    return Stored(
        panel_ids=panel_ids, patients_created=len(created), results=results, findings=findings
    )


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


def _chunk_store(
    records: Sequence[StagedRecord], created: dict[str, int], constants: dict[bytes, bytes]
) -> Stored:
    new_mrns: list[str] = []
    for record in records:
        if record.header["patient_id"] is None:
            mrn = record.header["patient"]["mrn"]
            if mrn not in created and mrn not in new_mrns:
                new_mrns.append(mrn)
    unwritten = set(new_mrns)
    created.update(zip(new_mrns, ids_reserve(Patient, len(new_mrns)), strict=True))
    panel_ids = ids_reserve(Panel, len(records))

    sections: list[list[bytes]] = [[] for _ in TABLES]
    patients, panels, *rest = sections
    for record, panel_id in zip(records, panel_ids, strict=True):
        panel = b"%d" % panel_id
        patient_row, panel_row, *rows = record.sections
        if record.header["patient_id"] is None:
            mrn = record.header["patient"]["mrn"]
            patient = b"%d" % created[mrn]
            if mrn in unwritten:
                patients.append(patient_row.replace(_PATIENT, patient))
                unwritten.discard(mrn)
            panel_row = panel_row.replace(_PATIENT, patient)
        panels.append(panel_row.replace(_PANEL, panel))
        for table_rows, section in zip(rest, rows, strict=True):
            table_rows.append(section.replace(_PANEL, panel))

    counts = []
    for table, parts in zip(TABLES, sections, strict=True):
        data = b"".join(parts)
        for token, value in constants.items():
            data = data.replace(token, value)
        counts.append(rows_insert(apps.get_model(table.name), table.columns, data))
    return Stored(
        panel_ids=panel_ids,
        patients_created=len(new_mrns),
        results=counts[_RESULTS],
        findings=counts[_FINDINGS],
    )
