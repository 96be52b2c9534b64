"""Batches: FHS/BHS ... BTS/FTS around several MSH messages."""

from __future__ import annotations

from panels.intake.hl7.parse import parse_oru, read_batch, split_batch
from panels.intake.hl7.types import ProblemCode
from tests.ingest.hl7.helpers import fixture, oru


def test_split_batch_yields_each_message_without_the_envelope() -> None:
    messages = split_batch(fixture("batch.hl7"))

    assert len(messages) == 3
    parsed = [parse_oru(text) for text in messages]
    assert [p.control_id for p in parsed] == ["BATCH0001", "BATCH0002", "BATCH0003"]
    assert all(p.problems == () for p in parsed)
    assert [p.orders[0].observations[0].value_text for p in parsed] == ["3.1", "4.2", "5.3"]
    assert all(text.startswith("MSH|") and text.endswith("\r") for text in messages)
    assert read_batch(fixture("batch.hl7")).problems == ()


def test_bare_messages_one_after_another() -> None:
    text = oru(control_id="A") + oru(control_id="B")

    assert [parse_oru(m).control_id for m in split_batch(text)] == ["A", "B"]


def test_batch_count_mismatch_and_stray_segments_are_reported() -> None:
    text = fixture("batch.hl7").replace("BTS|3", "BTS|4") + "NTE|1||stray\r"

    batch = read_batch(text)

    assert len(batch.messages) == 3
    assert [(p.code, p.segment) for p in batch.problems] == [
        (ProblemCode.BATCH_STRUCTURE, "BTS"),
        (ProblemCode.BATCH_STRUCTURE, "NTE"),
    ]


def test_empty_and_garbage_batches() -> None:
    assert split_batch("") == []
    assert split_batch("not hl7 at all") == []
    assert read_batch("not hl7 at all").problems[0].code == ProblemCode.BATCH_STRUCTURE
