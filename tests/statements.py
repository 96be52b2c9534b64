"""The statements a block sends to the database, with their parameters, for tests that check
how a query is sent (its values written in, or as parameters)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection


@contextmanager
def statements_sent(containing: str) -> Iterator[list[tuple[str, Any]]]:
    """Inside the block, every statement whose SQL contains ``containing`` is appended, with
    its parameters (``None``: sent without any), to the list yielded."""
    sent: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if containing in sql:
            sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield sent
