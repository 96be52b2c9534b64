"""Model instances from a hand-written ``SELECT``: the columns of a model, named once from its
``_meta``, and the row turned back into an instance with the database backend's own converters
(the ones the ORM's compiler applies), so that the instance equals the ORM's read on PostgreSQL
and on SQLite.

For the few reads every request pays (the session, the logged-in user): compiling their
queryset costs several times what PostgreSQL takes to answer it. Anything else reads through the
ORM."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model

M = TypeVar("M", bound=Model)

_Converter = Callable[[Any, Any, Any], Any]


class PlainColumns(Generic[M]):
    """The concrete columns of ``model`` under table alias ``alias``: :attr:`sql` lists them for
    a ``SELECT``; :meth:`build` makes the instance from their values (``None`` when the primary
    key is ``NULL``: the unmatched side of a ``LEFT JOIN``)."""

    def __init__(self, model: type[M], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.fields = tuple(model._meta.concrete_fields)
        self.attnames = tuple(field.attname for field in self.fields)
        self.width = len(self.fields)
        self._pk_index = self.fields.index(model._meta.pk)
        self._converters: dict[str, tuple[tuple[Any, tuple[_Converter, ...]], ...]] = {}

    def sql(self, using: str = "default") -> str:
        quote = connections[using].ops.quote_name
        return ", ".join(f"{quote(self.alias)}.{quote(str(field.column))}" for field in self.fields)

    def build(self, values: Sequence[Any], using: str = "default") -> M | None:
        if values[self._pk_index] is None:
            return None
        converted = list(values)
        connection = connections[using]
        for index, (column, converters) in enumerate(self._converters_for(using)):
            for converter in converters:
                converted[index] = converter(converted[index], column, connection)
        return self.model.from_db(using, self.attnames, converted)

    def _converters_for(self, using: str) -> tuple[tuple[Any, tuple[_Converter, ...]], ...]:
        if using not in self._converters:
            connection = connections[using]
            entries = []
            for field in self.fields:
                column = field.get_col(self.alias)
                entries.append(
                    (
                        column,
                        tuple(
                            connection.ops.get_db_converters(column)
                            + column.get_db_converters(connection)
                        ),
                    )
                )
            self._converters[using] = tuple(entries)
        return self._converters[using]
