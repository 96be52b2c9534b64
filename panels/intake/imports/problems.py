"""An import job's stored problems (``ImportProblem`` rows) and the NUL-free text they and the
summary are stored as (PostgreSQL text cannot hold NUL; the archived file keeps it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from panels.intake.imports.staged import StagedProblem
from panels.models import (
    ImportJob,
    ImportProblem,
)


def problems_store(job: ImportJob, problems: Iterable[StagedProblem]) -> None:
    ImportProblem.objects.filter(job=job).delete()
    ImportProblem.objects.bulk_create(
        (
            ImportProblem(
                job=job,
                position=position,
                source=problem.source,
                row=problem.row,
                column=visible(problem.column or "")[:120],
                code=visible(problem.code)[:40],
                severity=problem.severity,
                message=visible(problem.message),
            )
            for position, problem in enumerate(problems, start=1)
        ),
        batch_size=1000,
    )


def visible(text: str) -> str:
    """PostgreSQL text cannot hold NUL: show it as ``\\x00`` (the archived file keeps it)."""
    return text.replace("\x00", "\\x00")


def visible_json(value: Any) -> Any:
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible(str(key)): visible_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [visible_json(item) for item in value]
    return value
