"""The staged rows' text form: what is rendered reads back unchanged, and values keep their
notation exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labpanel import copy_text
from panels.notation import parse_reported_value

# every character PostgreSQL text can hold (no NUL, no lone surrogates)
TEXTS = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


@given(st.lists(st.one_of(st.none(), TEXTS), min_size=1, max_size=6))
def test_rendered_rows_read_back_unchanged(values: list[str | None]) -> None:
    rendered = copy_text.row(values)

    assert copy_text.decode_rows(rendered) == [values]
    # no raw control byte survives: no value can end a column or a row early
    assert not any(char < " " and char not in "\t\n" for char in rendered)
    assert rendered.count("\n") == 1
    assert rendered.count("\t") == len(values) - 1


def test_a_value_spelling_null_is_text_not_null() -> None:
    assert copy_text.decode_rows(copy_text.row(["\\N", None])) == [["\\N", None]]


def test_nul_is_refused_not_altered() -> None:
    with pytest.raises(ValueError, match="NUL"):
        copy_text.text("a\x00b")


@given(
    st.sampled_from(["", "<", ">", "<=", ">=", "≤", "≥"]),
    st.integers(min_value=0, max_value=10**14 - 1),
    st.integers(min_value=0, max_value=6),
    st.integers(min_value=0, max_value=3),
)
def test_a_reported_value_text_is_its_number_in_fixed_point(
    comparator: str, number: int, places: int, leading_zeros: int
) -> None:
    digits = str(number).rjust(places + 1, "0")
    written = "0" * leading_zeros + (f"{digits[:-places]}.{digits[-places:]}" if places else digits)

    reported = parse_reported_value(f"{comparator}{written}")

    assert reported.text == f"{reported.comparator.value}{reported.value:f}"
    assert reported.value == Decimal(written)
    assert reported.scale == places


JSON_TEXT = st.text(st.characters(exclude_categories=["Cs"]))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_content_hashes_are_made_from_the_same_bytes_as_before(content: object) -> None:
    # stored panels' content_sha256 were made with json.dumps: a resend must still match them
    import json

    from panels.submission import canonical_json

    assert (
        canonical_json(content)
        == json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    )


def test_a_staged_file_with_more_panels_or_patients_than_validated_is_refused() -> None:
    from panels.intake.imports.staged_file import StagedFileError
    from panels.intake.imports.staged_rows import CommitFacts
    from panels.intake.imports.store import _table_batches

    record = {"patient_id": None, "patient": {"mrn": "NEW-1"}}
    facts = CommitFacts(1, 1, 1, "v1", 1, "2026-11-26T00:00:00+00:00")

    with pytest.raises(StagedFileError, match="patient it was not validated for"):
        list(_table_batches([record], iter([(7, 8)]), {}, facts))
    with pytest.raises(StagedFileError, match="more panels than were validated"):
        list(_table_batches([record], iter([]), {"NEW-1": 3}, facts))
