"""Import 10,000 panels (130,000 results) from one CSV through the real code path, and compare
with raw PostgreSQL COPY of the same rows into the same tables.

The import runs the services the Celery tasks run — archive, parse, validate, match, interpret
(preview), then re-read, check against the preview, interpret and store (commit) — in this
process, on a fresh PostgreSQL database. The COPY baseline then writes exactly the rows the
import stored (read back with COPY TO and deleted first) with raw COPY FROM, committed. Last,
what a worker does once the import is committed, outside the commit and not in its ratio: its
reports enqueued (here on an in-memory broker) and the panels' stored documents written
(``import_reports_request``); until then the API builds those panels' answers from the records.

    .venv/bin/python bench/import_csv.py                 # 10,000 panels x 13 results
    .venv/bin/python bench/import_csv.py --panels 2000

Figures behind design choices in the import (as recorded when each choice was made; this
bench is where to measure them again):

* pausing the cyclic garbage collector around bulk work
  (``panels.intake.imports.memory.gc_paused``) took validation of 10,000 panels from 3.5 s
  to 2.4 s:
  the collector had been a third of it;
* zstd level 1 compresses the staged records as small as zlib's fastest level in a sixth of
  the time (``panels/intake/imports/staged_file.py``);
* ``timezone.get_current_timezone()`` costs about 50 µs a call, so the import looks it up once
  (``panels/intake/imports/prepare.py``, ``panels/intake/imports/conclusions.py``);
* orjson makes the content hashes' JSON about ten times faster than ``json.dumps``, and is used
  whenever it gives the same bytes (``panels/submission.py``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "labpanel_bench_import"
ANALYTES = (
    ("SIL2R", "900", "U/mL"),
    ("IL12P70", "3.1", "pg/mL"),
    ("IFNG", "25.0", "pg/mL"),
    ("IL4", "<1.0", "pg/mL"),
    ("IL5", "1.9", "pg/mL"),
    ("IL10", "12.7", "pg/mL"),
    ("IL13", "2.2", "pg/mL"),
    ("IL1B", "7.4", "pg/mL"),
    ("IL6", "148.2", "pg/mL"),
    ("IL8", "30.5", "pg/mL"),
    ("IL17A", "<1.4", "pg/mL"),
    ("TNFA", "18.9", "pg/mL"),
    ("IL2", "2.0", "pg/mL"),
)
HEADER = (
    "accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
    "ordering_clinician,analyte,value,unit\n"
)


def _fresh_database() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def _csv(panels: int) -> bytes:
    out = io.StringIO()
    out.write(HEADER)
    for index in range(panels):
        patient = (
            f"IMP-{index:06d},IMP-MRN-{index:06d},Bench,Patient {index},1970-01-01,"
            f"{'female' if index % 2 else 'male'},plasma,"
            f"2026-11-20T08:{index % 60:02d}:00Z,dr.house"
        )
        for code, value, unit in ANALYTES:
            # vary the numbers a little so the engine sees many distinct values
            if value[0] not in "<>":
                value = f"{Decimal(value) + Decimal(index % 97) / 10}"
            out.write(f"{patient},{code},{value},{unit}\n")
    return out.getvalue().encode()


def _timed_steps() -> dict[str, float]:
    """Wrap what ``import_job_validate`` calls, summing the seconds each takes (exclusive of
    the ones nested in it: the staged rows are rendered inside the conclusions' callback)."""
    from panels.intake.imports import commit, validate

    spent: dict[str, float] = {}
    nested = {"active": 0.0}

    def timed(label: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            outer = nested["active"]
            nested["active"] = 0.0
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                spent[label] = spent.get(label, 0.0) + elapsed - nested["active"]
                nested["active"] = outer + elapsed

        return wrapper

    for name, label in (
        ("_parse", "parse the file"),
        ("stage", "stage: match analytes, units, values"),
        ("prepare", "prepare: patients, accessions, interpret"),
        ("conclude", "conclusions: findings, trend, summary"),
        ("staged_record", "staged records (JSON, zstd)"),
        ("basis_of", "basis hash (at validation and at commit)"),
    ):
        for module in (validate, commit):
            if hasattr(module, name):
                setattr(module, name, timed(label, getattr(module, name)))
    return spent


def _row_counts(cursor: Any) -> dict[str, tuple[int, int | None]]:
    """Rows in each table of the database, and the highest ``id`` where the table has an
    integer one."""
    cursor.execute(
        """SELECT t.tablename, EXISTS (SELECT 1 FROM information_schema.columns AS c
            WHERE c.table_schema = 'public' AND c.table_name = t.tablename
            AND c.column_name = 'id' AND c.data_type IN ('bigint', 'integer', 'smallint'))
        FROM pg_tables AS t WHERE t.schemaname = 'public'"""
    )
    counts = {}
    for table, has_id in cursor.fetchall():
        highest = "max(id)" if has_id else "NULL"
        cursor.execute(f'SELECT count(*), {highest} FROM "{table}"')  # noqa: S608 - pg_tables
        counts[table] = cursor.fetchone()
    return counts


def _rows_added(cursor: Any, before: dict[str, tuple[int, int | None]]) -> dict[str, str]:
    """The rows the import added, as a WHERE clause per table (the whole table where it was
    empty before, else the rows past its highest ``id`` then), referenced tables before the
    tables referencing them (the order COPY FROM writes them in). A table that held rows and
    has no ``id`` cannot tell the import's rows apart: this says so."""
    after = _row_counts(cursor)
    added: dict[str, str] = {}
    for table, (count, _) in sorted(after.items()):
        count_before, highest_before = before.get(table, (0, None))
        if count == count_before:
            continue
        if count_before == 0:
            added[table] = "TRUE"
        elif highest_before is not None:
            added[table] = f"id > {int(highest_before)}"
        else:
            raise SystemExit(f"{table} held rows before the import and has no id")
    cursor.execute(
        """SELECT child.relname, parent.relname FROM pg_constraint AS c
        JOIN pg_class AS child ON child.oid = c.conrelid
        JOIN pg_class AS parent ON parent.oid = c.confrelid
        WHERE c.contype = 'f' AND child.relname <> parent.relname"""
    )
    parents: dict[str, set[str]] = {table: set() for table in added}
    for child, parent in cursor.fetchall():
        if child in parents and parent in parents:
            parents[child].add(parent)
    ordered: dict[str, str] = {}
    while parents:
        ready = sorted(table for table, needs in parents.items() if not needs - set(ordered))
        if not ready:  # pragma: no cover - a cycle of foreign keys
            raise SystemExit(f"foreign keys in a cycle: {sorted(parents)}")
        for table in ready:
            ordered[table] = added[table]
            del parents[table]
    return ordered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--panels", type=int, default=10_000)
    parser.add_argument("--profile", help="write cProfile stats of validate/commit to this prefix")
    args = parser.parse_args()

    _fresh_database()
    media = tempfile.mkdtemp(prefix="labpanel-bench-media-")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "labpanel.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
            "CELERY_BROKER_URL": "memory://",
            "LABPANEL_MEDIA_ROOT": media,
            "DJANGO_SECRET_KEY": "bench-only",
            "DJANGO_DEBUG": "false",
        }
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connection, transaction

    from labpanel.accounts.models import Lab, Role, StaffMember
    from panels.intake.imports.commit import import_job_commit
    from panels.intake.imports.services import import_job_commit_request, import_job_create
    from panels.intake.imports.validate import import_job_validate
    from panels.models import ImportJob, Result
    from tests.factories import make_lab, make_staff

    call_command("migrate", verbosity=0)
    call_command("seed_reference_data", verbosity=0)
    lab = make_lab(name="Bench Lab")
    technician = make_staff(username="bench.tech", lab=lab, role=Role.TECHNICIAN)
    make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN)
    del StaffMember, Lab

    steps = _timed_steps()
    content = _csv(args.panels)
    results = args.panels * len(ANALYTES)
    print(f"CSV: {args.panels:,} panels, {results:,} results, {len(content) / 1e6:.1f} MB")

    started = time.perf_counter()
    job = import_job_create(
        user=technician.user, upload=SimpleUploadedFile("bench.csv", content, "text/csv")
    )
    created = time.perf_counter()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    import_job_validate(job_id=job.pk)
    validated = time.perf_counter()
    if profiler:
        profiler.disable()
        profiler.dump_stats(f"{args.profile}.validate")
    job.refresh_from_db()
    if job.status != "preview":
        print("validation failed:", job.status_message, list(job.problems.values()[:5]))
        raise SystemExit(1)
    import_job_commit_request(job=job, user=technician.user)
    with connection.cursor() as cursor:
        rows_before = _row_counts(cursor)  # what the commit adds is the baseline's
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    commit_started = time.perf_counter()
    import_job_commit(job_id=job.pk)
    committed = time.perf_counter()
    if profiler:
        profiler.disable()
        profiler.dump_stats(f"{args.profile}.commit")
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == "committed", job.status_message
    assert Result.objects.count() == results
    validate_s, commit_s = validated - created, committed - commit_started
    total_s = committed - started

    # COPY baseline: exactly the rows the import's commit stored (every table it added rows
    # to: patients, panels, results, findings, reports, inbox entries, events, import links...),
    # read back with COPY TO, deleted (triggers off: the event record refuses deletes), then
    # written again with raw COPY FROM in one transaction, parents first — timed up to and
    # including the commit, like the import.
    dumps: dict[str, bytes] = {}
    with connection.cursor() as cursor:
        tables = _rows_added(cursor, rows_before)
        print(f"tables the commit added rows to: {', '.join(tables)}")
        raw = cursor.cursor
        for table, where in tables.items():
            buffer = io.BytesIO()
            query = f"COPY (SELECT * FROM {table} WHERE {where}) TO STDOUT"  # noqa: S608
            with raw.copy(query) as copy:
                for chunk in copy:
                    buffer.write(chunk)
            dumps[table] = buffer.getvalue()
        cursor.execute("SET session_replication_role = replica")
        for table, where in reversed(tables.items()):
            cursor.execute(f"DELETE FROM {table} WHERE {where}")  # noqa: S608 - names, ids
        cursor.execute("SET session_replication_role = DEFAULT")
    copy_started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        for table in tables:
            with raw.copy(f"COPY {table} FROM STDIN") as copy:
                copy.write(dumps[table])
    copy_s = time.perf_counter() - copy_started
    assert Result.objects.count() == results
    sizes = ", ".join(f"{table} {len(data) / 1e6:.1f} MB" for table, data in dumps.items())
    print(f"COPY baseline rows as text: {sizes}")
    copy_rate = results / copy_s
    print()
    print(f"{'step':<44}{'seconds':>10}{'results/s':>14}")
    print(f"{'upload + archive (SHA-256)':<44}{created - started:>10.2f}{'':>14}")
    rows = [
        ("validate: parse, match, interpret, preview", validate_s),
        ("commit: check, store (COPY)", commit_s),
    ]
    for label, seconds in rows:
        print(f"{label:<44}{seconds:>10.2f}{results / seconds:>14,.0f}")
    print(f"{'whole import (upload to committed)':<44}{total_s:>10.2f}{results / total_s:>14,.0f}")
    print(f"{'raw COPY of the same stored rows':<44}{copy_s:>10.2f}{copy_rate:>14,.0f}")
    print()
    print("where validation's time goes (the services' collaborators, timed in place):")
    for label, seconds in steps.items():
        print(f"  {label:<42}{seconds:>10.2f}")
    print()
    from panels.intake.imports.dispatch import import_reports_request

    after_started = time.perf_counter()
    import_reports_request(job_id=job.pk)
    after_s = time.perf_counter() - after_started
    print(f"after the commit: reports enqueued, documents written  {after_s:>8.2f} s")
    print()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mb:,.0f} MB")
    print(f"commit / COPY rate ratio: {results / commit_s / copy_rate:.2f}  (target >= 0.50)")
    print(f"whole import / COPY rate ratio: {results / total_s / copy_rate:.2f}")


if __name__ == "__main__":
    main()
