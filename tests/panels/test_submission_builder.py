"""The one submission builder (panels.submission): every intake path builds through it, so its
shared checks hold for all of them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from panels.notation import parse_reported_value
from panels.submission import (
    COLLECTED_BEFORE_BIRTH,
    DUPLICATE_ANALYTE,
    PanelSubmission,
    PatientData,
    ResultData,
    SubmissionInvalid,
    panel_submission_build,
)
from reference_ranges.models import Analyte


def _result(code: str, value: str = "12.4") -> ResultData:
    return ResultData(
        analyte=Analyte(code=code, short_name=code),
        analyte_as_received=code,
        raw_value=value,
        reported=parse_reported_value(value),
        unit="pg/mL",
    )


def _build(*, birth_date: date | None, results: list[ResultData]) -> PanelSubmission:
    return panel_submission_build(
        accession="A-1",
        patient=PatientData(
            mrn="M-1", family_name="Doe", given_name="", birth_date=birth_date, sex="F"
        ),
        specimen_type="plasma",
        collected_at=datetime(2026, 11, 20, 8, 30, tzinfo=UTC),
        ordering_clinician=User(username="dr.house"),
        results=results,
        clinical={"temperature_c": Decimal("39.2")},
    )


def test_a_valid_submission_is_built_with_what_was_given() -> None:
    submission = _build(birth_date=date(1980, 4, 2), results=[_result("IL6"), _result("TNFA")])

    assert [r.analyte.code for r in submission.results] == ["IL6", "TNFA"]
    assert submission.clinical == {"temperature_c": Decimal("39.2")}


def test_collected_before_birth_and_repeated_analytes_are_refused_with_every_reason() -> None:
    with pytest.raises(SubmissionInvalid) as refused:
        _build(birth_date=date(2026, 11, 21), results=[_result("IL6"), _result("IL6", "3")])

    problems = {(p.field, p.code) for p in refused.value.problems}
    assert problems == {
        ("specimen.collected_at", COLLECTED_BEFORE_BIRTH),
        ("results[1].analyte", DUPLICATE_ANALYTE),
    }
