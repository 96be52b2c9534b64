"""Querysets compiled once per process: a page's queries whose SQL is the same on every
request but for values that are part of the key (the user's scope, a date, a page number) are
compiled by Django's ORM the first time only; building and compiling a queryset costs a page
more than running it (``bench/review_pages.py``: about 2 to 5 ms a query on a loaded machine,
against well under 1 ms in PostgreSQL).

Only on PostgreSQL, where a raw row is what the queryset's ``values_list`` gives (psycopg
returns aware datetimes, booleans and ints as they are; Django applies no converter to these
columns there); on another database (the embedded SQLite mode) the queryset runs as it is.
tests/reports/test_inbox.py checks the rows are the ORM's. A key must be hashable and must
determine the SQL and its parameters entirely (with the database alias and the current time
zone, which this module adds); nothing a user typed belongs in it: a search is compiled with
stand-ins for its words (``marked``), whose parameters are then replaced by the words'
(``substitute``), so that the words are not kept beyond their request.

A query without ``substitute`` (its values all from its key, none typed by a user) is kept with
its values written into it as literals (``compose_sql``, psycopg's own quoting) and sent with no
parameters: prepared once per connection (psycopg's ``prepare_threshold``), it is then planned
once, where PostgreSQL plans the same statement with parameters again at every execution while
its custom plans look cheaper than a generic one (``bench/review_pages.py``: the planning cost
the inbox's page more than running it)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone

_EMPTY: tuple[str, tuple[Any, ...] | None] = ("", ())


class CompiledQueries:
    """Rows of querysets, each compiled once per key (at most ``size`` keys kept: past that the
    cache starts again, a bound rather than an eviction policy)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._compiled: dict[Hashable, tuple[str, tuple[Any, ...] | None]] = {}

    def rows(
        self,
        key: Hashable,
        build: Callable[[], QuerySet[Any]],
        *,
        marked: Callable[[], QuerySet[Any]] | None = None,
        substitute: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None,
    ) -> list[tuple[Any, ...]]:
        """The rows of ``build()`` (a ``values_list`` queryset), the key telling its SQL. With
        ``marked`` and ``substitute``: the SQL is ``marked()``'s (the same queryset with
        stand-ins for values the key leaves out), and its parameters, through ``substitute``,
        are ``build()``'s."""
        alias = "default"
        connection = connections[alias]
        if connection.vendor != "postgresql":
            return list(build())
        full_key = (key, alias, timezone.get_current_timezone_name())
        compiled = self._compiled.get(full_key)
        if compiled is None:
            queryset = (marked or build)()
            if queryset.db != alias:
                return list(queryset)

            def compile_() -> tuple[str, tuple[Any, ...] | None]:
                query_sql, query_params = queryset.query.sql_with_params()
                if substitute is None:  # None: the statement is sent as it is, no placeholder
                    composed: str = connection.ops.compose_sql(  # type: ignore[attr-defined]
                        query_sql, query_params
                    )
                    return composed, None
                return query_sql, tuple(query_params)

            compiled = self._keep(full_key, compile_)
        if compiled is _EMPTY:
            return []
        sql, params = compiled
        if substitute is not None and params is not None:
            params = substitute(params)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found: list[tuple[Any, ...]] = cursor.fetchall()
        return found

    def sql(self, key: Hashable, build: Callable[[], QuerySet[Any]]) -> tuple[str, tuple[Any, ...]]:
        """The SQL and parameters of ``build()``, compiled the first time only, for a statement
        that embeds it (raw SQL with the queryset as a subquery: its parameters are placed
        with it). The key tells them entirely, as for :meth:`rows`. Raises ``EmptyResultSet``
        as Django's compiler does for a queryset that matches nothing."""
        full_key = ("sql", key, timezone.get_current_timezone_name())
        compiled = self._compiled.get(full_key)
        if compiled is None:

            def compile_() -> tuple[str, tuple[Any, ...] | None]:
                query_sql, query_params = build().query.sql_with_params()
                return query_sql, tuple(query_params)

            compiled = self._keep(full_key, compile_)
        if compiled is _EMPTY:
            raise EmptyResultSet
        sql, params = compiled
        return sql, params or ()

    def _keep(
        self, full_key: Hashable, compile_: Callable[[], tuple[str, tuple[Any, ...] | None]]
    ) -> tuple[str, tuple[Any, ...] | None]:
        """``compile_()`` kept under ``full_key`` (``_EMPTY`` for a queryset that matches
        nothing: Django runs no query either)."""
        try:
            compiled = compile_()
        except EmptyResultSet:
            compiled = _EMPTY
        if len(self._compiled) >= self.size:
            self._compiled.clear()
        self._compiled[full_key] = compiled
        return compiled

    def clear(self) -> None:
        self._compiled.clear()
