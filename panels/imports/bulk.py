"""The bulk path: many staged panels stored in one transaction without per-row ORM saves.

On PostgreSQL rows go in with ``COPY ... FROM STDIN`` and the ids that other rows point at
(patients, panels) are reserved from the tables' sequences first; elsewhere (the embedded
SQLite default) the same rows go through ``bulk_create``. Either way the caller holds the
transaction: everything or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from django.db import connection, models
from psycopg.types.json import Jsonb

Row = Sequence[Any]


def uses_copy() -> bool:
    return connection.vendor == "postgresql"


def ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys for ``model`` (caller is inside the storing transaction)."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if uses_copy():
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        # SQLite: one writer at a time inside the transaction, so max(id) cannot move under us.
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 - model table
        start = int(cursor.fetchone()[0]) + 1
        return list(range(start, start + count))


def rows_insert(model: type[models.Model], columns: Sequence[str], rows: Iterable[Row]) -> int:
    """Insert ``rows`` (tuples in ``columns`` order, Python values) into ``model``'s table."""
    if uses_copy():
        return _copy(model, columns, rows)
    return _bulk_create(model, columns, rows)


def _copy(model: type[models.Model], columns: Sequence[str], rows: Iterable[Row]) -> int:
    meta = model._meta
    json_columns = {
        index
        for index, name in enumerate(columns)
        if isinstance(meta.get_field(_field_name(meta, name)), models.JSONField)
    }
    quoted = ", ".join(f'"{column}"' for column in columns)
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f'COPY "{meta.db_table}" ({quoted}) FROM STDIN') as copy:
            if json_columns:
                for row in rows:
                    copy.write_row(
                        [
                            Jsonb(value, dumps=orjson.dumps) if i in json_columns else value
                            for i, value in enumerate(row)
                        ]
                    )
                    count += 1
            else:
                for row in rows:
                    copy.write_row(row)
                    count += 1
    return count


def _field_name(meta: Any, column: str) -> str:
    for field in meta.concrete_fields:
        if field.column == column:
            return str(field.name)
    raise LookupError(f"{meta.db_table} has no column {column}")


def _bulk_create(model: type[models.Model], columns: Sequence[str], rows: Iterable[Row]) -> int:
    meta = model._meta
    attnames = [next(f.attname for f in meta.concrete_fields if f.column == c) for c in columns]
    objects = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
    model._default_manager.bulk_create(objects, batch_size=500)
    return len(objects)
