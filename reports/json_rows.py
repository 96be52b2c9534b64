"""Model rows written as JSON by PostgreSQL, and the model instances rebuilt from them.

``report_source_get`` (``reports.selectors``) reads everything a report shows in one statement
that answers one JSON value. This module owns both ends of a row's trip through that JSON:
``row_json_sql`` writes one row of a model as a JSON object of every concrete column (keyed by
``attname``), and ``row_instance`` rebuilds the instance the ORM would have read, value for
value:

- decimals are written as text and parsed with ``Decimal`` (never through a float), keeping the
  column's scale exactly as the ORM reads it (``148.200000``);
- date-times are written in ISO 8601 with their offset and parsed exactly, in UTC like the
  ORM's; dates and UUIDs are parsed from their text;
- JSON columns arrive as the JSON they hold and are kept as decoded (Django's decoder gives the
  same values); everything else (text, numbers, booleans, foreign keys) is taken as it is;
- the instance is made as ``Model.from_db`` makes it, without running ``Model.__init__``
  (``labpanel.db.instance_from_db``: its per-field ``setattr`` cost a third of a report's
  non-drawing work), unless a ``pre_init`` or ``post_init`` receiver must see it made.

A column of a type not listed here is refused when the SQL is made, not misread later.

Such a statement is planned once per database session, not for every report: the connection
binds parameters on the server (``labpanel.settings``), so psycopg prepares a statement it has
run a few times (its ``prepare_threshold``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from django.db import models
from django.db.models.fields.related import RelatedField

from labpanel.db import instance_from_db

ModelT = TypeVar("ModelT", bound=models.Model)

# The JSON object of one row must fit json_build_object's argument limit (100: 50 columns).
_MAX_COLUMNS = 50


def row_datetime(text: str) -> datetime:
    """A date-time PostgreSQL wrote in JSON (ISO 8601, its offset), in UTC as the ORM reads it."""
    return datetime.fromisoformat(text).astimezone(UTC)


_PASSED = object()
_CONVERTERS: dict[str, Callable[[Any], Any] | object] = {
    "AutoField": _PASSED,
    "BigAutoField": _PASSED,
    "SmallAutoField": _PASSED,
    "IntegerField": _PASSED,
    "BigIntegerField": _PASSED,
    "SmallIntegerField": _PASSED,
    "PositiveIntegerField": _PASSED,
    "PositiveBigIntegerField": _PASSED,
    "PositiveSmallIntegerField": _PASSED,
    "BooleanField": _PASSED,
    "CharField": _PASSED,
    "TextField": _PASSED,
    "EmailField": _PASSED,
    "SlugField": _PASSED,
    "URLField": _PASSED,
    "FileField": _PASSED,
    "JSONField": _PASSED,
    "DecimalField": Decimal,
    "DateTimeField": row_datetime,
    "DateField": date.fromisoformat,
    "UUIDField": uuid.UUID,
}
_AS_TEXT = frozenset({"DecimalField"})
"""Columns written as JSON strings: a JSON number would be read back through a float."""


class UnreadableColumn(TypeError):
    """A model read by ``reports.selectors.report_source_sql`` has a column this module cannot
    rebuild exactly (a type with no converter, or too many columns for one ``json_build_object``).
    Raised when the statement is first built, so that a model change fails the render tests
    (tests/reports/test_render_statements.py) instead of rebuilding a value wrongly."""


def _column_type(field: models.Field[Any, Any]) -> str:
    if isinstance(field, RelatedField):
        return _column_type(field.target_field)
    kind = field.get_internal_type()
    if kind not in _CONVERTERS:
        raise UnreadableColumn(f"{field.model.__name__}.{field.name}: no converter for {kind}")
    return kind


@cache
def _layout(model: type[models.Model]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The attnames of ``model``'s concrete columns in the ORM's order, and each one's
    converter (``_PASSED``: taken as it is)."""
    fields = model._meta.concrete_fields
    if len(fields) > _MAX_COLUMNS:
        raise UnreadableColumn(f"{model.__name__} has more than {_MAX_COLUMNS} columns")
    return (
        tuple(field.attname for field in fields),
        tuple(_CONVERTERS[_column_type(field)] for field in fields),
    )


@cache
def row_json_sql(model: type[models.Model], alias: str) -> str:
    """The SQL expression writing the row of ``model`` named ``alias`` in the query as one JSON
    object: every concrete column by its ``attname`` (decimals as text)."""
    pairs = []
    for field in model._meta.concrete_fields:
        column = f'"{alias}"."{field.column}"'
        if _column_type(field) in _AS_TEXT:
            column += "::text"
        pairs.append(f"'{field.attname}', {column}")
    return f"json_build_object({', '.join(pairs)})"


def row_instance(model: type[ModelT], row: Mapping[str, Any], *, db: str = "default") -> ModelT:
    """The instance of ``model`` the ORM would have read for ``row`` (from ``row_json_sql``)."""
    names, converters = _layout(model)
    values = []
    for name, convert in zip(names, converters, strict=True):
        value = row[name]
        if value is not None and convert is not _PASSED:
            value = convert(value)
        values.append(value)
    instance = instance_from_db(model, db, names, values)  # without Model.__init__
    return model.from_db(db, names, values) if instance is None else instance


def related_cache(instance: models.Model, name: str, value: models.Model | None) -> None:
    """Set ``instance``'s related object ``name`` as ``select_related`` would (no query later)."""
    field = instance._meta.get_field(name)
    field.set_cached_value(instance, value)  # type: ignore[union-attr]


def prefetched(instance: models.Model, name: str, rows: list[ModelT]) -> None:
    """Set ``instance``'s reverse relation ``name`` (``instance.<name>.all()``) to ``rows``, as
    ``prefetch_related`` would; each row's own link back is cached too."""
    manager = getattr(instance, name)
    queryset = manager.get_queryset()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    remote = manager.field  # the foreign key on the rows' model
    for row in rows:
        remote.set_cached_value(row, instance)
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    instance._prefetched_objects_cache[name] = queryset  # type: ignore[attr-defined]
