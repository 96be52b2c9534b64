"""Bulk writing without per-row ORM saves: reserve primary keys, then COPY rows into a table.

Generic (any model, any columns): ``ids_reserve`` takes ``count`` ids from a table's sequence so
that rows can point at each other before any is written; ``rows_insert`` stores rows given as
PostgreSQL COPY text (``labpanel.copy_text``) with ``COPY ... FROM STDIN``, or, elsewhere (the
embedded SQLite default), the same rows through ``bulk_create``. The caller holds the
transaction: everything or nothing. Used by the bulk import (``panels.intake.imports.store``),
amendments, and ``reports.bulk`` (a report's id is reserved by reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from django.db import connection, models

from labpanel import copy_text


def uses_copy() -> bool:
    """Whether rows go in with COPY (PostgreSQL) rather than ``bulk_create``."""
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


def rows_insert(model: type[models.Model], columns: Sequence[str], data: bytes) -> int:
    """Insert the rows of ``data`` (PostgreSQL COPY text, ``columns`` in order) into
    ``model``'s table; the number of rows."""
    if not data:
        return 0
    if uses_copy():
        quoted = ", ".join(f'"{column}"' for column in columns)
        # psycopg's COPY is used directly: wrap its errors as Django's (OperationalError when
        # the connection is lost), which also marks the connection as failed so that it is
        # checked, and replaced, before its next use.
        with (
            connection.wrap_database_errors,
            connection.cursor() as cursor,
            cursor.cursor.copy(f'COPY "{model._meta.db_table}" ({quoted}) FROM STDIN') as copy,
        ):
            copy.write(data)
        return data.count(b"\n")
    return _bulk_create(model, columns, copy_text.decode_rows(data.decode()))


def _bulk_create(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[str | None]]
) -> int:
    """The same rows through the ORM (the embedded SQLite default): each text converted by its
    field, as PostgreSQL would read it."""
    meta = model._meta
    fields = [next(f for f in meta.concrete_fields if f.column == c) for c in columns]

    def value(field: models.Field[Any, Any], text: str | None) -> Any:
        if text is None:
            return None
        if isinstance(field, models.JSONField):
            return orjson.loads(text)
        if isinstance(field, models.ForeignKey):
            return field.target_field.to_python(text)  # an id, or a key (FindingText)
        return field.to_python(text)

    objects = [
        model(**{f.attname: value(f, text) for f, text in zip(fields, row, strict=True)})
        for row in rows
    ]
    model._default_manager.bulk_create(objects, batch_size=500)
    return len(objects)
