"""Property tests: parsing and decoding never raise, whatever arrives."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panels.intake.hl7.ack import ack_code_of, build_ack
from panels.intake.hl7.mllp import MllpDecoder, MllpDiscard, MllpFrame, frame
from panels.intake.hl7.parse import parse_oru, split_batch
from panels.intake.hl7.types import OruParse
from tests.ingest.hl7.helpers import fixture, fixture_names

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = [
    fixture(name)
    for name in (
        "oru_r01_single.hl7",
        "oru_r01_two_orders.hl7",
        "oru_r01_two_patients.hl7",
        "oru_r01_escapes.hl7",
        "oru_r01_value_forms.hl7",
        "oru_r01_custom_delimiters.hl7",
    )
]
HL7ISH = st.text(alphabet='MSHPIDOBXR|^~\\&\r\n0123456789.<>-,eE "', max_size=300)
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def _acknowledge(parsed: OruParse, raw: str) -> None:
    """Whatever parse returned can be acknowledged, and the ACK reads back."""
    ack = build_ack(parsed, code=parsed.ack_code, problems=parsed.problems, now=NOW,
                    control_id="FUZZ")  # fmt: skip
    assert ack_code_of(ack) == parsed.ack_code
    assert ack_code_of(build_ack(raw, code="AR", now=NOW, control_id="FUZZ")) == "AR"


def test_valid_fixtures_are_clean() -> None:
    assert [parse_oru(text).problems for text in VALID] == [()] * len(VALID)
    assert len(fixture_names()) >= 10


@FUZZ
@given(st.text(max_size=500))
def test_random_text_never_raises(text: str) -> None:
    parsed = parse_oru(text)

    assert parsed.problems  # random text is never a clean ORU
    _acknowledge(parsed, text)
    split_batch(text)


@FUZZ
@given(HL7ISH.map(lambda tail: "MSH|^~\\&|" + tail))
def test_random_hl7ish_text_never_raises(text: str) -> None:
    _acknowledge(parse_oru(text), text)


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_truncated_messages(valid: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(valid) - 1))
    text = valid[:cut]

    parsed = parse_oru(text)

    _acknowledge(parsed, text)
    if "OBX" not in text:
        assert parsed.problems  # without a result it is never accepted


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_a_deleted_field_separator_is_never_silently_accepted_as_is(
    valid: str, data: st.DataObject
) -> None:
    separator = valid[3]
    positions = [i for i, char in enumerate(valid) if char == separator]
    position = data.draw(st.sampled_from(positions))
    text = valid[:position] + valid[position + 1 :]

    parsed = parse_oru(text)

    _acknowledge(parsed, text)
    if not parsed.problems:
        # a shift can go unnoticed only where nothing that is stored changes
        assert _stored(parsed) == _stored(parse_oru(valid))


def _stored(parsed: OruParse) -> list[tuple[object, ...]]:
    return [
        (
            order.accession,
            order.collected_at,
            order.patient.mrn,
            order.patient.family_name,
            order.patient.given_name,
            order.patient.birth_date,
            order.patient.sex,
            tuple((o.code, o.value_text, o.unit, o.status) for o in order.observations),
        )
        for order in parsed.orders
    ]


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_inserted_line_breaks(valid: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(4, len(valid) - 1))
    breaker = data.draw(st.sampled_from(["\r", "\n", "\r\n"]))
    text = valid[:position] + breaker + valid[position:]

    parsed = parse_oru(text)

    _acknowledge(parsed, text)
    if "\r" not in (valid[position - 1], valid[position]):
        # a break inside a segment leaves a fragment that is no segment of an ORU^R01
        assert parsed.ack_code != "AA"


@FUZZ
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 10_000), st.characters()),
                                        max_size=5))  # fmt: skip
def test_random_character_substitutions(valid: str, edits: list[tuple[int, str]]) -> None:
    chars = list(valid)
    for position, char in edits:
        chars[position % len(chars)] = char
    text = "".join(chars)

    _acknowledge(parse_oru(text), text)


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=20), st.integers(1, 300))
def test_decoder_never_raises_on_random_bytes(chunks: list[bytes], limit: int) -> None:
    decoder = MllpDecoder(max_message_size=limit)
    for chunk in chunks:
        for event in decoder.feed(chunk):
            if isinstance(event, MllpFrame):
                assert len(event.payload) <= limit
        assert decoder.buffered <= limit + 1
    decoder.finish()


@FUZZ
@given(
    # text a sender can encode: no MLLP block characters, no lone surrogates
    st.lists(st.text(alphabet=st.characters(blacklist_characters="\x0b\x1c",
                                            blacklist_categories=["Cs"]), max_size=80),
             min_size=1, max_size=8),
    st.binary(max_size=30).filter(lambda junk: b"\x0b" not in junk),
    st.data(),
)  # fmt: skip
def test_decoder_recovers_every_frame_however_the_stream_is_cut(
    messages: list[str], junk: bytes, data: st.DataObject
) -> None:
    stream = junk + b"".join(frame(message) for message in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = MllpDecoder()
    events = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        events += decoder.feed(stream[start:end])

    assert [e.payload for e in events if isinstance(e, MllpFrame)] == [
        message.encode() for message in messages
    ]
    assert sum(e.byte_count for e in events if isinstance(e, MllpDiscard)) == len(junk)
